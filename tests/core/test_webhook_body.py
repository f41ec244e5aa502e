"""The webhook body: the job as the API shows it, and a link alone past the size cap."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.contracts.webhooks import MAX_BODY_CHARS, webhook_body

pytestmark = pytest.mark.unit

AT = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def test_each_event_carries_its_detail_under_the_apis_name() -> None:
    done = webhook_body("job-1", "summarize", "completed", "completed", AT, {"summary": "s"})
    assert done == {
        "type": "job.completed",
        "timestamp": "2026-12-06T02:00:00+00:00",
        "data": {
            "id": "job-1",
            "type": "summarize",
            "status": "completed",
            "event": "completed",
            "link": "/v1/jobs/job-1",
            "result": {"summary": "s"},
        },
    }
    failed = webhook_body("job-1", "summarize", "failed", "failed", AT, {"type": "X"})
    assert failed["data"]["error"] == {"type": "X"}
    asked = webhook_body("job-1", "draft_review", "waiting_for_input", "waiting_for_input", AT, {})
    assert asked["data"]["waiting_for"] == {}


def test_a_result_past_the_cap_leaves_a_link() -> None:
    big = {"summary": "x" * MAX_BODY_CHARS}
    body = webhook_body("job-1", "summarize", "completed", "completed", AT, big)
    assert "result" not in body["data"]
    assert body["data"]["truncated"] is True
    assert body["data"]["link"] == "/v1/jobs/job-1"
