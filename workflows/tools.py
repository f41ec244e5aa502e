"""Running a model's proposed tool call from a job workflow: checked (known tool, allowed for
this job, arguments that fit), approved by a person when it has side effects, run as an
activity under an idempotency key, and audited."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any, Literal

from pydantic import ValidationError
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

from workflows.human import HumanInput
from workflows.model_calls import job_owner

with workflow.unsafe.imports_passed_through():
    from core.contracts.human import OnTimeout
    from core.contracts.llm import ProposedCall
    from core.contracts.tools import (
        INVALID_ARGUMENTS,
        RUN_TOOL,
        SIDE_EFFECT_NOT_PERFORMED,
        TOOL_REFUSED,
        TOOL_SPECS,
        UNKNOWN_TOOL,
        Approval,
        AuditEntry,
        ToolRequest,
        ToolResult,
        summarize_arguments,
        summarize_text,
    )
    from core.events import ToolCallEvent, ToolResultEvent

# An approval prompt quotes this much of the proposed arguments.
PROMPT_ARGUMENT_CHARS = 1000


# Failures that are the tool's own answer, which the model is told.
TOOL_ANSWERS = frozenset({TOOL_REFUSED, INVALID_ARGUMENTS, UNKNOWN_TOOL})


class _NotPerformed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ToolDenied(Exception):
    """A person refused a tool call: the job decides what that means."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ToolRunner(HumanInput):
    """The part of the job SDK that runs tools. `tool_audit` lists every call, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tool_audit: list[AuditEntry] = []

    def show(self, stage: str | None = None, **fields: Any) -> None:
        raise NotImplementedError  # the job SDK's progress (workflows/job.py)

    async def run_tool(
        self,
        call: ProposedCall,
        *,
        allowed: Collection[str],
        preapproved: Collection[str] = (),
        step: int,
        approval_within: timedelta,
        proposed_by: str | None = None,
        documents: Sequence[str] = (),
        collections: Sequence[str] = (),
    ) -> str:
        """Run one proposed call and return what the model sees: the tool's result, or why it
        did not run. Raises ToolDenied when a person refused it. `documents`: the stored
        documents (ids) this job may search."""
        checked = check_call(call, allowed)
        audit = AuditEntry(
            step=step,
            tool=call.name,
            call_id=call.id,
            arguments=summarize_arguments(checked if isinstance(checked, dict) else call.arguments),
            status="rejected",
            result_summary="",
            model=proposed_by,
        )
        self.events.publish(ToolCallEvent(step=step, tool=call.name, arguments=audit.arguments))
        if isinstance(checked, str):
            return self._audited(audit, f"error: {checked}")
        if TOOL_SPECS[call.name].side_effects and call.name not in preapproved:
            self.show("waiting_for_approval")
            approval, record = await self.ask_human(
                "approval",
                f"Step {step}: allow {call.name} with arguments "
                f"{summarize_text(json.dumps(checked), PROMPT_ARGUMENT_CHARS)}?",
                Approval,
                step=f"approval-{step}-{call.id}",
                within=approval_within,
                on_timeout=OnTimeout(
                    action="default",
                    default={"decision": "deny", "reason": "no approval before the deadline"},
                ),
                context={
                    "step": step,
                    "tool": call.name,
                    "call_id": call.id,
                    "arguments": checked,
                    "why": f"{call.name} has side effects outside this job and is not in "
                    "preapproved_tools",
                    "description": TOOL_SPECS[call.name].description,
                },
            )
            audit.approved_by = record.answered_by
            if approval.decision == "deny":
                audit.status = "denied"
                why = approval.reason or "no reason given"
                raise ToolDenied(
                    self._audited(audit, f"{call.name} denied by {record.answered_by}: {why}")
                )
        self.show("running_tool")
        started = workflow.now()
        try:
            status, content = await self._execute(call, checked, step, documents, collections)
        except _NotPerformed as err:
            audit.status = "error"
            self._audited(audit, err.reason)
            # Not the model's to decide: the job says which side effect it could not perform.
            raise ApplicationError(
                err.reason, type=SIDE_EFFECT_NOT_PERFORMED, non_retryable=True
            ) from None
        audit.status = status
        audit.duration_ms = int((workflow.now() - started).total_seconds() * 1000)
        return self._audited(audit, content)

    async def _execute(
        self,
        call: ProposedCall,
        arguments: dict[str, Any],
        step: int,
        documents: Sequence[str],
        collections: Sequence[str],
    ) -> tuple[Literal["ok", "error"], str]:
        tool = TOOL_SPECS[call.name]
        job_id = workflow.info().workflow_id
        try:
            result: ToolResult = await workflow.execute_activity(
                RUN_TOOL,
                ToolRequest(
                    tool=call.name,
                    arguments=arguments,
                    idempotency_key=f"{job_id}/step-{step}/{call.id}",
                    owner=job_owner() or "",
                    job_id=job_id,
                    documents=list(documents),
                    collections=list(collections),
                    step=f"tool-{step}-{call.id}",
                    recording=self.reuse(),
                ),
                result_type=ToolResult,
                start_to_close_timeout=tool.timeout,
                schedule_to_close_timeout=tool.deadline,
                retry_policy=tool.retry,
                summary=f"tool {call.name} · step {step}",
            )
        except ActivityError as err:
            cause = err.cause
            refused = isinstance(cause, ApplicationError) and cause.type in TOOL_ANSWERS
            message = cause.message if isinstance(cause, ApplicationError) else err.message
            if tool.side_effects and not refused:
                # Our database or network, not the tool, kept it from running until the deadline.
                inner = cause.cause if isinstance(cause, FailureError) else None
                last = inner or cause
                why = getattr(last, "message", "") or type(last).__name__
                raise _NotPerformed(
                    f"{call.name} (step {step}, call {call.id}) could not be performed within "
                    f"{tool.deadline}: {why}"
                ) from None
            return "error", f"error: {message}"
        return "ok", result.content + ("\n[result truncated]" if result.truncated else "")

    def _audited(self, audit: AuditEntry, content: str) -> str:
        audit.result_summary = summarize_text(content)
        self.tool_audit.append(audit)
        self.events.publish(
            ToolResultEvent(
                step=audit.step, tool=audit.tool, status=audit.status, summary=audit.result_summary
            )
        )
        return content


def check_call(call: ProposedCall, allowed: Collection[str]) -> dict[str, Any] | str:
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
