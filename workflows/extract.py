"""The `extract` job: one object fitting the caller's JSON Schema per document. Long documents
are read in parts whose objects are merged; a document that fails does not fail the others."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.job import JobWorkflow

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
    from core.failures import describe_failure


@workflow.defn(name="ExtractWorkflow")
class ExtractWorkflow(JobWorkflow[ExtractRun, ExtractProgress, ExtractResult]):
    async def steps(self, input: ExtractRun) -> ExtractResult:
        self.show("extracting", total=len(input.documents))
        limit = asyncio.Semaphore(input.max_parallel)
        items = await asyncio.gather(
            *(self._document(input, i, doc, limit) for i, doc in enumerate(input.documents))
        )
        return ExtractResult(
            items=list(items), models=sorted(self.models), usage=self.progress.usage
        )

    async def _document(
        self, job: ExtractRun, index: int, doc: ExtractDocument, limit: asyncio.Semaphore
    ) -> ExtractItem:
        item = ExtractItem(document=doc.label, document_id=doc.id, status="failed")
        parts, found = job.chunks(doc), []
        try:
            for number, text in enumerate(parts, start=1):
                of = f" part {number}/{len(parts)}" if len(parts) > 1 else ""
                request = StructuredRequest(
                    messages=_prompt(job, doc.label, number, len(parts), text),
                    json_schema=job.output_schema,
                    model=job.model,
                )
                async with limit:
                    step = f"doc-{index + 1}-part-{number}"
                    result = await self.ask_data(
                        request, step, f"extract {doc.label}{of}", job.max_repairs
                    )
                if result.errors:
                    why = f"the output did not fit the schema after {job.max_repairs} repairs"
                    item.errors = [why, *result.errors]
                    break
                found.append(result.data)
        except ActivityError as err:
            # The model could not be reached or refused, whatever the fallbacks: this
            # document fails, the others go on.
            error_type, message = describe_failure(err)
            item.errors = [f"{error_type}: {message}"]
        if not item.errors:
            item.data, item.status = _merge(found), "ok"
        self.show(completed=self.progress.completed + 1)
        return item

    def details(self) -> str:
        return f"{self.progress.completed}/{self.progress.total} documents"


def _prompt(job: ExtractRun, name: str, number: int, count: int, text: str) -> list[ChatMessage]:
    part = f" (part {number} of {count}; fill what this part says, null what it does not)"
    system = (
        "Extract data from the user's document. Reply with JSON only, fitting this JSON "
        f"Schema exactly:\n{json.dumps(job.output_schema)}"
        + (f"\n\n{job.instructions}" if job.instructions else "")
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
