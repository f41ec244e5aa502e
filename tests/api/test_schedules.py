"""Schedules through the API, on the dev server with a real worker: created and checked like a
start, their next runs, trigger, pause and resume, backfill, overlap, runs refused by a quota,
owner isolation, and every run an ordinary job listed with its schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from api.schedule_service import schedule_key
from core.config import Settings
from tests.api.jobs_client import SUMMARIZE, wait_for
from tests.conftest import Api
from tests.support.cli import aijobs
from tests.support.polling import eventually

DRAFT = {"type": "draft_review", "input": {"brief": "Announce the picnic."}}
# One run time of an hourly schedule.
ONE_PAST_RUN = {"start": "2026-01-05T10:00:00Z", "end": "2026-01-05T10:00:00Z"}
SKIP = {"overlap": "skip"}
TEXT = "A short text to summarize. It has two sentences."


def nightly(**fields: Any) -> dict[str, Any]:
    return {"id": "nightly", "cron": "0 2 * * *", "job": SUMMARIZE, **fields}


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    created = await client.post("/v1/schedules", json=body)
    assert created.status_code == 201, created.text
    schedule: dict[str, Any] = created.json()
    return schedule


async def runs(client: httpx.AsyncClient, schedule_id: str, count: int) -> list[dict[str, Any]]:
    """The schedule's recent runs once `count` of them have left `starting`."""

    async def read() -> list[dict[str, Any]]:
        found = await client.get(f"/v1/schedules/{schedule_id}")
        assert found.status_code == 200, found.text
        recent: list[dict[str, Any]] = found.json()["recent_runs"]
        return recent

    return await eventually(
        read,
        until=lambda recent: len([r for r in recent if r["status"] != "starting"]) >= count,
        what=f"{count} runs",
    )


async def scheduled_jobs(client: httpx.AsyncClient, schedule_id: str) -> list[dict[str, Any]]:
    listed = await client.get("/v1/jobs", params={"schedule": schedule_id})
    assert listed.status_code == 200, listed.text
    jobs: list[dict[str, Any]] = listed.json()["jobs"]
    return jobs


async def test_a_schedule_shows_its_timetable_job_and_next_runs(api: Api) -> None:
    """Creation answers the schedule; reads and lists show it with its next five runs."""
    schedule = await create(api.alice, nightly(timezone="Europe/Berlin", note="evals"))
    assert schedule["id"] == "nightly"
    assert schedule["cron"] == "0 2 * * *"
    assert schedule["timezone"] == "Europe/Berlin"
    assert schedule["job"]["type"] == "summarize"
    assert schedule["job"]["input"]["text"] == TEXT
    assert schedule["overlap"] == "skip"
    assert schedule["note"] == "evals"
    assert not schedule["paused"]
    assert schedule["recent_runs"] == []
    next_runs = [datetime.fromisoformat(t) for t in schedule["next_runs"]]
    assert len(next_runs) == 5
    # 02:00 in Berlin is 01:00 or 00:00 UTC, a day apart.
    assert all(t.astimezone(UTC).hour in (0, 1) for t in next_runs)
    assert all(b - a == timedelta(days=1) for a, b in pairwise(next_runs))
    assert schedule["next_run"] == schedule["next_runs"][0]

    every = await create(api.alice, {"id": "often", "every": "15m", "job": SUMMARIZE})
    gaps = {
        datetime.fromisoformat(b) - datetime.fromisoformat(a)
        for a, b in pairwise(every["next_runs"])
    }
    assert gaps == {timedelta(minutes=15)}
    again = await api.alice.post("/v1/schedules", json=nightly())
    assert again.status_code == 409

    async def listed() -> set[str]:
        page = (await api.alice.get("/v1/schedules")).json()
        return {s["id"] for s in page["schedules"]}

    assert await eventually(listed, until=lambda ids: ids == {"nightly", "often"}, what="list")


async def test_a_trigger_starts_an_ordinary_job_listed_with_its_schedule(api: Api) -> None:
    """The run's job is a job like any other: read, listed by schedule, completed."""
    await create(api.alice, nightly())
    triggered = await api.alice.post("/v1/schedules/nightly/trigger")
    assert triggered.status_code == 202, triggered.text
    [run] = await runs(api.alice, "nightly", 1)
    job = await wait_for(api.alice, run["job_id"], "completed")
    assert job["schedule"] == "nightly"
    assert job["type"] == "summarize"
    assert job["result"]["summary"]

    async def listed() -> list[dict[str, Any]]:
        return await scheduled_jobs(api.alice, "nightly")

    [summary] = await eventually(listed, what="the scheduled job in the list")
    assert summary["id"] == run["job_id"]
    assert summary["schedule"] == "nightly"
    [latest] = await runs(api.alice, "nightly", 1)
    assert latest["status"] == "completed"


