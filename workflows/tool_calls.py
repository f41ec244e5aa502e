"""Deciding about a model's tool call before anything runs: pure checks, safe in a workflow."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts.llm import ProposedCall
    from core.contracts.tools import TOOL_SPECS


def check_call(call: ProposedCall, allowed: list[str]) -> dict[str, Any] | str:
    """The validated arguments, or why the call may not run (told to the model, never run)."""
    if call.name not in TOOL_SPECS:
        return f"unknown tool {call.name!r}; available: {', '.join(allowed)}"
    if call.name not in allowed:
        return f"tool {call.name!r} is not allowed for this job"
    try:
        raw = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        return "the arguments are not valid JSON"
    if not isinstance(raw, dict):
        return "the arguments must be a JSON object"
    try:
        parsed = TOOL_SPECS[call.name].args_model.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
            for e in err.errors(include_url=False)
        )
        return f"invalid arguments for {call.name}: {problems}"
    return parsed.model_dump(mode="json")
