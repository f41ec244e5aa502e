"""A compose file resolved as `docker compose config` resolves it (variables interpolated,
each service's env_file merged under its own environment) and checked against the Compose
Specification's JSON Schema, which the check-jsonschema wheel ships: no Docker, no system
package."""

from __future__ import annotations

import importlib.util
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values
from jsonschema.validators import validator_for

# `$$` is a literal dollar; `${X}`, `${X:-default}`, `${X-default}`, `${X:?error}`, `${X?error}`.
_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


class ComposeInvalid(Exception):
    """The file does not resolve, or does not fit the Compose Specification."""


def spec_schema() -> dict[str, Any]:
    """The Compose Specification's JSON Schema, as check-jsonschema vendors it."""
    found = importlib.util.find_spec("check_jsonschema")
    if found is None or not found.submodule_search_locations:
        raise RuntimeError("check-jsonschema is missing: run `make install`")
    vendor = Path(found.submodule_search_locations[0]) / "builtin_schemas" / "vendor"
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return schema


def interpolate(text: str, env: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        current = env.get(name)
        if op in (":-", "-"):
            unset = not current if op == ":-" else current is None
            return arg if unset else str(current)
        if op in (":?", "?") and (not current if op == ":?" else current is None):
            raise ComposeInvalid(f"required variable {name} is missing: {arg}")
        return current or ""

    return _VARIABLE.sub(value, text)


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def resolve(
    compose_text: str, env_files: Mapping[str, str], env: Mapping[str, str]
) -> dict[str, Any]:
    """The resolved config; ComposeInvalid when it does not fit the specification."""
    config: dict[str, Any] = yaml.safe_load(interpolate(compose_text, env))
    schema = spec_schema()
    validator = validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise ComposeInvalid(f"{where}: {errors[0].message}")
    for name, service in config.get("services", {}).items():
        files = service.get("env_file") or []
        merged: dict[str, str] = {}
        for path in [files] if isinstance(files, str) else files:
            if path not in env_files:
                raise ComposeInvalid(f"service {name}: env_file {path} is missing")
            # An env file's values may name variables set earlier in it, as compose reads it.
            values = dotenv_values(stream=io.StringIO(env_files[path]), interpolate=True)
            merged |= {key: value or "" for key, value in values.items()}
        own = service.get("environment") or {}
        if isinstance(own, list):
            own = dict(item.split("=", 1) for item in own)
        merged |= {key: _env_value(value) for key, value in own.items()}
        if merged:
            service["environment"] = merged
    return config
