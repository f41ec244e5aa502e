"""The answer job's retrieval step: the question embedded with the collection's own model
(billed like any call) and the collection searched by vector and full text at once."""

from __future__ import annotations

import time

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.billing import Billing
from activities.database_waits import until_stored
from core.contracts.answer import (
    RETRIEVE_PASSAGES,
    Retrieved,
    RetrievedPassage,
    RetrieveRequest,
)
from core.embedding_client import OFFLINE_MODEL, EmbeddingClient, EmbeddingFailed
from store import Stores


class RetrievalActivities:
    def __init__(
        self, embedder: EmbeddingClient, stores: Stores, billing: Billing, default_model: str
    ) -> None:
        self._default_model = default_model
        self._embedder = embedder
        self._stores = stores
        self._billing = billing

    @activity.defn(name=RETRIEVE_PASSAGES)
    async def retrieve_passages(self, request: RetrieveRequest) -> Retrieved:
        started = time.perf_counter()
        collection = await until_stored(
            lambda: self._stores.collections.get(request.owner, request.collection),
            "collection",
        )
        if collection is None:
            raise ApplicationError(
                f"no collection {request.collection!r}: ingest documents into it first",
                type="CollectionNotFound",
                non_retryable=True,
            )
        model = collection.embedding_model
        try:
            embedded = await self._embedder.embed(model, [request.question])
        except EmbeddingFailed as err:
            raise ApplicationError(
                str(err), type="EmbeddingFailed", non_retryable=err.permanent
            ) from err
        usage = embedded.usage
        if model != OFFLINE_MODEL:
            bill = self._billing.bill(request.owner, model, embedded.model, usage)
            usage = bill.usage
            await until_stored(lambda: self._stores.ledger.record(bill.charge), "ledger line")
        hits = await until_stored(
            lambda: self._stores.collections.search(
                request.owner,
                request.collection,
                request.question,
                embedded.vectors[0],
                request.top_k,
            ),
            "collection",
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
