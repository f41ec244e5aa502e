"""Checking a model's JSON against a schema, and the offline model's schema-shaped answers."""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator

# A repair prompt quotes at most this many errors.
MAX_ERRORS = 10
# Sentences, or lines (a heading such as "Document a.txt:" is not part of the next sentence).
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


def check(raw: str, schema: dict[str, Any]) -> tuple[Any, list[str]]:
    """(data, []) when `raw` is JSON that fits `schema`, else (None, what is wrong)."""
    try:
        data = json.loads(_unfenced(raw))
    except json.JSONDecodeError as err:
        return None, [f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"]
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return data, []
    return None, [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}"
        for e in errors[:MAX_ERRORS]
    ]


def _unfenced(raw: str) -> str:
    """Models often wrap JSON in a ```json fence even when asked not to."""
    text = raw.strip()
    if text.startswith("```"):
        text = re.sub(r"^```[a-zA-Z]*\s*|\s*```$", "", text)
    return text


def offline_instance(schema: dict[str, Any], text: str) -> Any:
    """A value that fits `schema`, filled from `text` where a simple reading can: the offline
    model's structured answer. Deterministic."""
    kind = schema.get("type")
    if schema.get("enum"):
        # The first option the text names, as a keyword reader would; else the first.
        named = [v for v in schema["enum"] if isinstance(v, str) and v.lower() in text.lower()]
        return (named or schema["enum"])[0]
    if "const" in schema:
        return schema["const"]
    if kind == "object" or "properties" in schema:
        properties: dict[str, Any] = schema.get("properties", {})
        return {
            name: offline_instance(sub, _near(name, text) or text)
            for name, sub in properties.items()
        }
    if kind == "array":
        return []
    if kind in ("number", "integer"):
        found = re.search(r"-?\d+(?:\.\d+)?", text)
        number = float(found.group(0)) if found else 0
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    first = _SENTENCES.split(text.strip(), maxsplit=1)[0]
    limit = schema.get("maxLength")
    return first[: int(limit)] if isinstance(limit, int) else first


def _near(name: str, text: str) -> str | None:
    """The sentence of `text` that mentions a property's name, if any."""
    words = name.replace("_", " ").lower()
    for sentence in _SENTENCES.split(text):
        if words in sentence.lower():
            return sentence
    return None
