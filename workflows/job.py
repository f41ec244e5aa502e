"""The job SDK: the base every job workflow extends, so a job's module holds its decisions only.

A job workflow is a `@workflow.defn` class extending `JobWorkflow[MyRun, MyProgress,
MyResult]` with an `async def steps(self, input: MyRun) -> MyResult`; the base gives it its
`@workflow.run` method. The base owns what every job needs: the event log, the outcome
(`completed`, `failed`, `cancelled`), one progress object (the `progress` query, the `stage`
events, the Temporal UI's details, the progress the API reads from the database, usage and
cost), model calls with the job's budget, cache option and fallback chain (model_steps.py),
asking a person (human.py) and running tools (tools.py).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Generic, NoReturn, TypeVar, cast, get_args, get_origin

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import FailureError

from workflows.events import EventLog
from workflows.model_calls import job_owner
from workflows.model_steps import ModelSteps, require_valid

with workflow.unsafe.imports_passed_through():
    from core.contracts.human import WaitingFor
    from core.contracts.job_type import JobProgress
    from core.contracts.options import JobOptions, WithOptions
    from core.contracts.recording import Recording
    from core.contracts.webhooks import (
        WEBHOOK_DELIVERY_WORKFLOW,
        WebhookEvent,
        WebhookMessage,
        webhook_body,
    )
    from core.events import CancelledEvent, CompletedEvent, FailedEvent, StageEvent
    from core.failures import describe_failure
    from core.jobs import JOB_TYPE_OF_WORKFLOW, PROGRESS_MEMO

# What a job module imports from the SDK.
__all__ = ["JobWorkflow", "require_valid"]

Run = TypeVar("Run", bound=WithOptions)
Progress = TypeVar("Progress", bound=JobProgress)
Result = TypeVar("Result", bound=BaseModel)


class JobWorkflow(ModelSteps, Generic[Run, Progress, Result]):
    """The base of every job workflow; see the module's docstring."""

    _progress_type: ClassVar[type[JobProgress]] = JobProgress
    progress: Progress

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give each job workflow its progress model and its `@workflow.run` method, typed
        from `JobWorkflow[Run, Progress, Result]` (Temporal wants it on the class itself)."""
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if get_origin(base) is JobWorkflow:
                run_type, cls._progress_type, result_type = get_args(base)
                setattr(cls, "run", _run_method(cls, run_type, result_type))  # noqa: B010

    def __init__(self) -> None:
        super().__init__()
        self.events = EventLog()
        self.progress = cast(Progress, self._progress_type())
        self.options = JobOptions()
        # Every model that answered a step (more than one after a fallback).
        self.models: set[str] = set()

    @workflow.query(name="progress", description="The job's progress, as the API shows it.")
    def current_progress(self) -> JobProgress:
        return self.progress

    async def steps(self, input: Run) -> Result:
        """The job's own decisions: override this."""
        raise NotImplementedError

    async def run(self, input: Run) -> Result:
        """The workflow's entry point: `steps`, and publishing how the job ended."""
        return await self.run_job(input)

    async def run_job(self, input: Run) -> Result:
        """Run `steps` and publish how the job ended; continue-as-new passes through."""
        self.options = input.options
        replay_from = input.options.replay_from
        self.recording = input.recording or (
            Recording(source=replay_from, mode="replay") if replay_from else None
        )
        try:
            result = await self.steps(input)
        except asyncio.CancelledError:
            self.events.publish(CancelledEvent())
            await self.events.flush()
            await self._call_back("cancelled", "cancelled", None)
            raise
        except FailureError as err:
            error_type, message = describe_failure(err)
            error = {"type": error_type, "message": message}
            self.events.publish(FailedEvent(error=error))
            await self.events.flush()
            await self._call_back("failed", "failed", error)
            raise
        self.show("done")
        # Kept on the closed run, so the API reads the final progress without a worker.
        workflow.upsert_memo({PROGRESS_MEMO: self.progress.model_dump(mode="json")})
        shown = result.model_dump(mode="json")
        self.events.publish(CompletedEvent(result=shown))
        await self.events.flush()
        await self._call_back("completed", "completed", shown)
        return result

    async def waiting_started(self, waiting: WaitingFor) -> None:
        if self.options.reviewers:
            self.tell_reviewers(waiting, self.options.reviewers)
        question = {
            "question_id": waiting.id,
            "name": waiting.name,
            "prompt": waiting.prompt,
            "deadline": waiting.deadline.isoformat(),
        }
        await self._call_back("waiting_for_input", "waiting_for_input", question)

    async def _call_back(
        self, event: WebhookEvent, status: str, detail: dict[str, Any] | None
    ) -> None:
        """Start the delivery of the job's webhook for `event`, if it asked for one. Only the
        start is awaited: the delivery runs on its own and outlives the job."""
        hook = self.options.webhook
        if hook is None or event not in hook.events:
            return
        info = workflow.info()
        webhook_id = f"msg_{workflow.uuid4().hex}"
        message = WebhookMessage(
            webhook_id=webhook_id,
            owner=job_owner() or "",
            job_id=info.workflow_id,
            url=hook.url,
            event=event,
            body=webhook_body(
                info.workflow_id,
                JOB_TYPE_OF_WORKFLOW.get(info.workflow_type, info.workflow_type),
                event,
                status,
                workflow.now(),
                detail,
            ),
        )
        await workflow.start_child_workflow(
            WEBHOOK_DELIVERY_WORKFLOW,
            message,
            id=f"{info.workflow_id}-{webhook_id}",
            task_queue=info.task_queue,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=f"{event} webhook of {info.workflow_id}",
        )

    async def continue_as_new(self, next_input: Run) -> NoReturn:
        """Go on in a fresh run (a short history) once the log has every event."""
        await self.events.flush()
        # The next run takes from the recording only what this one still would.
        workflow.continue_as_new(next_input.model_copy(update={"recording": self.reuse()}))

    def show(self, stage: str | None = None, **fields: Any) -> None:
        """Move the progress (its stage and any of its fields) and show it everywhere: the
        `stage` event, the progress the API reads, and the Temporal UI's details."""
        progress = self.progress
        if stage is not None:
            progress.stage = stage
        for name, value in fields.items():
            setattr(progress, name, value)
        event = StageEvent(stage=progress.stage, completed=progress.completed, total=progress.total)
        self.events.publish(event, progress=progress)
        workflow.set_current_details(
            f"**{progress.stage}** · {self.details()} · {progress.usage.shown()}"
        )

    def details(self) -> str:
        """The job's line in the Temporal UI, after its stage; override to say more."""
        models = f" · {', '.join(sorted(self.models))}" if self.models else ""
        return f"{self.progress.completed}/{self.progress.total}{models}"


def _run_method(cls: type[Any], run_type: Any, result_type: Any) -> Any:
    """`async def run(self, input: Run) -> Result`, as defined on `cls`."""

    async def run(self: JobWorkflow[Any, Any, Any], input: Any) -> Any:
        return await self.run_job(input)

    run.__annotations__ = {"input": run_type, "return": result_type}
    run.__qualname__ = f"{cls.__name__}.run"
    run.__module__ = cls.__module__
    return workflow.run(run)
