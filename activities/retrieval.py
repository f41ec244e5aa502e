"""The answer job's retrieval step: the question embedded with the collection's own model
(billed like any call) and the collection searched by vector and full text at once."""

from __future__ import annotations

import time

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.billing import Billing
from activities.database_waits import until_stored
from activities.step_log import StepLog
from core.contracts.answer import (
    RETRIEVE_PASSAGES,
    Retrieved,
    RetrievedPassage,
    RetrieveRequest,
)
from core.contracts.llm import TokenUsage
from core.embedding_client import OFFLINE_MODEL, EmbeddingClient, EmbeddingFailed
from store import Stores
from store.collections import Hit


class RetrievalActivities:
    def __init__(
        self,
        embedder: EmbeddingClient,
        stores: Stores,
        billing: Billing,
        default_model: str,
        steps: StepLog | None = None,
    ) -> None:
        self._steps = steps or StepLog(None)
        self._default_model = default_model
        self._embedder = embedder
        self._stores = stores
        self._billing = billing

    @activity.defn(name=RETRIEVE_PASSAGES)
    async def retrieve_passages(self, request: RetrieveRequest) -> Retrieved:
        """The `retrieve` step: taken from the recording in a rerun or a replay (no embedding
        call), else run and recorded."""
        asked = {
            "collection": request.collection,
            "question": request.question,
            "top_k": request.top_k,
        }
        step = self._steps.begin(request.recording, request.owner, "retrieve", "tool", asked)
        if row := await step.taken():
            return Retrieved.model_validate({**row.answer, "usage": step.usage(row)})
        retrieved = await self._retrieve(request)
        kept = retrieved.model_dump(mode="json", exclude={"usage"})
        await step.ran(kept, retrieved.embedding_model, "tool", retrieved.usage)
        return retrieved

    async def _retrieve(self, request: RetrieveRequest) -> Retrieved:
        started = time.perf_counter()
        model, hits, usage = await self._search(
            request.owner, request.collection, request.question, request.top_k
        )
        return Retrieved(
            passages=[
                RetrievedPassage(
                    chunk_id=h.chunk_id,
                    document=h.document,
                    document_id=h.document_id,
                    headings=list(h.headings),
                    text=h.text,
                    score=h.score,
                )
                for h in hits
            ],
            embedding_model=model,
            default_model=self._default_model,
            took_ms=round((time.perf_counter() - started) * 1000, 1),
            usage=usage,
        )

    async def search(self, owner: str, collection: str, query: str, k: int) -> list[Hit]:
        """The same hybrid search, for a tool inside an activity (an agent's
        `search_documents` over the collections its job names)."""
        _, hits, _ = await self._search(owner, collection, query, k)
        return hits

    async def _search(
        self, owner: str, name: str, query: str, k: int
    ) -> tuple[str, list[Hit], TokenUsage]:
        """The question embedded with the collection's own model (billed), then searched."""
        collection = await until_stored(
            lambda: self._stores.collections.get(owner, name), "collection"
        )
        if collection is None:
            raise ApplicationError(
                f"no collection {name!r}: ingest documents into it first",
                type="CollectionNotFound",
                non_retryable=True,
            )
        model = collection.embedding_model
        try:
            embedded = await self._embedder.embed(model, [query])
        except EmbeddingFailed as err:
            raise ApplicationError(
                str(err), type="EmbeddingFailed", non_retryable=err.permanent
            ) from err
        usage = embedded.usage
        if model != OFFLINE_MODEL:
            bill = self._billing.bill(owner, model, embedded.model, usage, part=f"search-{name}")
            usage = bill.usage
            await until_stored(lambda: self._stores.ledger.record(bill.charge), "ledger line")
        hits = await until_stored(
            lambda: self._stores.collections.search(owner, name, query, embedded.vectors[0], k),
            "collection",
        )
        return model, hits, usage
