"""The application's own state in PostgreSQL, behind small async stores, one per kind of data.

Activities and the API use the stores; workflows never do (they call activities).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from store.collections import CollectionStore
from store.conversations import ConversationStore
from store.documents import DocumentStore
from store.embeddings import EmbeddingCache
from store.inbox_claims import InboxClaims
from store.job_events import JobEventLog
from store.job_requests import JobRequests
from store.job_steps import StepRecords
from store.ledger import Ledger
from store.model_answers import ModelAnswers
from store.model_calls import ModelCallLog
from store.outbox import Outbox
from store.rate_limits import PostgresLimitStorage
from store.running_jobs import RunningJobs
from store.tickets import TicketStore
from store.webhooks import WebhookStore


@dataclass(frozen=True)
class Stores:
    """Every store, sharing one engine (one connection pool per process)."""

    engine: AsyncEngine
    conversations: ConversationStore
    documents: DocumentStore
    tickets: TicketStore
    outbox: Outbox
    events: JobEventLog
    ledger: Ledger
    rate_limits: PostgresLimitStorage
    model_calls: ModelCallLog
    answers: ModelAnswers
    running: RunningJobs
    webhooks: WebhookStore
    claims: InboxClaims
    collections: CollectionStore
    embeddings: EmbeddingCache
    requests: JobRequests
    steps: StepRecords

    @classmethod
    def on(cls, engine: AsyncEngine) -> Stores:
        return cls(
            engine=engine,
            conversations=ConversationStore(engine),
            documents=DocumentStore(engine),
            tickets=TicketStore(engine),
            outbox=Outbox(engine),
            events=JobEventLog(engine),
            ledger=Ledger(engine),
            rate_limits=PostgresLimitStorage(engine),
            model_calls=ModelCallLog(engine),
            answers=ModelAnswers(engine),
            running=RunningJobs(engine),
            webhooks=WebhookStore(engine),
            claims=InboxClaims(engine),
            collections=CollectionStore(engine),
            embeddings=EmbeddingCache(engine),
            requests=JobRequests(engine),
            steps=StepRecords(engine),
        )


__all__ = [
    "CollectionStore",
    "ConversationStore",
    "DocumentStore",
    "EmbeddingCache",
    "InboxClaims",
    "JobEventLog",
    "JobRequests",
    "Ledger",
    "ModelAnswers",
    "ModelCallLog",
    "Outbox",
    "PostgresLimitStorage",
    "RunningJobs",
    "StepRecords",
    "Stores",
    "TicketStore",
    "WebhookStore",
]
