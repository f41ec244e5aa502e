"""Routes for collections: an owner's documents for retrieval, filled by `ingest` jobs, and
searched synchronously (no workflow) for interactive use."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from api.deps import CurrentOwner, SettingsDep, StoresDep
from api.responses import V1, errors
from api.schemas import (
    CollectionDetail,
    CollectionDocument,
    CollectionPage,
    CollectionSummary,
    SearchHit,
    SearchResults,
)
from core.contracts.ingest import COLLECTION_PATTERN
from core.contracts.text import StorableText
from core.embedding_client import OFFLINE_MODEL, EmbeddingClient, EmbeddingFailed
from core.errors import CollectionNotFound, ModelUnavailable
from core.pricing import ModelPrices
from store.collections import Collection, CollectionStats
from store.database import outage_as_unavailable
from store.ledger import Charge

router = APIRouter(prefix="/v1/collections", tags=["collections"], responses=errors(*V1))

Name = Annotated[str, Path(pattern=COLLECTION_PATTERN, description="The collection's name.")]


@router.get("", response_model=CollectionPage)
async def list_collections(owner: CurrentOwner, stores: StoresDep) -> CollectionPage:
    async with outage_as_unavailable():
        owned = await stores.collections.owned(owner)
    return CollectionPage(collections=[_summary(c, s) for c, s in owned])


@router.get("/{name}", response_model=CollectionDetail, responses=errors(404))
async def get_collection(name: Name, owner: CurrentOwner, stores: StoresDep) -> CollectionDetail:
    """The collection, its size and model, and its documents."""
    async with outage_as_unavailable():
        found = {c.name: (c, s) for c, s in await stores.collections.owned(owner)}
        documents = await stores.collections.documents(owner, name)
    if name not in found:
        raise CollectionNotFound(name)
    return CollectionDetail(
        **_summary(*found[name]).model_dump(),
        document_list=[CollectionDocument(**d.__dict__) for d in documents],
    )


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
async def delete_collection(name: Name, owner: CurrentOwner, stores: StoresDep) -> Response:
    async with outage_as_unavailable():
        if not await stores.collections.delete(owner, name):
            raise CollectionNotFound(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/{name}/documents/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def delete_document(
    name: Name,
    document_id: Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")],
    owner: CurrentOwner,
    stores: StoresDep,
) -> Response:
    async with outage_as_unavailable():
        if not await stores.collections.delete_document(owner, name, document_id):
            raise CollectionNotFound(f"{name}/{document_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{name}/search", response_model=SearchResults, responses=errors(404))
async def search_collection(
    name: Name,
    request: Request,
    owner: CurrentOwner,
    stores: StoresDep,
    settings: SettingsDep,
    q: Annotated[
        StorableText, Query(min_length=1, max_length=2000, description="What to look for.")
    ],
    k: Annotated[int, Query(ge=1, le=50)] = 8,
) -> SearchResults:
    """The `k` best passages: cosine similarity and full-text rank, fused. The query is
    embedded with the collection's own model, and billed to you like any call."""
    started = time.perf_counter()
    async with outage_as_unavailable():
        collection = await stores.collections.get(owner, name)
    if collection is None:
        raise CollectionNotFound(name)
    embedder: EmbeddingClient = request.app.state.embedder
    try:
        embedded = await embedder.embed(collection.embedding_model, [q])
    except EmbeddingFailed as err:
        raise ModelUnavailable(f"cannot embed the query: {err}") from None
    if collection.embedding_model != OFFLINE_MODEL:
        usage = embedded.usage
        cost = ModelPrices(settings.model_prices).cost(
            collection.embedding_model, usage.input_tokens, 0
        )
        charge = Charge(
            key=f"search/{uuid.uuid4().hex}",
            owner=owner,
            job_id="",
            job_type="search",
            model=embedded.model,
            input_tokens=usage.input_tokens,
            output_tokens=0,
            cost_usd=cost,
        )
        async with outage_as_unavailable():
            await stores.ledger.record(charge)
    async with outage_as_unavailable():
        hits = await stores.collections.search(owner, name, q, embedded.vectors[0], k)
    return SearchResults(
        collection=name,
        query=q,
        hits=[SearchHit(**{**h.__dict__, "headings": list(h.headings)}) for h in hits],
        took_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def _summary(collection: Collection, stats: CollectionStats) -> CollectionSummary:
    return CollectionSummary(
        name=collection.name,
        embedding_model=collection.embedding_model,
        dimension=collection.dimension,
        documents=stats.documents,
        chunks=stats.chunks,
        tokens=stats.tokens,
        created_at=collection.created_at,
        last_ingest=collection.updated_at,
    )
