"""FastAPI dependencies as `Annotated` aliases: settings, the Temporal client, the calling owner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from api.event_hub import EventHub
from api.temporal_connection import TemporalConnection
from core.config import Reviewer, Settings, owner_of, reviewer_of
from core.errors import NotAllowed, NotAuthenticated
from store import Stores

_bearer = HTTPBearer(auto_error=False, description="An API key from AIJOBS_API_KEYS.")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]


async def _temporal_client(request: Request) -> Client:
    connection: TemporalConnection = request.app.state.temporal
    return await connection.client()


TemporalClient = Annotated[Client, Depends(_temporal_client)]


def _stores(request: Request) -> Stores:
    stores: Stores = request.app.state.stores
    return stores


StoresDep = Annotated[Stores, Depends(_stores)]


def _event_hub(request: Request) -> EventHub:
    hub: EventHub = request.app.state.event_hub
    return hub


EventHubDep = Annotated[EventHub, Depends(_event_hub)]


@dataclass(frozen=True)
class Caller:
    """Who presented the key: an owner (their jobs, everything) or a reviewer (answers to the
    questions of jobs granted to their groups, nothing else)."""

    owner: str | None = None
    reviewer: Reviewer | None = None

    @property
    def name(self) -> str:
        """The rate-limit and audit name: the owner's, or `reviewer:<name>`."""
        return self.owner if self.owner is not None else f"reviewer:{self.reviewer_or_fail.name}"

    @property
    def reviewer_or_fail(self) -> Reviewer:
        if self.reviewer is None:
            raise NotAllowed("the inbox is for reviewer keys (AIJOBS_REVIEWERS)")
        return self.reviewer


def _current_caller(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The owner or reviewer whose key was presented. Every key is compared, in constant
    time."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("send an API key as 'Authorization: Bearer <key>'")
    owner = owner_of(credentials.credentials, settings.api_keys)
    reviewer = reviewer_of(credentials.credentials, settings.reviewers)
    if owner is None and reviewer is None:
        raise NotAuthenticated("the API key is not valid")
    return Caller(owner=owner) if owner is not None else Caller(reviewer=reviewer)


CurrentCaller = Annotated[Caller, Depends(_current_caller)]


def _current_owner(caller: CurrentCaller) -> str:
    """The owner whose key was presented; a reviewer's key is refused (403)."""
    if caller.owner is None:
        raise NotAllowed(
            "a reviewer key answers questions only: GET /v1/inbox, then POST /v1/jobs/{id}/input"
        )
    return caller.owner


def _current_reviewer(caller: CurrentCaller) -> Reviewer:
    return caller.reviewer_or_fail


CurrentReviewer = Annotated[Reviewer, Depends(_current_reviewer)]
CurrentOwner = Annotated[str, Depends(_current_owner)]


# A job id in a path: printable ASCII (the API makes `job-<hex>` ids), so a NUL or a control
# character is a 422 before it reaches Temporal or the database.
JobId = Annotated[
    str, Path(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$", description="The job id.")
]
