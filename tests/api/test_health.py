"""Health probes answer without a key."""

from __future__ import annotations

from tests.conftest import Api


async def test_probes_need_no_key(api: Api) -> None:
    """/healthz says the process is up; /readyz that Temporal answers."""
    assert (await api.anonymous.get("/healthz")).json() == {"status": "ok"}
    ready = await api.anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}
