"""A job workflow's run input, as the API starts it: the job's input with its documents
stored (history then carries names and ids, never texts), plus its options with the
deployment's defaults. A start and a schedule's job are built alike."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.job_bounds import with_defaults
from core.config import Settings
from core.contracts.agent import AgentInput, AgentStart
from core.contracts.extract import ExtractInput
from core.contracts.ingest import IngestInput, IngestRun, StoredSource
from core.contracts.options import JobOptions
from core.contracts.plan import JobInput
from core.contracts.tools import Document
from store import Stores
from store.database import outage_as_unavailable


async def run_input(
    job_input: JobInput, options: JobOptions, owner: str, settings: Settings, stores: Stores
) -> dict[str, Any]:
    """The job workflow's run input for `owner`'s job."""
    options = with_defaults(job_input, options, settings)
    start_input = await _claim_documents(job_input, owner, settings, stores)
    return {**start_input.model_dump(mode="json"), "options": options.model_dump(mode="json")}


async def _claim_documents(
    job_input: BaseModel, owner: str, settings: Settings, stores: Stores
) -> BaseModel:
    """Store a job's documents once and start it with their ids. An `extract` job's texts are
    stored too, so its items can name ids a later job may send instead."""
    if isinstance(job_input, ExtractInput):
        given = [Document(name=d.label, text=d.body) for d in job_input.documents]
        async with outage_as_unavailable():
            refs = await stores.documents.put(owner, given)
        documents = [
            d.model_copy(update={"id": ref.id})
            for d, ref in zip(job_input.documents, refs, strict=True)
        ]
        return job_input.model_copy(update={"documents": documents})
    if isinstance(job_input, IngestInput):
        return await _claim_ingest(job_input, owner, settings, stores)
    if not isinstance(job_input, AgentInput) or not job_input.documents:
        return job_input
    async with outage_as_unavailable():
        refs = await stores.documents.put(owner, job_input.documents)
    return AgentStart(**job_input.model_dump(exclude={"documents"}), document_refs=refs)


async def _claim_ingest(
    job_input: IngestInput, owner: str, settings: Settings, stores: Stores
) -> IngestRun:
    """An ingest job carries names and stored ids (or URLs), never texts."""
    given = [
        Document(name=d.name or "", text=d.text) for d in job_input.documents if d.text is not None
    ]
    stored_ids = [d.id for d in job_input.documents if d.id is not None]
    async with outage_as_unavailable():
        refs = iter(await stores.documents.put(owner, given))
        stored = await stores.documents.read(owner, stored_ids)
    sources = []
    for d in job_input.documents:
        if d.text is not None:
            ref = next(refs)
            sources.append(StoredSource(name=ref.name, document_id=ref.id))
        elif d.id is not None:
            sources.append(StoredSource(name=d.name or stored[d.id].name, document_id=d.id))
        else:
            sources.append(StoredSource(name=d.name or d.url or "", url=d.url))
    return IngestRun(
        collection=job_input.collection,
        documents=sources,
        chunk_tokens=job_input.chunk_tokens,
        overlap_tokens=job_input.overlap_tokens,
        embedding_model=job_input.embedding_model or settings.default_embedding_model,
    )
