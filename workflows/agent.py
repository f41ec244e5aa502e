"""The `agent` job: the model proposes tool calls, this workflow decides, activities act.

Every proposal is checked (known tool, allowed for this job, arguments that fit the tool's
model) before anything runs; side effects wait for a person unless pre-approved; budgets end
the loop. The conversation itself lives in the claim-check store, so history holds only each
step's new messages.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.job import JobWorkflow
from workflows.model_calls import job_owner, over_budget, run_llm_activity
from workflows.tools import ToolDenied

with workflow.unsafe.imports_passed_through():
    from core.contracts.agent import AgentProgress, AgentResult, AgentRun, AgentState, Outcome
    from core.contracts.llm import COMPLETE_AGENT_STEP, AgentStepRequest, AgentStepResult
    from core.contracts.llm import assistant_message as reply_message
    from core.contracts.tools import STORE_DOCUMENTS, StoreDocumentsRequest, document_refs

# A fresh run every this many model steps keeps each history small on long loops.
STEPS_PER_RUN = 25

SYSTEM_PROMPT = (
    "You are a careful assistant working towards the user's goal. Use the tools offered when "
    "they help; a tool's result comes back to you. When you can answer, reply in plain text "
    "without calling a tool."
)


@workflow.defn(name="AgentWorkflow")
class AgentWorkflow(JobWorkflow[AgentRun, AgentProgress, AgentResult]):
    async def steps(self, input: AgentRun) -> AgentResult:
        self._job, state = input, input.carried
        self.progress.usage, self.tool_audit = state.usage, state.steps
        if state.seq == 0 and not state.pending:
            input = self._job = await self._store_documents(input)
            state.pending = [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": self._goal_message()},
            ]
        for _ in range(STEPS_PER_RUN):
            if reason := self._budget_spent(state):
                return self._result("budget_exhausted", reason, None)
            state.llm_steps += 1
            self.show("thinking")
            reply = await self._step(state)
            # The activity stored the new messages and, after them, the model's reply, unless
            # that last write failed: then the reply goes along with the next step.
            state.seq += len(state.pending) + (1 if reply.stored else 0)
            state.pending = [] if reply.stored else [reply_message(reply.content, reply.tool_calls)]
            self.count(reply, f"agent-{state.llm_steps}")
            if not reply.tool_calls:
                return self._result("answered", None, reply.content or "")
            for call in reply.tool_calls:
                if state.tool_calls >= input.max_tool_calls:
                    reason = f"max_tool_calls ({input.max_tool_calls}) reached"
                    return self._result("budget_exhausted", reason, None)
                state.tool_calls += 1
                self.progress.last_tool_call = call.name
                try:
                    content = await self.run_tool(
                        call,
                        allowed=input.tools,
                        preapproved=input.preapproved_tools,
                        step=state.llm_steps,
                        approval_within=timedelta(seconds=input.approval_timeout_s),
                        proposed_by=reply.model,
                        documents=[d.id for d in input.document_refs],
                        collections=input.collections,
                    )
                except ToolDenied as denied:
                    return self._result("denied", denied.reason, None)
                state.pending.append({"role": "tool", "tool_call_id": call.id, "content": content})
            if workflow.info().is_continue_as_new_suggested():
                break
        state.usage = self.progress.usage
        await self.continue_as_new(input.model_copy(update={"carried": state}))

    async def _step(self, state: AgentState) -> AgentStepResult:
        """One model step, on the job's model or, when it cannot answer, its fallbacks."""
        job, step = self._job, f"agent-{state.llm_steps}"

        async def call(model: str | None, fail_fast: bool, retry: RetryPolicy, note: str) -> Any:
            request = AgentStepRequest(
                conversation_id=workflow.info().workflow_id,
                start=state.seq,
                append=state.pending,
                tools=job.tools,
                model=model,
                step=step,
                owner=job_owner(),
                cache=job.options.cache,
                fail_fast=fail_fast,
                recording=self.reuse(),
            )
            label = f"agent step {state.llm_steps}" + (f" · {job.model}" if job.model else "")
            return await run_llm_activity(
                COMPLETE_AGENT_STEP, request, AgentStepResult, retry, label + note
            )

        result: AgentStepResult = await self._fall_back(job.model, step, call)
        return result

    def _budget_spent(self, state: AgentState) -> str | None:
        job, usage = self._job, self.progress.usage
        if state.llm_steps >= job.max_steps:
            return f"max_steps ({job.max_steps}) reached"
        if (spent := usage.input_tokens + usage.output_tokens) >= job.max_tokens:
            return f"max_tokens ({job.max_tokens}) reached: {spent} used"
        return over_budget(job.options, usage)

    async def _store_documents(self, input: AgentRun) -> AgentRun:
        """Store documents given inline (a start from outside the API) once, then carry only
        their ids; the API stores them itself and starts the job with ids already."""
        if not input.documents:
            return input
        owner = job_owner() or ""
        await workflow.execute_activity(
            STORE_DOCUMENTS,
            StoreDocumentsRequest(
                owner=owner, job_id=workflow.info().workflow_id, documents=input.documents
            ),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=5),
            summary=f"store {len(input.documents)} documents",
        )
        refs = input.document_refs + document_refs(owner, input.documents)
        return input.model_copy(update={"documents": None, "document_refs": refs})

    def _goal_message(self) -> str:
        goal, names = self._job.goal, ", ".join(d.name for d in self._job.document_refs)
        return f"{goal}\n\n(Attached documents, searchable: {names})" if names else goal

    def show(self, stage: str | None = None, **fields: Any) -> None:
        state, job, usage = self._job.carried, self._job, self.progress.usage
        budget_left = {
            "steps": job.max_steps - state.llm_steps,
            "tool_calls": job.max_tool_calls - state.tool_calls,
            "tokens": max(job.max_tokens - usage.input_tokens - usage.output_tokens, 0),
        }
        fields = {"step": state.llm_steps, "tool_calls": state.tool_calls, **fields}
        completed, total = state.llm_steps, job.max_steps
        super().show(stage, completed=completed, total=total, budget_left=budget_left, **fields)

    def details(self) -> str:
        p, job = self.progress, self._job
        last = f" · last tool {p.last_tool_call}" if p.last_tool_call else ""
        return f"step {p.step}/{job.max_steps} · {p.tool_calls}/{job.max_tool_calls} tools{last}"

    def _result(self, outcome: Outcome, reason: str | None, answer: str | None) -> AgentResult:
        state = self._job.carried
        return AgentResult(
            outcome=outcome,
            reason=reason,
            answer=answer,
            steps=state.steps,
            llm_steps=state.llm_steps,
            tool_calls=state.tool_calls,
            usage=self.progress.usage,
        )
