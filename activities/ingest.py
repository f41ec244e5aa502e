"""Ingesting one document into a collection: its text (stored, or fetched with fetch_url's
protections), its passages, an embedding for each passage not embedded before (paid once,
through the model limits and the ledger), and the document's passages replaced in one
transaction."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.billing import Billing
from activities.database_waits import until_stored
from activities.heartbeat import heartbeating
from activities.model_gate import RATE_LIMITED, ModelGate
from activities.tools.fetch_url import fetch_url
from activities.tools.registry import AddressCheck, ToolContext, ToolError
from core.contracts.ingest import (
    EMBED_BATCH,
    INGEST_DOCUMENT,
    DocumentIngested,
    IngestDocument,
)
from core.contracts.llm import TokenUsage
from core.contracts.tools import FetchUrlArgs
from core.embedding_client import OFFLINE_MODEL, Embedded, EmbeddingClient, EmbeddingFailed
from core.errors import InvalidInput
from core.passages import Passage, passages
from store import Stores
from store.embeddings import embedding_key
from store.ledger import Charge

log = structlog.get_logger(__name__)


class _Unusable(Exception):
    """The document cannot be ingested (no text, an unreachable URL): it fails alone."""


class IngestActivities:
    def __init__(
        self,
        embedder: EmbeddingClient,
        stores: Stores,
        gate: ModelGate,
        billing: Billing,
        http: httpx.AsyncClient,
        fetch_allowed_hosts: frozenset[str],
        fetch_addresses: AddressCheck,
        fetch_max_bytes: int,
    ) -> None:
        self._embedder = embedder
        self._stores = stores
        self._gate = gate
        self._billing = billing
        self._http = http
        self._allowed = fetch_allowed_hosts
        self._addresses = fetch_addresses
        self._max_bytes = fetch_max_bytes

    @activity.defn(name=INGEST_DOCUMENT)
    async def ingest_document(self, request: IngestDocument) -> DocumentIngested:
        """One document, as one unit: a retry (another worker's included) finds the
        embeddings an earlier attempt paid for, and pays for none of them again."""
        name = request.source.name
        async with heartbeating():
            try:
                text = await self._text(request)
                cut = passages(text, request.chunk_tokens, request.overlap_tokens)
                if not cut:
                    raise _Unusable("the document has no text")
                vectors, usage, embedded = await self._embeddings(request, cut)
                dimension = len(next(iter(vectors.values())))
                await self._stores.collections.ensure(
                    request.owner, request.collection, request.embedding_model, dimension
                )
            except (_Unusable, InvalidInput) as err:
                log.info("ingest.document_failed", document=name, reason=str(err))
                return DocumentIngested(name=name, status="failed", error=str(err))
            replaced = await until_stored(
                lambda: self._stores.collections.replace_document(
                    request.owner,
                    request.collection,
                    name,
                    request.source.url,
                    cut,
                    {p.digest: vectors[p.digest] for p in cut},
                ),
                "collection",
            )
        log.info("ingest.document", document=name, chunks=len(cut), embedded=embedded)
        return DocumentIngested(
            name=name,
            status="ingested",
            chunks=len(cut),
            added=replaced.added,
            reused=replaced.reused,
            removed=replaced.removed,
            embedded=embedded,
            usage=usage,
        )

    async def _text(self, request: IngestDocument) -> str:
        source = request.source
        if source.document_id is not None:
            found = await until_stored(
                lambda: self._stores.documents.read(request.owner, [source.document_id or ""]),
                "documents",
            )
            if source.document_id not in found:
                raise _Unusable(f"no stored document {source.document_id!r}")
            return found[source.document_id].text
        context = ToolContext(
            http=self._http,
            documents=self._stores.documents,
            tickets=self._stores.tickets,
            fetch_allowed_hosts=self._allowed,
            fetch_addresses=self._addresses,
            fetch_max_bytes=self._max_bytes,
            owner=request.owner,
            job_id=activity.info().workflow_id or "",
            idempotency_key=f"{activity.info().workflow_id}/{source.name}",
        )
        try:
            return await fetch_url(FetchUrlArgs(url=source.url or ""), context)
        except ToolError as err:
            raise _Unusable(f"cannot fetch {source.url}: {err}") from None
        except httpx.HTTPError as err:
            raise _Unusable(f"cannot fetch {source.url}: {type(err).__name__}") from None

    async def _embeddings(
        self, request: IngestDocument, cut: Sequence[Passage]
    ) -> tuple[dict[str, list[float]], TokenUsage, int]:
        """An embedding per passage digest: known ones read back, the rest asked for in
        batches and kept (with their ledger line) before anything else happens."""
        owner, model = request.owner, request.embedding_model
        keys = {p.digest: embedding_key(owner, model, p.text) for p in cut}
        known = await until_stored(
            lambda: self._stores.embeddings.known(list(set(keys.values()))), "embeddings"
        )
        wanted: dict[str, str] = {}  # key -> text, each text once
        for p in cut:
            if keys[p.digest] not in known:
                wanted.setdefault(keys[p.digest], p.text)
        usage = TokenUsage()
        pending = list(wanted.items())
        for start in range(0, len(pending), EMBED_BATCH):
            batch = pending[start : start + EMBED_BATCH]
            embedded = await self._embed(model, [text for _, text in batch])
            bill = (
                None
                if model == OFFLINE_MODEL
                else self._billing.bill(
                    owner, model, embedded.model, embedded.usage, part=f"embed-{start}"
                )
            )
            new = {key: vector for (key, _), vector in zip(batch, embedded.vectors, strict=True)}
            await self._keep(owner, model, new, bill.charge if bill else None)
            known.update(new)
            usage = usage + (bill.usage if bill else embedded.usage)
        return {p.digest: known[keys[p.digest]] for p in cut}, usage, len(wanted)

    async def _keep(
        self, owner: str, model: str, new: dict[str, list[float]], charge: Charge | None
    ) -> None:
        await until_stored(
            lambda: self._stores.embeddings.keep(owner, model, new, charge), "embeddings"
        )

    async def _embed(self, model: str, texts: list[str]) -> Embedded:
        async def call() -> Embedded:
            try:
                return await self._embedder.embed(model, texts)
            except EmbeddingFailed as err:
                raise ApplicationError(
                    str(err),
                    type=RATE_LIMITED if err.rate_limited else "EmbeddingFailed",
                    non_retryable=err.permanent,
                ) from err

        if model == OFFLINE_MODEL:
            return await call()
        estimate = sum(len(t) for t in texts) // 4
        return await self._gate.call(model, estimate, None, call)
