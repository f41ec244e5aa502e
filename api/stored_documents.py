"""An `extract` job's documents given by id: read from the caller's own store at the door, so
the job's plan, bounds and budget see the real texts."""

from __future__ import annotations

from core.contracts.extract import MAX_TOTAL_CHARS, ExtractInput
from core.contracts.plan import JobInput
from core.errors import InvalidInput
from store.database import outage_as_unavailable
from store.documents import DocumentStore


async def read_stored_documents(owner: str, job_input: JobInput, store: DocumentStore) -> JobInput:
    if not isinstance(job_input, ExtractInput):
        return job_input
    docs = job_input.documents
    for index, doc in enumerate(docs):
        if doc.id is not None and doc.text is not None:
            raise InvalidInput(
                ("body", "input", "documents", index),
                "give a document's `text` or its stored `id`, not both",
            )
    wanted = [doc.id for doc in docs if doc.id is not None]
    async with outage_as_unavailable():
        found = await store.read(owner, wanted)
    for index, doc in enumerate(docs):
        if doc.id is not None and doc.id not in found:
            raise InvalidInput(
                ("body", "input", "documents", index, "id"),
                f"no stored document {doc.id!r} (ids come from your own earlier jobs)",
            )
    read = [
        doc.model_copy(update={"name": doc.name or found[doc.id].name, "text": found[doc.id].text})
        if doc.id is not None
        else doc
        for doc in docs
    ]
    total = sum(len(doc.body) for doc in read)
    if total > MAX_TOTAL_CHARS:
        raise InvalidInput(
            ("body", "input", "documents"),
            f"the documents hold {total:,} characters; one job reads at most {MAX_TOTAL_CHARS:,}",
        )
    return job_input.model_copy(update={"documents": read})
