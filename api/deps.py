"""FastAPI dependencies as `Annotated` aliases: settings, the Temporal client, the calling owner."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from api.event_hub import EventHub
from api.temporal_connection import TemporalConnection
from core.config import Settings, owner_of
from core.errors import NotAuthenticated
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


def _current_owner(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The owner whose key was presented. Every key is compared, in constant time."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("send an API key as 'Authorization: Bearer <key>'")
    owner = owner_of(credentials.credentials, settings.api_keys)
    if owner is None:
        raise NotAuthenticated("the API key is not valid")
    return owner


CurrentOwner = Annotated[str, Depends(_current_owner)]


# A job id in a path: printable ASCII (the API makes `job-<hex>` ids), so a NUL or a control
# character is a 422 before it reaches Temporal or the database.
JobId = Annotated[
    str, Path(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$", description="The job id.")
]
