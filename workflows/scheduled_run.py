"""One run of an owner's schedule: the owner's quotas first, then the job, as at any start."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from core.contracts.schedules import (
        ADMIT_SCHEDULED_JOB,
        REFUSAL_MEMO,
        SCHEDULED_RUN_WORKFLOW,
        Admission,
        AdmitScheduledJob,
        ScheduledRun,
        ScheduledRunResult,
    )
    from core.jobs import CREATED_AT, scheduled_job_id
    from core.temporal import JOB_OWNER, JOB_SCHEDULE, JOB_TYPE, reviewer_attribute


@workflow.defn(name=SCHEDULED_RUN_WORKFLOW)
class ScheduledRunWorkflow:
    """Started by the schedule. A run refused by a quota ends at once, its reason in its memo;
    an admitted one starts the job under an id derived from this run, and waits for it, so
    `skip` and `buffer_one` see a job still running and `cancel_other` cancels it."""

    @workflow.run
    async def run(self, run: ScheduledRun) -> ScheduledRunResult:
        job_id = scheduled_job_id(run.owner, workflow.info().workflow_id)
        admission = await workflow.execute_activity(
            ADMIT_SCHEDULED_JOB,
            AdmitScheduledJob(owner=run.owner, job_id=job_id),
            result_type=Admission,
            start_to_close_timeout=timedelta(seconds=30),
            # A database or Temporal outage is waited out: the run is this tick's only chance.
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
            summary="check the owner's running jobs and monthly budget",
        )
        if admission.refused is not None:
            workflow.upsert_memo({REFUSAL_MEMO: admission.refused.model_dump(mode="json")})
            return ScheduledRunResult(refused=admission.refused)
        job = await workflow.start_child_workflow(
            run.workflow_type,
            run.run_input,
            id=job_id,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(JOB_OWNER, run.owner),
                    SearchAttributePair(JOB_TYPE, run.job_type),
                    SearchAttributePair(JOB_SCHEDULE, run.schedule),
                    *reviewer_attribute(run.run_input),
                ]
            ),
            memo={CREATED_AT: workflow.now().isoformat()},
            # As at an API start: the owner's activities share task queues fairly.
            priority=Priority(fairness_key=run.owner),
            parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
            static_summary=f"{run.job_type} job for {run.owner}, from schedule {run.schedule}",
        )
        try:
            await job
        except ChildWorkflowError:
            pass  # the job's own outcome, which the job reports; this run did its part
        return ScheduledRunResult(job_id=job_id)
