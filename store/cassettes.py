"""Cassettes and step records, both ways: a job's records as a cassette's steps, and an
imported cassette kept as records under a new cassette id."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from core.contracts.llm import TokenUsage
from core.contracts.steps import CASSETTE_PREFIX, Cassette, RecordedStep
from store.job_requests import JobRequest, JobRequests
from store.job_steps import StepRecords, StepRow


async def import_cassette(
    requests: JobRequests, steps: StepRecords, owner: str, cassette: Cassette
) -> str:
    """The new cassette's id; only `owner` can replay it. Its steps are kept before its
    request, so it can be named in a start only once every step is there."""
    cassette_id = f"{CASSETTE_PREFIX}{uuid.uuid4().hex}"
    imported_at = datetime.now(UTC)
    rows = [
        StepRow(
            job_id=cassette_id,
            name=s.name,
            owner=owner,
            kind=s.kind,
            request=s.request,
            digest=s.digest,
            answer=s.answer,
            model=s.model,
            source="recording",
            usage=s.usage.model_dump(mode="json"),
            # In the cassette's order: the steps list reads them back the same way.
            started_at=imported_at + timedelta(microseconds=index),
            ended_at=imported_at + timedelta(microseconds=index),
        )
        for index, s in enumerate(cassette.steps)
    ]
    await steps.record(rows)
    await requests.keep(
        JobRequest(
            job_id=cassette_id,
            owner=owner,
            type=cassette.job.type,
            input=cassette.job.input,
            options=cassette.job.options,
        )
    )
    return cassette_id


def recorded_steps(rows: Sequence[StepRow]) -> list[RecordedStep]:
    """A job's step records as a cassette carries them."""
    return [
        RecordedStep(
            name=r.name,
            kind=r.kind,
            request=r.request,
            digest=r.digest,
            answer=r.answer,
            model=r.model,
            usage=TokenUsage.model_validate(r.usage),
        )
        for r in rows
    ]
