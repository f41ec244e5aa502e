"""The `extract` job: one object fitting the caller's JSON Schema per document. Long documents
are read in parts whose objects are merged; a document that fails does not fail the others."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.events import EventLog, record_final_progress
from workflows.llm_step import check_budget
from workflows.structured import ask_structured

with workflow.unsafe.imports_passed_through():
    from core.contracts.extract import (
        ExtractDocument,
        ExtractItem,
        ExtractProgress,
        ExtractResult,
        ExtractRun,
    )
    from core.contracts.llm import ChatMessage
    from core.contracts.structured import StructuredRequest
    from core.events import StageEvent, StepCompletedEvent
    from core.failures import describe_failure


@workflow.defn(name="ExtractWorkflow")
class ExtractWorkflow:
    @workflow.init
    def __init__(self, input: ExtractRun) -> None:
        self._input = input
        self._progress = ExtractProgress(total=len(input.documents))
        self._models: set[str] = set()
        # Design 1 (core.contracts.options.DESIGN) knows, without patch markers, that it
        # began with the event log and the final-progress memo.
        self._unpatched = input.design >= 1
        self.events = EventLog(to_database=self._unpatched or None)

    @workflow.query(name="progress")
    def progress(self) -> ExtractProgress:
        return self._progress

    @workflow.run
    async def run(self, input: ExtractRun) -> ExtractResult:
        return await self.events.report(lambda: self._extract(input))

    async def _extract(self, input: ExtractRun) -> ExtractResult:
        self._show()
        limit = asyncio.Semaphore(input.max_parallel)
        items = await asyncio.gather(
            *(self._document(index, doc, limit) for index, doc in enumerate(input.documents))
        )
        self._progress.stage = "done"
        self._show()
        record_final_progress(self._progress, unpatched=self._unpatched)
        return ExtractResult(
            items=list(items), models=sorted(self._models), usage=self._progress.usage
        )

    async def _document(
        self, index: int, doc: ExtractDocument, limit: asyncio.Semaphore
    ) -> ExtractItem:
        parts = self._input.chunks(doc)
        try:
            found = [
                await self._part(index, doc.label, number, len(parts), part, limit)
                for number, part in enumerate(parts, start=1)
            ]
        except ActivityError as err:
            # The model could not be reached or refused, whatever the fallbacks: this
            # document fails, the others go on.
            error_type, message = describe_failure(err)
            item = ExtractItem(
                document=doc.label,
                document_id=doc.id,
                status="failed",
                errors=[f"{error_type}: {message}"],
            )
        else:
            failed = next((errors for _, errors in found if errors), None)
            item = (
                ExtractItem(document=doc.label, document_id=doc.id, status="failed", errors=failed)
                if failed
                else ExtractItem(
                    document=doc.label,
                    document_id=doc.id,
                    data=_merge([d for d, _ in found]),
                    status="ok",
                )
            )
        self._progress.completed += 1
        self._show()
        return item

    async def _part(
        self,
        index: int,
        name: str,
        number: int,
        count: int,
        text: str,
        limit: asyncio.Semaphore,
    ) -> tuple[Any, list[str]]:
        job = self._input
        step = f"doc-{index + 1}-part-{number}"
        async with limit:
            check_budget(job.options, self._progress.usage)
            result = await ask_structured(
                StructuredRequest(
                    messages=_prompt(
                        job.instructions, job.output_schema, name, number, count, text
                    ),
                    json_schema=job.output_schema,
                    model=job.model,
                    step=step,
                    cache=job.options.cache,
                ),
                f"extract {name}" + (f" part {number}/{count}" if count > 1 else ""),
                job.max_repairs,
                job.options.fallback_models,
                self.events,
            )
        self._models.add(result.model)
        self._progress.usage = self._progress.usage + result.usage
        self.events.publish(
            StepCompletedEvent(
                step=step,
                input_tokens=result.usage.input_tokens,
                output_tokens=result.usage.output_tokens,
                source=result.source,
            )
        )
        if result.errors:
            errors = [
                f"the output did not fit the schema after {job.max_repairs} repairs",
                *result.errors,
            ]
            return None, errors
        return result.data, []

    def _show(self) -> None:
        p = self._progress
        self.events.publish(StageEvent(stage=p.stage, completed=p.completed, total=p.total))
        workflow.set_current_details(
            f"**{p.stage}** · {p.completed}/{p.total} documents · {p.usage.shown()}"
        )


def _prompt(
    instructions: str | None,
    schema: dict[str, Any],
    name: str,
    number: int,
    count: int,
    text: str,
) -> list[ChatMessage]:
    part = f" (part {number} of {count}; fill what this part says, null what it does not)"
    system = (
        "Extract data from the user's document. Reply with JSON only, fitting this JSON "
        f"Schema exactly:\n{json.dumps(schema)}" + (f"\n\n{instructions}" if instructions else "")
    )
    return [
        ChatMessage(role="system", content=system),
        ChatMessage(role="user", content=f"Document {name}{part if count > 1 else ''}:\n\n{text}"),
    ]


def _merge(parts: list[Any]) -> Any:
    """One object from the parts of a long document: the first value found for each field,
    lists joined. Anything that is not an object comes from the first part."""
    if not parts or not all(isinstance(p, dict) for p in parts):
        return parts[0] if parts else None
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, list) and isinstance(merged.get(key), list):
                merged[key] = [*merged[key], *(v for v in value if v not in merged[key])]
            elif merged.get(key) in (None, "", []):
                merged[key] = value
    return merged
