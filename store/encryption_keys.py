"""The payload keys a deployment uses, so a process whose keys cannot read what the others
write refuses to start instead of failing every task it takes.

Each process records a fingerprint of each of its keys (an HMAC under the key, never the key)
and, for its first key (the one it encrypts with), since when that key encrypts. A process
may start when every key id it shares with the deployment has the same fingerprint, and it
holds the key the deployment encrypts with now (the newest first key). A rotation (a new key
first, the old one second) passes on every process that has the new key, and from then on
refuses a process that lacks it.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import Settings
from core.encryption import deployment_name, key_fingerprints
from core.errors import KeysMismatch
from store.tables import encryption_keys as keys_table


class EncryptionKeyRegistry:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def check_and_record(
        self, deployment: str, fingerprints: Mapping[str, str], primary: str | None
    ) -> None:
        """KeysMismatch (one line naming AIJOBS_ENCRYPTION_KEYS) unless this process can read
        what `deployment` writes; then record its keys. `fingerprints` by key id, in the
        process's order; `primary` the id it encrypts with (None: it does not encrypt)."""
        async with self._engine.begin() as conn:
            # One process at a time per deployment, so two first starts cannot disagree.
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:d))"), {"d": f"keys:{deployment}"}
            )
            rows = (
                await conn.execute(
                    select(
                        keys_table.c.key_id, keys_table.c.fingerprint, keys_table.c.primary_since
                    )
                    .where(keys_table.c.deployment == deployment)
                    .order_by(keys_table.c.primary_since.desc().nulls_last())
                )
            ).all()
            for row in rows:
                mine = fingerprints.get(row.key_id)
                if mine is not None and mine != row.fingerprint:
                    raise KeysMismatch(
                        f"AIJOBS_ENCRYPTION_KEYS: key {row.key_id!r} is not the key this "
                        f"deployment ({deployment}) knows by that name"
                    )
            current = rows[0].key_id if rows and rows[0].primary_since is not None else None
            if current is not None and current not in fingerprints:
                held = ", ".join(fingerprints) or "none"
                raise KeysMismatch(
                    f"AIJOBS_ENCRYPTION_KEYS lacks key {current!r}, which this deployment "
                    f"({deployment}) encrypts with (keys here: {held}): this process could "
                    "not read its jobs"
                )
            for key_id, fingerprint in fingerprints.items():
                await conn.execute(
                    insert(keys_table)
                    .values(deployment=deployment, key_id=key_id, fingerprint=fingerprint)
                    .on_conflict_do_nothing(index_elements=["deployment", "key_id"])
                )
            if primary is not None and primary != current:
                await conn.execute(
                    update(keys_table)
                    .where(keys_table.c.deployment == deployment, keys_table.c.key_id == primary)
                    .values(primary_since=func.now())
                )


async def check_keys(engine: AsyncEngine, settings: Settings) -> None:
    """At start: KeysMismatch unless this process's keys can read what its deployment
    writes; then its keys are recorded for the next process to be checked against."""
    fingerprints = key_fingerprints(settings)
    await EncryptionKeyRegistry(engine).check_and_record(
        deployment_name(settings), fingerprints, next(iter(fingerprints), None)
    )
