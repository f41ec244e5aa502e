"""Webhook signing secrets per owner, and each job's last webhook message (for redelivery)."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from store.tables import webhook_messages, webhook_secrets

SECRET_PREFIX = "whsec_"  # noqa: S105  (the format's prefix, not a secret)


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def secret(self, owner: str) -> str:
        """The owner's current secret, made on first use."""
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(webhook_secrets)
                .values(owner=owner, secret=new_secret())
                .on_conflict_do_nothing(index_elements=["owner"])
            )
            found = await conn.execute(
                select(webhook_secrets.c.secret).where(webhook_secrets.c.owner == owner)
            )
            return str(found.scalar_one())

    async def rotate(self, owner: str) -> str:
        """A new current secret; the one it replaces keeps signing for the grace period."""
        await self.secret(owner)
        fresh = new_secret()
        async with self._engine.begin() as conn:
            await conn.execute(
                update(webhook_secrets)
                .where(webhook_secrets.c.owner == owner)
                .values(previous=webhook_secrets.c.secret, secret=fresh, rotated_at=func.now())
            )
        return fresh

    async def signing(self, owner: str, grace: timedelta) -> list[str]:
        """The secrets that sign now: the current one, and the previous one within `grace` of
        the rotation."""
        current = await self.secret(owner)
        async with self._engine.connect() as conn:
            previous = (
                await conn.execute(
                    select(webhook_secrets.c.previous).where(
                        webhook_secrets.c.owner == owner,
                        webhook_secrets.c.previous.is_not(None),
                        webhook_secrets.c.rotated_at > func.now() - grace,
                    )
                )
            ).scalar_one_or_none()
        return [current] if previous is None else [current, str(previous)]

    async def remember(self, owner: str, job_id: str, message: dict[str, Any]) -> None:
        """Keep `message` as the job's last one."""
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(webhook_messages)
                .values(job_id=job_id, owner=owner, message=message)
                .on_conflict_do_update(
                    index_elements=["job_id"],
                    set_={"message": message, "owner": owner, "updated_at": func.now()},
                )
            )

    async def last(self, owner: str, job_id: str) -> dict[str, Any] | None:
        """The job's last message, if it is `owner`'s job and sent one."""
        async with self._engine.connect() as conn:
            found = await conn.execute(
                select(webhook_messages.c.message).where(
                    webhook_messages.c.job_id == job_id, webhook_messages.c.owner == owner
                )
            )
            message = found.scalar_one_or_none()
        return None if message is None else dict(message)

    async def prune(self, keep: timedelta, batch: int = 10_000) -> int:
        """Remove up to `batch` messages older than `keep`; returns how many went."""
        old = select(webhook_messages.c.job_id).where(
            webhook_messages.c.updated_at < func.now() - keep
        )
        async with self._engine.begin() as conn:
            gone = await conn.execute(
                delete(webhook_messages).where(webhook_messages.c.job_id.in_(old.limit(batch)))
            )
        return int(gone.rowcount)
