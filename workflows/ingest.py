"""The `ingest` job: each document into the collection, a few at a time; one that fails does
not fail the others, and the job's budget stops new documents once spent."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.job import JobWorkflow
from workflows.model_calls import job_owner

with workflow.unsafe.imports_passed_through():
    from core.contracts.ingest import (
        INGEST_DOCUMENT,
        DocumentIngested,
        IngestDocument,
        IngestProgress,
        IngestResult,
        IngestRun,
        StoredSource,
    )
    from core.failures import describe_failure

# Documents ingested at once: each is mostly waiting on the embedding endpoint.
PARALLEL_DOCUMENTS = 4


@workflow.defn(name="IngestWorkflow")
class IngestWorkflow(JobWorkflow[IngestRun, IngestProgress, IngestResult]):
    async def steps(self, input: IngestRun) -> IngestResult:
        self.show("ingesting", total=len(input.documents))
        self.models.add(input.embedding_model)
        turns = asyncio.Semaphore(PARALLEL_DOCUMENTS)

        async def ingest(source: StoredSource) -> DocumentIngested:
            async with turns:
                self.check_budget()
                outcome = await self._ingest(input, source)
            self.progress.usage = self.progress.usage + outcome.usage
            if outcome.status == "ingested":
                # From the model when anything was embedded, else from what was kept.
                origin = "model" if outcome.embedded else "cache"
                self._step_completed(f"ingest {source.name}", outcome.usage, origin)
            self.show(completed=self.progress.completed + 1)
            return outcome

        outcomes = await asyncio.gather(*(ingest(source) for source in input.documents))
        return IngestResult(
            collection=input.collection,
            embedding_model=input.embedding_model,
            documents=list(outcomes),
            usage=self.progress.usage,
        )

    async def _ingest(self, input: IngestRun, source: StoredSource) -> DocumentIngested:
        try:
            outcome: DocumentIngested = await workflow.execute_activity(
                INGEST_DOCUMENT,
                IngestDocument(
                    owner=job_owner() or "",
                    collection=input.collection,
                    source=source,
                    chunk_tokens=input.chunk_tokens,
                    overlap_tokens=input.overlap_tokens,
                    embedding_model=input.embedding_model,
                ),
                result_type=DocumentIngested,
                start_to_close_timeout=timedelta(minutes=30),
                # It beats every 2 s: a lost worker's document moves on within 10.
                heartbeat_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=8),
                summary=f"ingest {source.name}",
            )
        except ActivityError as err:
            # Retries ran out: this document failed, the others go on.
            _, message = describe_failure(err)
            return DocumentIngested(name=source.name, status="failed", error=message)
        return outcome

    def details(self) -> str:
        return f"{self.progress.completed}/{self.progress.total} documents"
