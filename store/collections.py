"""Collections for retrieval: an owner's documents cut into passages, each with its embedding
and full-text vector, replaced a document at a time, and searched by both at once (reciprocal
rank fusion), always within one owner's collection."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InvalidInput
from core.passages import Passage
from store.tables import collection_chunks, collection_documents, collections

# Reciprocal rank fusion's constant: a passage ranked r by one search scores 1 / (K + r).
RRF_K = 60
# Each search ranks this many candidates before they are fused.
CANDIDATES = 50


@dataclass(frozen=True)
class Collection:
    owner: str
    name: str
    embedding_model: str
    dimension: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class CollectionStats:
    documents: int
    chunks: int
    tokens: int


@dataclass(frozen=True)
class StoredDocument:
    id: str
    name: str
    source: str | None
    chunks: int
    tokens: int
    updated_at: datetime


@dataclass(frozen=True)
class Replaced:
    """What re-ingesting a document did to its passages."""

    added: int
    reused: int
    removed: int


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    document_id: str
    document: str
    position: int
    headings: tuple[str, ...]
    text: str
    score: float
    vector_rank: int | None
    text_rank: int | None


def document_id(owner: str, collection: str, name: str) -> str:
    digest = hashlib.sha256(f"{owner}\0{collection}\0{name}".encode()).hexdigest()[:24]
    return f"doc-{digest}"


class CollectionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def ensure(self, owner: str, name: str, model: str, dimension: int) -> Collection:
        """The collection, made on first use; InvalidInput (422) when it was built with
        another embedding model or dimension: a collection never mixes vector spaces."""
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(collections)
                .values(owner=owner, name=name, embedding_model=model, dimension=dimension)
                .on_conflict_do_nothing(index_elements=["owner", "name"])
            )
            row = (
                await conn.execute(
                    select(collections).where(
                        collections.c.owner == owner, collections.c.name == name
                    )
                )
            ).one()
        found = Collection(**row._mapping)
        if (found.embedding_model, found.dimension) != (model, dimension):
            raise InvalidInput(
                ("body", "input", "embedding_model"),
                f"collection {name!r} was built with {found.embedding_model} "
                f"({found.dimension} dimensions), not {model} ({dimension}): a collection "
                "keeps one embedding model",
            )
        return found

    async def known_embeddings(
        self, owner: str, collection: str, name: str, digests: Sequence[str]
    ) -> dict[str, list[float]]:
        """Embeddings the document's current passages already have, by digest."""
        if not digests:
            return {}
        chunks = collection_chunks
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(chunks.c.digest, chunks.c.embedding).where(
                    chunks.c.document_id == document_id(owner, collection, name),
                    chunks.c.digest.in_(list(digests)),
                )
            )
            return {row.digest: [float(v) for v in row.embedding] for row in rows}

    async def replace_document(
        self,
        owner: str,
        collection: str,
        name: str,
        source: str | None,
        passages: Sequence[Passage],
        embeddings: Mapping[str, Sequence[float]],
    ) -> Replaced:
        """Make the document's passages exactly `passages`, in one transaction: a search sees
        the old version or the new one, never a mix. `embeddings` holds one per digest."""
        doc_id = document_id(owner, collection, name)
        chunks = collection_chunks
        async with self._engine.begin() as conn:
            dimension = (
                await conn.execute(
                    select(collections.c.dimension).where(
                        collections.c.owner == owner, collections.c.name == collection
                    )
                )
            ).scalar_one()
            await conn.execute(
                insert(collection_documents)
                .values(
                    id=doc_id,
                    owner=owner,
                    collection=collection,
                    name=name,
                    source=source,
                    chunks=len(passages),
                    tokens=sum(p.tokens for p in passages),
                )
                .on_conflict_do_update(
                    index_elements=["id"],
                    set_={
                        "source": source,
                        "chunks": len(passages),
                        "tokens": sum(p.tokens for p in passages),
                        "updated_at": func.now(),
                    },
                )
            )
            old = set(
                (
                    await conn.execute(
                        select(chunks.c.digest).where(chunks.c.document_id == doc_id)
                    )
                ).scalars()
            )
            await conn.execute(delete(chunks).where(chunks.c.document_id == doc_id))
            if passages:
                await conn.execute(
                    insert(chunks),
                    [
                        {
                            "owner": owner,
                            "collection": collection,
                            "document_id": doc_id,
                            "position": p.position,
                            "headings": list(p.headings),
                            "text": p.text,
                            "digest": p.digest,
                            "tokens": p.tokens,
                            "dimension": dimension,
                            "embedding": list(embeddings[p.digest]),
                        }
                        for p in passages
                    ],
                )
            await conn.execute(
                update(collections)
                .where(collections.c.owner == owner, collections.c.name == collection)
                .values(updated_at=func.now())
            )
        new = {p.digest for p in passages}
        return Replaced(added=len(new - old), reused=len(new & old), removed=len(old - new))

    async def search(
        self,
        owner: str,
        collection: str,
        query: str,
        vector: Sequence[float],
        k: int,
        mode: Literal["hybrid", "vector", "text"] = "hybrid",
    ) -> list[Hit]:
        """The `k` best passages of the owner's collection: vector similarity (cosine) and
        full-text rank, fused by reciprocal rank (`mode` keeps one of them alone, to compare).
        Nothing outside the collection is read."""
        dimension = len(vector)
        # An integer from the vector's length, not from the caller: safe to write into SQL,
        # and the partial index for that dimension matches the expression.
        as_typed = f"(embedding::vector({int(dimension)}))"
        statement = text(
            f"""
            WITH by_vector AS (
                SELECT id, row_number() OVER (ORDER BY {as_typed} <=> :vector) AS rank
                FROM collection_chunks
                WHERE owner = :owner AND collection = :collection AND dimension = :dimension
                ORDER BY {as_typed} <=> :vector
                LIMIT :vector_candidates
            ),
            by_text AS (
                SELECT id, row_number() OVER (ORDER BY ts_rank_cd(search_text, q) DESC) AS rank
                FROM collection_chunks, (
                    -- Any of the query's words, not all: a question's words are rarely all
                    -- in the passage that answers it; the rank prefers passages with more.
                    SELECT to_tsquery('simple', string_agg(quote_literal(lexeme), ' | ')) AS q
                    FROM unnest(to_tsvector('english', :query))
                ) AS words
                WHERE owner = :owner AND collection = :collection AND search_text @@ q
                ORDER BY ts_rank_cd(search_text, q) DESC
                LIMIT :text_candidates
            )
            SELECT c.id, c.document_id, d.name AS document, c.position, c.headings, c.text,
                   v.rank AS vector_rank, t.rank AS text_rank,
                   COALESCE(1.0 / (:rrf + v.rank), 0) + COALESCE(1.0 / (:rrf + t.rank), 0)
                       AS score
            FROM (SELECT id FROM by_vector UNION SELECT id FROM by_text) AS found
            JOIN collection_chunks AS c ON c.id = found.id
            JOIN collection_documents AS d ON d.id = c.document_id
            LEFT JOIN by_vector AS v ON v.id = c.id
            LEFT JOIN by_text AS t ON t.id = c.id
            ORDER BY score DESC, c.id
            LIMIT :k
            """  # noqa: S608 (its one interpolation is the integer above)
        ).bindparams(bindparam("vector", type_=collection_chunks.c.embedding.type))
        async with self._engine.begin() as conn:
            # A filtered HNSW scan goes on until it has enough rows of this collection.
            await conn.execute(text("SET LOCAL hnsw.iterative_scan = 'relaxed_order'"))
            rows = await conn.execute(
                statement,
                {
                    "vector": list(vector),
                    "owner": owner,
                    "collection": collection,
                    "dimension": dimension,
                    "query": query,
                    "vector_candidates": 0 if mode == "text" else CANDIDATES,
                    "text_candidates": 0 if mode == "vector" else CANDIDATES,
                    "rrf": RRF_K,
                    "k": k,
                },
            )
            return [
                Hit(
                    chunk_id=row.id,
                    document_id=row.document_id,
                    document=row.document,
                    position=row.position,
                    headings=tuple(row.headings),
                    text=row.text,
                    score=float(row.score),
                    vector_rank=row.vector_rank,
                    text_rank=row.text_rank,
                )
                for row in rows
            ]

    async def get(self, owner: str, name: str) -> Collection | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(collections).where(
                        collections.c.owner == owner, collections.c.name == name
                    )
                )
            ).one_or_none()
        return None if row is None else Collection(**row._mapping)

    async def delete(self, owner: str, name: str) -> bool:
        """The collection, its documents and passages; False when the owner had none."""
        async with self._engine.begin() as conn:
            # Its documents and their passages go with it (ON DELETE CASCADE).
            done = await conn.execute(
                delete(collections).where(collections.c.owner == owner, collections.c.name == name)
            )
        return bool(done.rowcount)

    async def owned(self, owner: str) -> list[tuple[Collection, CollectionStats]]:
        """The owner's collections, by name, with their sizes."""
        docs = collection_documents
        stats = (
            select(
                docs.c.collection,
                func.count().label("documents"),
                func.coalesce(func.sum(docs.c.chunks), 0).label("chunks"),
                func.coalesce(func.sum(docs.c.tokens), 0).label("tokens"),
            )
            .where(docs.c.owner == owner)
            .group_by(docs.c.collection)
            .subquery()
        )
        query = (
            select(collections, stats.c.documents, stats.c.chunks, stats.c.tokens)
            .outerjoin(stats, stats.c.collection == collections.c.name)
            .where(collections.c.owner == owner)
            .order_by(collections.c.name)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            (
                Collection(
                    owner=row.owner,
                    name=row.name,
                    embedding_model=row.embedding_model,
                    dimension=row.dimension,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                ),
                CollectionStats(row.documents or 0, int(row.chunks or 0), int(row.tokens or 0)),
            )
            for row in rows
        ]

    async def documents(self, owner: str, name: str) -> list[StoredDocument]:
        docs = collection_documents
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(docs)
                .where(docs.c.owner == owner, docs.c.collection == name)
                .order_by(docs.c.name)
            )
            return [
                StoredDocument(r.id, r.name, r.source, r.chunks, r.tokens, r.updated_at)
                for r in rows
            ]

    async def delete_document(self, owner: str, name: str, doc_id: str) -> bool:
        """One document and its passages; False when the owner's collection has no such id."""
        docs = collection_documents
        async with self._engine.begin() as conn:
            done = await conn.execute(
                delete(docs).where(
                    docs.c.owner == owner, docs.c.collection == name, docs.c.id == doc_id
                )
            )
        return bool(done.rowcount)
