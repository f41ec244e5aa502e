"""The `agent` job: the model proposes tool calls, this workflow decides, activities act.

Every proposal is checked here (known tool, allowed for this job, arguments that fit the
tool's model) before anything runs; side effects wait for a person unless pre-approved;
budgets end the loop. The conversation itself lives in the claim-check store, so history
holds only each step's new messages.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.contrib.workflow_streams import WorkflowStream, WorkflowStreamState
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.events import EventLog, record_final_progress
from workflows.human import HumanInput
from workflows.tool_calls import check_call

with workflow.unsafe.imports_passed_through():
    from core.contracts.agent import (
        AgentProgress,
        AgentResult,
        AgentStart,
        Approval,
        AuditEntry,
        Outcome,
        summarize_arguments,
        summarize_text,
    )
    from core.contracts.human import OnTimeout
    from core.contracts.llm import (
        COMPLETE_AGENT_STEP,
        AgentStepRequest,
        AgentStepResult,
        ProposedCall,
        TokenUsage,
        assistant_message,
    )
    from core.contracts.tools import (
        RUN_TOOL,
        STORE_DOCUMENTS,
        TOOL_SPECS,
        StoreDocumentsRequest,
        ToolRequest,
        ToolResult,
        document_refs,
    )
    from core.events import StageEvent, StepCompletedEvent, ToolCallEvent, ToolResultEvent
    from core.temporal import JOB_OWNER
    from workflows.llm_step import (
        job_owner,
        over_budget,
        run_llm_activity,
        with_fallbacks,
    )

# A fresh run every this many model steps keeps each history small on long loops.
STEPS_PER_RUN = 25
# An approval prompt quotes this much of the proposed arguments.
PROMPT_ARGUMENT_CHARS = 1000

SYSTEM_PROMPT = (
    "You are a careful assistant working towards the user's goal. Use the tools offered when "
    "they help; a tool's result comes back to you. When you can answer, reply in plain text "
    "without calling a tool."
)


class AgentState(BaseModel):
    """Carried across continue-as-new: counters, short audit entries and the current step's
    new messages; the conversation itself stays in the claim-check store."""

    seq: int = 0
    pending: list[dict[str, Any]] = Field(default_factory=list)
    steps: list[AuditEntry] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    llm_steps: int = 0
    tool_calls: int = 0


class AgentRun(AgentStart):
    """The workflow's own input: the API's start, plus state carried from earlier runs."""

    carried: AgentState = Field(default_factory=AgentState)
    stream_state: WorkflowStreamState | None = None


class _Denied(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


@workflow.defn(name="AgentWorkflow")
class AgentWorkflow(HumanInput):
    @workflow.init
    def __init__(self, input: AgentRun) -> None:
        # Design 1 needs no patch marker for the event log, the final progress or the waits.
        # (WorkflowStream insists on being built right here, in __init__.)
        prior = input.stream_state
        self.events = (
            EventLog(to_database=True)
            if input.design >= 1
            else EventLog(WorkflowStream(prior), prior.base_offset if prior else 0)
        )
        self._init_human_input(self.events, unpatched=input.design >= 1)
        self._input = input
        self._state = input.carried
        self._progress = AgentProgress()
        # The model that answered the current step: each audit entry names it.
        self._proposed_by: str | None = None

    @workflow.query(name="progress")
    def progress(self) -> AgentProgress:
        return self._progress

    @workflow.run
    async def run(self, input: AgentRun) -> AgentResult:
        return await self.events.report(lambda: self._loop(input))

    async def _loop(self, input: AgentRun) -> AgentResult:
        state = self._state
        if state.seq == 0 and not state.pending:
            input = await self._store_documents(input)
            state.pending = [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": self._goal_message()},
            ]
        steps_this_run = 0
        while True:
            if reason := self._budget_spent():
                return self._finish("budget_exhausted", reason, None)
            if steps_this_run >= STEPS_PER_RUN or workflow.info().is_continue_as_new_suggested():
                await self.events.continue_as_new(
                    lambda stream: [
                        input.model_copy(update={"carried": state, "stream_state": stream})
                    ]
                )
            state.llm_steps += 1
            steps_this_run += 1
            self._show("thinking")
            reply = await self._step(input, state)
            self._proposed_by = reply.model
            # The activity stored the new messages and, after them, the model's reply, unless
            # that last write failed: then the reply goes along with the next step.
            state.seq += len(state.pending) + (1 if reply.stored else 0)
            state.pending = (
                [] if reply.stored else [assistant_message(reply.content, reply.tool_calls)]
            )
            state.usage = state.usage + reply.usage
            self.events.publish(
                StepCompletedEvent(
                    step=f"agent-{state.llm_steps}",
                    input_tokens=reply.usage.input_tokens,
                    output_tokens=reply.usage.output_tokens,
                    source=reply.source,
                )
            )
            if not reply.tool_calls:
                return self._finish("answered", None, reply.content or "")
            for call in reply.tool_calls:
                if state.tool_calls >= input.max_tool_calls:
                    return self._finish(
                        "budget_exhausted", f"max_tool_calls ({input.max_tool_calls}) reached", None
                    )
                try:
                    content = await self._handle(call)
                except _Denied as denied:
                    return self._finish("denied", denied.reason, None)
                state.pending.append({"role": "tool", "tool_call_id": call.id, "content": content})

    async def _handle(self, call: ProposedCall) -> str:
        """Check, approve if needed, run and audit one call; returns what the model sees."""
        state, step = self._state, self._state.llm_steps
        state.tool_calls += 1
        self._progress.last_tool_call = call.name
        checked = check_call(call, self._input.tools)
        arguments = summarize_arguments(checked if isinstance(checked, dict) else call.arguments)
        self.events.publish(ToolCallEvent(step=step, tool=call.name, arguments=arguments))
        if isinstance(checked, str):
            self._audit(
                AuditEntry(
                    step=step,
                    tool=call.name,
                    call_id=call.id,
                    arguments=arguments,
                    status="rejected",
                    result_summary=summarize_text(checked),
                )
            )
            return f"error: {checked}"
        tool = TOOL_SPECS[call.name]
        approved_by: str | None = None
        if tool.side_effects and call.name not in self._input.preapproved_tools:
            self._show("waiting_for_approval")
            approval, record = await self.ask_human(
                "approval",
                f"Step {step}: allow {call.name} with arguments "
                f"{summarize_text(json.dumps(checked), PROMPT_ARGUMENT_CHARS)}?",
                Approval,
                within=timedelta(seconds=self._input.approval_timeout_s),
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
                    "description": tool.description,
                },
            )
            approved_by = record.answered_by
            if approval.decision == "deny":
                reason = (
                    f"{call.name} denied by {approved_by}: {approval.reason or 'no reason given'}"
                )
                self._audit(
                    AuditEntry(
                        step=step,
                        tool=call.name,
                        call_id=call.id,
                        arguments=arguments,
                        status="denied",
                        result_summary=summarize_text(reason),
                        approved_by=approved_by,
                    )
                )
                raise _Denied(reason)
        self._show("running_tool")
        started = workflow.now()
        status: Literal["ok", "error"] = "ok"
        try:
            result: ToolResult = await workflow.execute_activity(
                RUN_TOOL,
                ToolRequest(
                    tool=call.name,
                    arguments=checked,
                    idempotency_key=f"{workflow.info().workflow_id}/step-{step}/{call.id}",
                    owner=self._owner(),
                    job_id=workflow.info().workflow_id,
                ),
                result_type=ToolResult,
                start_to_close_timeout=tool.timeout,
                schedule_to_close_timeout=tool.timeout * 10,
                retry_policy=tool.retry,
                summary=f"tool {call.name} · step {step}",
            )
            content = result.content + ("\n[result truncated]" if result.truncated else "")
        except ActivityError as err:
            status = "error"
            cause = err.cause
            content = (
                f"error: {cause.message if isinstance(cause, ApplicationError) else err.message}"
            )
        self._audit(
            AuditEntry(
                step=step,
                tool=call.name,
                call_id=call.id,
                arguments=arguments,
                status=status,
                result_summary=summarize_text(content),
                approved_by=approved_by,
                duration_ms=int((workflow.now() - started).total_seconds() * 1000),
            )
        )
        return content

    def _audit(self, entry: AuditEntry) -> None:
        entry.model = self._proposed_by
        self._state.steps.append(entry)
        self.events.publish(
            ToolResultEvent(
                step=entry.step, tool=entry.tool, status=entry.status, summary=entry.result_summary
            )
        )

    async def _step(self, input: AgentRun, state: AgentState) -> AgentStepResult:
        """One model step, on the job's model or, when it cannot answer, its fallbacks."""
        step = f"agent-{state.llm_steps}"

        async def call(
            model: str | None, fail_fast: bool, retry: RetryPolicy, note: str
        ) -> AgentStepResult:
            return await run_llm_activity(
                COMPLETE_AGENT_STEP,
                AgentStepRequest(
                    conversation_id=workflow.info().workflow_id,
                    start=state.seq,
                    append=state.pending,
                    tools=input.tools,
                    model=model,
                    step=step,
                    owner=job_owner(),
                    cache=input.options.cache,
                    fail_fast=fail_fast,
                ),
                AgentStepResult,
                retry,
                f"agent step {state.llm_steps}"
                + (f" · {input.model}" if input.model else "")
                + note,
            )

        return await with_fallbacks(
            input.model, input.options.fallback_models, step, self.events, call
        )

    def _budget_spent(self) -> str | None:
        state, job = self._state, self._input
        if state.llm_steps >= job.max_steps:
            return f"max_steps ({job.max_steps}) reached"
        spent = state.usage.input_tokens + state.usage.output_tokens
        if spent >= job.max_tokens:
            return f"max_tokens ({job.max_tokens}) reached: {spent} used"
        return over_budget(job.options, state.usage)

    async def _store_documents(self, input: AgentRun) -> AgentRun:
        """Store documents given inline (a start from outside the API) once, then carry only
        their ids; the API stores them itself and starts the job with ids already."""
        documents = input.documents or []
        if documents:
            await workflow.execute_activity(
                STORE_DOCUMENTS,
                StoreDocumentsRequest(
                    owner=self._owner(), job_id=workflow.info().workflow_id, documents=documents
                ),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_attempts=5),
                summary=f"store {len(documents)} documents",
            )
            refs = input.document_refs + document_refs(self._owner(), documents)
            input = input.model_copy(update={"documents": None, "document_refs": refs})
            self._input = input
        return input

    def _goal_message(self) -> str:
        names = [d.name for d in self._input.document_refs]
        if not names:
            return self._input.goal
        return f"{self._input.goal}\n\n(Attached documents, searchable: {', '.join(names)})"

    @staticmethod
    def _owner() -> str:
        return workflow.info().typed_search_attributes.get(JOB_OWNER) or ""

    def _show(self, stage: Literal["thinking", "running_tool", "waiting_for_approval"]) -> None:
        state, job = self._state, self._input
        spent = state.usage.input_tokens + state.usage.output_tokens
        self.events.publish(StageEvent(stage=stage, completed=state.llm_steps, total=job.max_steps))
        self._progress = AgentProgress(
            stage=stage,
            step=state.llm_steps,
            tool_calls=state.tool_calls,
            last_tool_call=self._progress.last_tool_call,
            budget_left={
                "steps": job.max_steps - state.llm_steps,
                "tool_calls": job.max_tool_calls - state.tool_calls,
                "tokens": max(job.max_tokens - spent, 0),
            },
        )
        if stage != "waiting_for_approval":  # the wait shows its own question
            last = (
                f" · last tool {self._progress.last_tool_call}"
                if self._progress.last_tool_call
                else ""
            )
            workflow.set_current_details(
                f"**{stage}** · step {state.llm_steps}/{job.max_steps} · "
                f"{state.tool_calls}/{job.max_tool_calls} tool calls{last} · {state.usage.shown()}"
            )

    def _finish(self, outcome: Outcome, reason: str | None, answer: str | None) -> AgentResult:
        state = self._state
        self._progress.stage = "done"
        workflow.set_current_details(f"**done** · {outcome}" + (f": {reason}" if reason else ""))
        record_final_progress(self._progress, unpatched=self._unpatched)
        return AgentResult(
            outcome=outcome,
            reason=reason,
            answer=answer,
            steps=state.steps,
            llm_steps=state.llm_steps,
            tool_calls=state.tool_calls,
            usage=state.usage,
        )
