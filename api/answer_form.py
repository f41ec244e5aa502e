"""The inbox page's answer form, made from a question's JSON schema: an enum at the top level
becomes decision buttons, a nested one a choice, strings inputs or text areas, numbers number
inputs, booleans checkboxes; and the posted form read back into the answer's value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.datastructures import FormData

Kind = Literal["decision", "choice", "text", "textarea", "number", "integer", "checkbox", "group"]
# A string that may be this long gets a text area, not a one-line input.
LONG_TEXT = 200


@dataclass
class Field:
    path: str  # dotted: `labels.3`
    label: str
    kind: Kind
    required: bool = False
    options: list[str] = field(default_factory=list)
    default: Any = None
    description: str | None = None
    children: list[Field] = field(default_factory=list)
    error: str | None = None


def form_fields(schema: dict[str, Any], defaults: dict[str, Any] | None = None) -> list[Field]:
    """The form's fields, decisions first; `defaults` pre-fills nested choices (a proposed
    label)."""
    fields = _object_fields(schema, schema, "", defaults or {}, top=True)
    return sorted(fields, key=lambda f: f.kind != "decision")


def read_form(fields: list[Field], form: FormData) -> dict[str, Any]:
    """The answer's value: blank optional fields left out, numbers as numbers. Whatever does
    not fit is left for the job's own validation to refuse, with its message."""
    value: dict[str, Any] = {}
    for item in fields:
        if item.kind == "group":
            value[item.path.rsplit(".", 1)[-1]] = read_form(item.children, form)
            continue
        raw = form.get(item.path)
        name = item.path.rsplit(".", 1)[-1]
        if item.kind == "checkbox":
            value[name] = raw is not None
            continue
        if not isinstance(raw, str) or (raw == "" and not item.required):
            continue
        value[name] = _typed(raw, item.kind)
    return value


def place_errors(fields: list[Field], errors: list[dict[str, Any]]) -> list[str]:
    """Put each validation error beside its field; the ones no field owns are returned."""
    by_path = {f.path: f for f in _flatten(fields)}
    loose: list[str] = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "value")]
        target = by_path.get(".".join(loc))
        message = str(error.get("msg", "invalid"))
        if target is None:
            loose.append(message)
        else:
            target.error = message
    return loose


def _object_fields(
    root: dict[str, Any], schema: dict[str, Any], prefix: str, defaults: dict[str, Any], top: bool
) -> list[Field]:
    schema = _resolve(root, schema)
    required = set(schema.get("required", []))
    fields: list[Field] = []
    decided = False
    for name, raw in (schema.get("properties") or {}).items():
        prop, optional = _unwrap(root, raw)
        path = f"{prefix}{name}"
        label = str(prop.get("title") or raw.get("title") or name.replace("_", " ")).capitalize()
        base = Field(
            path=path,
            label=label,
            kind="text",
            required=name in required and not optional,
            default=defaults.get(name, prop.get("default")),
            description=prop.get("description") or raw.get("description"),
        )
        if "enum" in prop:
            base.options = [str(v) for v in prop["enum"]]
            base.kind = "decision" if top and not decided else "choice"
            decided = decided or base.kind == "decision"
        elif prop.get("type") == "object":
            given = defaults.get(name)
            nested: dict[str, Any] = given if isinstance(given, dict) else {}
            base.kind = "group"
            base.children = _object_fields(root, _keyed(prop, nested), f"{path}.", nested, False)
        elif prop.get("type") == "boolean":
            base.kind = "checkbox"
        elif prop.get("type") in ("integer", "number"):
            base.kind = prop["type"]
        elif prop.get("maxLength", LONG_TEXT + 1) > LONG_TEXT:
            base.kind = "textarea"
        fields.append(base)
    return fields


def _keyed(prop: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """An object whose keys are listed (`propertyNames`) or proposed (`defaults`) rather than
    declared, such as one label per item: as if each key were a declared property."""
    if prop.get("properties") or not isinstance(prop.get("additionalProperties"), dict):
        return prop
    names = prop.get("propertyNames") or {}
    keys = [names["const"]] if "const" in names else list(names.get("enum") or defaults)
    value = prop["additionalProperties"]
    return {**prop, "properties": {str(k): value for k in keys}, "required": [str(k) for k in keys]}


def _unwrap(root: dict[str, Any], prop: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The property's own schema, and whether null is allowed (`X | None` in pydantic)."""
    options = prop.get("anyOf")
    if options:
        kept = [o for o in options if o.get("type") != "null"]
        if len(kept) == 1:
            return _resolve(root, kept[0]), len(kept) < len(options)
    return _resolve(root, prop), False


def _resolve(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part, {}) if isinstance(target, dict) else {}
    return target if isinstance(target, dict) else {}


def _typed(raw: str, kind: Kind) -> Any:
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        return raw  # the job's validation says what is wrong with it
    return raw


def _flatten(fields: list[Field]) -> list[Field]:
    flat: list[Field] = []
    for item in fields:
        flat.append(item)
        flat += _flatten(item.children)
    return flat