async def test_backfill_of_three_intervals_starts_three_jobs(api: Api) -> None:
    """Both ends are included: 00:00, 00:15 and 00:30 each start a job."""
    await create(api.alice, {"id": "quarterly", "every": "15m", "job": SUMMARIZE})
    start = datetime(2026, 1, 5, tzinfo=UTC)
    window = {"start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat()}
    backfilled = await api.alice.post("/v1/schedules/quarterly/backfill", json=window)
    assert backfilled.status_code == 202, backfilled.text
    assert backfilled.json()["runs"] == 3
    recent = await runs(api.alice, "quarterly", 3)
    assert sorted(r["scheduled_at"] for r in recent) == [
        (start + timedelta(minutes=m)).isoformat().replace("+00:00", "Z") for m in (0, 15, 30)
    ]
    job_ids = {r["job_id"] for r in recent}
    for job_id in job_ids:
        await wait_for(api.alice, job_id, "completed")
    assert len(job_ids) == 3

    future = {"start": start.isoformat(), "end": "2999-01-01T00:00:00Z"}
    refused = await api.alice.post("/v1/schedules/quarterly/backfill", json=future)
    assert refused.status_code == 422
    too_many = {"start": start.isoformat(), "end": (start + timedelta(days=2)).isoformat()}
    refused = await api.alice.post("/v1/schedules/quarterly/backfill", json=too_many)
    assert refused.status_code == 422
    assert "more than 100 runs" in refused.json()["message"]


async def test_overlap_skip_starts_no_second_job_while_one_runs(
    api: Api, dev_env: WorkflowEnvironment
) -> None:
    """With `skip`, a run due while the last job waits for a person starts nothing."""
    await create(api.alice, {"id": "drafts", "every": "1h", "job": DRAFT})
    await api.alice.post("/v1/schedules/drafts/trigger")
    [run] = await runs(api.alice, "drafts", 1)
    await wait_for(api.alice, run["job_id"], "waiting_for_input")
    # A past time, so the run's id differs from the first one's (ids carry the second).
    again = await api.alice.post("/v1/schedules/drafts/backfill", json=ONE_PAST_RUN | SKIP)
    assert again.status_code == 202, again.text
    handle = dev_env.client.get_schedule_handle(schedule_key(api.owners[0], "drafts"))

    async def skipped() -> int:
        return (await handle.describe()).info.num_actions_skipped_overlap

    await eventually(skipped, until=lambda n: n == 1, what="a skipped run")
    assert len((await api.alice.get("/v1/schedules/drafts")).json()["recent_runs"]) == 1
    assert [j["id"] for j in await scheduled_jobs(api.alice, "drafts")] == [run["job_id"]]
    cancelled = await api.alice.post(f"/v1/jobs/{run['job_id']}/cancel")
    assert cancelled.status_code == 202


async def test_overlap_cancel_other_cancels_the_running_job(api: Api) -> None:
    """With `cancel_other`, the next run cancels the job that still waits, then starts its own."""
    await create(
        api.alice, {"id": "drafts", "every": "1h", "overlap": "cancel_other", "job": DRAFT}
    )
    await api.alice.post("/v1/schedules/drafts/trigger")
    [first] = await runs(api.alice, "drafts", 1)
    await wait_for(api.alice, first["job_id"], "waiting_for_input")
    again = await api.alice.post(
        "/v1/schedules/drafts/backfill", json=ONE_PAST_RUN | {"overlap": "cancel_other"}
    )
    assert again.status_code == 202, again.text
    await wait_for(api.alice, first["job_id"], "cancelled")
    recent = await runs(api.alice, "drafts", 2)
    second = next(r for r in recent if r["job_id"] != first["job_id"])
    await wait_for(api.alice, second["job_id"], "waiting_for_input")
    await api.alice.post(f"/v1/jobs/{second['job_id']}/cancel")


async def test_a_run_past_the_budget_is_recorded_and_starts_no_job(
    api: Api, settings: Settings
) -> None:
    """The worker's quota check refuses the run as a start would be refused (402)."""
    settings.owner_monthly_budget_usd = {api.owners[0]: Decimal("0")}
    await create(api.alice, nightly())
    await api.alice.post("/v1/schedules/nightly/trigger")
    [run] = await runs(api.alice, "nightly", 1)
    assert run["status"] == "refused"
    assert run["job_id"] is None
    assert run["refused"]["type"] == "budget_exhausted"
    assert "monthly budget" in run["refused"]["message"]
    assert await scheduled_jobs(api.alice, "nightly") == []


async def test_a_run_past_the_running_cap_is_refused(api: Api, settings: Settings) -> None:
    """One job may run: while it waits for a person, the schedule's next run is refused."""
    settings.owner_max_running = 1
    await create(api.alice, {"id": "drafts", "every": "1h", "overlap": "allow_all", "job": DRAFT})
    await api.alice.post("/v1/schedules/drafts/trigger")
    [first] = await runs(api.alice, "drafts", 1)
    await wait_for(api.alice, first["job_id"], "waiting_for_input")
    again = await api.alice.post("/v1/schedules/drafts/backfill", json=ONE_PAST_RUN)
    assert again.status_code == 202, again.text
    recent = await runs(api.alice, "drafts", 2)
    assert recent[0]["status"] == "refused"
    assert recent[0]["refused"]["type"] == "rate_limited"
    await api.alice.post(f"/v1/jobs/{first['job_id']}/cancel")


async def test_pause_and_resume_with_a_note(api: Api) -> None:
    """A paused schedule has no next runs and says why; resuming brings them back."""
    await create(api.alice, nightly())
    paused = await api.alice.patch(
        "/v1/schedules/nightly", json={"paused": True, "note": "model outage"}
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True
    assert paused.json()["note"] == "model outage"
    assert paused.json()["next_runs"] == []
    resumed = await api.alice.patch("/v1/schedules/nightly", json={"paused": False})
    assert resumed.json()["paused"] is False
    assert len(resumed.json()["next_runs"]) == 5

    changed = await api.alice.patch(
        "/v1/schedules/nightly",
        json={"every": "2h", "job": {"type": "summarize", "input": {"text": "Other text."}}},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["cron"], body["every"]) == (None, "2h")
    assert body["job"]["input"]["text"] == "Other text."


async def test_bad_timetables_and_jobs_are_422_naming_the_field(api: Api) -> None:
    """The job is checked exactly as a start is, located under `job`."""
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        (nightly(cron="61 * * * *"), ["body", "cron"]),
        (nightly(cron="0 2 * * * *"), ["body", "cron"]),
        ({"id": "x", "every": "30s", "job": SUMMARIZE}, ["body", "every"]),
        ({"id": "x", "every": "soon", "job": SUMMARIZE}, ["body", "every"]),
        ({"id": "x", "job": SUMMARIZE}, ["body", "cron"]),
        ({"id": "x", "cron": "0 2 * * *", "every": "1h", "job": SUMMARIZE}, ["body", "cron"]),
        (nightly(timezone="Mars/Olympus"), ["body", "timezone"]),
        (nightly(job={"type": "nope", "input": {}}), ["body", "job", "type"]),
        (nightly(job={"type": "summarize", "input": {}}), ["body", "job", "input", "text"]),
        (nightly(id="../etc"), ["body", "id"]),
    ]
    for body, loc in cases:
        refused = await api.alice.post("/v1/schedules", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["detail"][0]["loc"] == loc, (body, refused.json())
    as_a_start = await api.alice.post("/v1/jobs", json={"type": "summarize", "input": {}})
    as_a_schedule = await api.alice.post(
        "/v1/schedules", json=nightly(job={"type": "summarize", "input": {}})
    )
    assert as_a_start.json()["detail"][0]["msg"] == as_a_schedule.json()["detail"][0]["msg"]


async def test_another_owners_schedule_is_404_everywhere(api: Api) -> None:
    """Bob cannot read, list, change, trigger, backfill or delete alice's schedule, and his own
    `nightly` is a different schedule."""
    await create(api.alice, nightly())
    window = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
    for method, path, body in [
        ("GET", "/v1/schedules/nightly", None),
        ("PATCH", "/v1/schedules/nightly", {"paused": True}),
        ("POST", "/v1/schedules/nightly/trigger", None),
        ("POST", "/v1/schedules/nightly/backfill", window),
        ("DELETE", "/v1/schedules/nightly", None),
    ]:
        answer = await api.bob.request(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["code"] == "schedule_not_found"
    assert (await api.bob.get("/v1/schedules")).json()["schedules"] == []
    assert (await api.anonymous.get("/v1/schedules")).status_code == 401
    bobs = await create(api.bob, nightly(cron="0 3 * * *"))
    assert bobs["cron"] == "0 3 * * *"
    assert (await api.alice.get("/v1/schedules/nightly")).json()["cron"] == "0 2 * * *"
    deleted = await api.alice.delete("/v1/schedules/nightly")
    assert deleted.status_code == 204
    assert (await api.alice.get("/v1/schedules/nightly")).status_code == 404
    assert (await api.bob.get("/v1/schedules/nightly")).status_code == 200


async def test_the_cli_manages_schedules(api: Api, settings: Settings) -> None:
    """`aijobs schedule create|list|show|pause|resume|trigger|delete`."""
    made = await aijobs(
        api, settings, "schedule", "create", "summarize", "--every", "1h",
        "--id", "hourly", "--input", '{"text": "Summarize me."}',
    )  # fmt: skip
    assert made.code == 0, made.err
    assert made.out.strip() == "hourly"
    shown = await aijobs(api, settings, "schedule", "show", "hourly")
    assert '"every": "1h"' in shown.out
    paused = await aijobs(api, settings, "schedule", "pause", "hourly", "--note", "quiet week")
    assert paused.code == 0, paused.err
    listed = await aijobs(api, settings, "schedule", "list")
    assert "hourly" in listed.out
    assert "paused" in listed.out
    assert "quiet week" in listed.out
    assert (await aijobs(api, settings, "schedule", "resume", "hourly")).code == 0
    assert (await aijobs(api, settings, "schedule", "trigger", "hourly")).code == 0
    [run] = await runs(api.alice, "hourly", 1)
    assert run["job_id"]
    assert (await aijobs(api, settings, "schedule", "delete", "hourly")).code == 0
    missing = await aijobs(api, settings, "schedule", "show", "hourly")
    assert missing.code == 1
    assert "not found" in missing.err
