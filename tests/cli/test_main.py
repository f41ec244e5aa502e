"""The `aijobs` command, run as a user runs it, against the real API, worker and dev server."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from core.config import Settings
from tests.api.jobs_client import wait_for
from tests.conftest import Api
from tests.support.cli import AIJOBS, aijobs
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.polling import eventually
from tests.support.record_history import label_support_tickets
from tests.support.webhook import Webhook


async def test_submit_watch_prints_tokens_progress_and_result(
    api: Api, settings: Settings, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """`submit --watch` streams tokens to stdout, stages to stderr, then prints the result."""
    fake_openai.script(
        Reply.ok("Part summary."), Reply.ok("Part summary."), Reply.ok("All of it, summarized.")
    )
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps({"text": "\n\n".join(["word " * 40] * 2), "chunk_chars": 200}))
    run = await aijobs(api, settings, "submit", "summarize", "--input", f"@{doc}", "--watch")
    assert run.code == 0, run.err
    assert "All of it, summarized." in run.out
    result = json.loads(run.out[run.out.index("{") :])
    assert result["summary"] == "All of it, summarized."
    stages = [line for line in run.err.splitlines() if line.startswith("· ")]
    # Two chunks and the combine planned for them: the total is known from the start.
    assert stages[0] == "· summarizing 0/3"
    assert "· summarizing 2/3" in stages
    assert stages[-1] == "· done 3/3"
    assert "✓ completed" in run.err
    assert run.err.splitlines()[0].startswith("job-")


async def test_input_answers_a_waiting_job_and_status_shows_it(
    api: Api, settings: Settings, fake_openai: FakeOpenAI
) -> None:
    """`submit` then `input` approves a draft; `status` and `list` show the finished job."""
    fake_openai.script(Reply.ok("Draft text."))
    submitted = await aijobs(
        api, settings, "submit", "draft_review", "--input", '{"brief": "Say hello."}'
    )
    assert submitted.code == 0, submitted.err
    job_id = submitted.out.strip()

    async def status() -> dict[str, object]:
        run = await aijobs(api, settings, "status", job_id)
        assert run.code == 0, run.err
        parsed: dict[str, object] = json.loads(run.out)
        return parsed

    await eventually(status, until=lambda job: job["status"] == "waiting_for_input")
    answered = await aijobs(
        api, settings, "input", job_id, "review", "--value", '{"decision": "approve"}'
    )
    assert answered.code == 0, answered.err
    assert json.loads(answered.out)["value"]["decision"] == "approve"
    watched = await aijobs(api, settings, "watch", job_id)
    assert watched.code == 0, watched.err
    assert json.loads(watched.out[watched.out.index("{") :])["outcome"] == "published"
    listed = await aijobs(api, settings, "list", "--type", "draft_review")
    assert job_id in listed.out


async def test_cancel_ends_a_watch_with_failure(
    api: Api, settings: Settings, fake_openai: FakeOpenAI
) -> None:
    """`cancel` stops a waiting job; watching it then exits non-zero with `cancelled`."""
    submitted = await aijobs(api, settings, "submit", "draft_review", "--input", '{"brief": "Hi."}')
    job_id = submitted.out.strip()
    cancelled = await aijobs(api, settings, "cancel", job_id)
    assert (cancelled.code, cancelled.out.strip()) == (0, f"cancel requested for {job_id}")
    watched = await aijobs(api, settings, "watch", job_id)
    assert watched.code == 1
    assert "✗ cancelled" in watched.err


async def test_errors_are_one_readable_line(api: Api, settings: Settings) -> None:
    """API errors and bad arguments print one line and exit non-zero, never a traceback."""
    missing = await aijobs(api, settings, "status", "job-nope")
    assert (missing.code, missing.err) == (1, "aijobs: 404: job 'job-nope' not found\n")
    bad_key = await aijobs(api, settings, "list", key="wrong")
    assert (bad_key.code, bad_key.err) == (1, "aijobs: 401: the API key is not valid\n")
    invalid = await aijobs(api, settings, "submit", "summarize", "--input", '{"text": ""}')
    assert invalid.code == 1
    assert invalid.err.startswith("aijobs: 422: input.text: ")
    not_json = await aijobs(api, settings, "submit", "summarize", "--input", "{nope")
    assert not_json.code == 2
    assert "not valid JSON" in not_json.err
    for run in (missing, bad_key, invalid, not_json):
        assert "Traceback" not in run.err


async def test_watch_json_prints_one_event_per_line(
    api: Api, settings: Settings, fake_openai: FakeOpenAI
) -> None:
    """`--json` is for scripts: every stdout line is one JSON event, ending with the outcome."""
    fake_openai.script(Reply.ok("Short and sweet."))
    run = await aijobs(
        api, settings, "submit", "summarize", "--input", '{"text": "Hi."}', "--watch", "--json"
    )
    assert run.code == 0, run.err
    events = [json.loads(line) for line in run.out.splitlines()]
    assert events[-1]["event"] == "completed"
    assert events[-1]["data"]["result"]["summary"] == "Short and sweet."
    tokens = "".join(e["data"]["text"] for e in events if e["event"] == "token")
    assert tokens == "Short and sweet."
    assert [int(e["id"]) for e in events] == sorted(int(e["id"]) for e in events)


async def test_argument_and_connection_errors_are_one_line(api: Api, settings: Settings) -> None:
    """A missing @file is one line and exit 2; an unreachable API says how to point elsewhere."""
    missing = await aijobs(api, settings, "submit", "summarize", "--input", "@/nonexistent.json")
    assert missing.code == 2
    assert missing.err.count("\n") == 1
    assert "cannot read /nonexistent.json: No such file or directory" in missing.err
    unknown = await aijobs(api, settings, "frobnicate")
    assert (unknown.code, unknown.err.count("\n")) == (2, 1)
    down = Api(
        url="http://127.0.0.1:9",
        alice=api.alice,
        bob=api.bob,
        anonymous=api.anonymous,
        owners=api.owners,
    )
    unreachable = await aijobs(down, settings, "list")
    assert unreachable.code == 1
    assert "cannot reach http://127.0.0.1:9" in unreachable.err
    assert "Set AIJOBS_URL" in unreachable.err


async def test_a_budget_from_the_command_line_and_the_usage_report(
    api: Api, settings: Settings, fake_openai: FakeOpenAI
) -> None:
    """`submit --max-cost-usd` carries the budget; `usage` prints per-model lines and a total
    that add up to the job's cost."""
    text = json.dumps({"text": "Short.", "model": "gpt-4o-mini"})
    submitted = await aijobs(
        api, settings, "submit", "summarize", "--input", text, "--max-cost-usd", "0.5"
    )
    assert submitted.code == 0, submitted.err
    job = await wait_for(api.alice, submitted.out.strip(), "completed")
    report = await aijobs(api, settings, "usage", "--group-by", "model")
    assert report.code == 0, report.err
    model_line, total_line = report.out.strip().splitlines()
    cost = f"${job['result']['usage']['cost_usd']:.4f}"
    assert model_line.startswith("gpt-4o-mini")
    assert model_line.endswith(cost)
    assert total_line.startswith("total")
    assert total_line.endswith(cost)
    # The budget reaches the API: on a model without a price it is refused.
    unpriced = json.dumps({"text": "Short.", "model": "my-llama"})
    refused = await aijobs(
        api, settings, "submit", "summarize", "--input", unpriced, "--max-cost-usd", "1"
    )
    assert refused.code == 1
    assert "has no known price" in refused.err


async def test_submit_retries_an_unconfirmed_start_with_one_key(tmp_path: Path) -> None:
    """The API's retry rule (docs/api.md), followed by the CLI: a 503 is asked again with the same
    Idempotency-Key (after the answer's Retry-After), so the job starts at most once."""
    unavailable = {"code": "temporal_unavailable", "message": "try again", "request_id": "r"}
    created = {"id": "job-1", "type": "summarize", "status": "running", "links": {}}
    with Webhook().running() as api:
        as_json = {"Content-Type": "application/json"}
        api.replies.extend(
            [
                (503, {"Retry-After": "0", **as_json}, json.dumps(unavailable).encode()),
                (202, as_json, json.dumps(created).encode()),
            ]
        )
        env = os.environ | {"AIJOBS_URL": api.base, "AIJOBS_API_KEY": "k"}
        process = await asyncio.create_subprocess_exec(
            AIJOBS,
            *("submit", "summarize", "--input", '{"text": "x"}'),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert out.decode().strip() == "job-1"
    keys = [r.headers["idempotency-key"] for r in api.received]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert keys[0].startswith("cli-")


async def test_a_classify_job_is_confirmed_from_the_command_line(
    api: Api, settings: Settings, fake_openai: FakeOpenAI
) -> None:
    """The fifth job type needs nothing of its own in the CLI: `submit`, then `input` for its
    `confirm` question, then `watch` prints the labels and who confirmed them."""
    fake_openai.responder = label_support_tickets
    body = {
        "items": ["My invoice is wrong.", "I want my money back."],
        "labels": ["billing", "refund", "shipping"],
        "confirm_below": 0.5,
    }
    submitted = await aijobs(api, settings, "submit", "classify", "--input", json.dumps(body))
    assert submitted.code == 0, submitted.err
    job_id = submitted.out.strip()
    await wait_for(api.alice, job_id, "waiting_for_input")
    value = '{"labels": {"1": "refund"}}'
    answered = await aijobs(api, settings, "input", job_id, "confirm", "--value", value)
    assert answered.code == 0, answered.err
    watched = await aijobs(api, settings, "watch", job_id)
    assert watched.code == 0, watched.err
    result = json.loads(watched.out[watched.out.index("{") :])
    assert [(i["label"], i["confirmed_by"]) for i in result["items"]] == [
        ("billing", None),
        ("refund", api.owners[0]),
    ]


async def test_rerun_steps_and_cassettes_from_the_command_line(
    api: Api, settings: Settings, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """`steps` lists what a rerun may start from; `rerun --from --set` asks only the step it
    names; `cassette export`/`import` give an id that replays with no model call; a malformed
    `--set` is one line."""
    body = {"text": "\n\n".join(["word " * 40] * 2), "chunk_chars": 200, "max_words": 40}
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps(body))
    run = await aijobs(api, settings, "submit", "summarize", "--input", f"@{doc}")
    parent = run.out.strip()
    await wait_for(api.alice, parent, "completed")
    steps = await aijobs(api, settings, "steps", parent)
    assert [line.split()[0] for line in steps.out.splitlines()] == [
        "chunk-1",
        "chunk-2",
        "combine-1-1",
    ]
    asked = len(fake_openai.requests)
    rerun = await aijobs(
        api, settings, "rerun", parent, "--from", "combine-1-1", "--set", "input.max_words=20"
    )
    assert rerun.code == 0, rerun.err
    child = await wait_for(api.alice, rerun.out.strip(), "completed")
    assert child["parent"] == parent
    assert len(fake_openai.requests) == asked + 1
    assert "at most 20 words" in fake_openai.requests[-1].system_text

    exported = await aijobs(api, settings, "cassette", "export", parent)
    cassette = tmp_path / "cassette.json"
    cassette.write_text(exported.out)
    imported = await aijobs(api, settings, "cassette", "import", str(cassette))
    assert imported.code == 0, imported.err
    assert imported.out.startswith("cas_")
    replay = {**body, "max_words": 40}
    doc.write_text(json.dumps(replay))
    start = await api.alice.post(
        "/v1/jobs",
        json={
            "type": "summarize",
            "input": replay,
            "options": {"replay_from": imported.out.strip()},
        },
    )
    assert start.status_code == 202, start.text
    await wait_for(api.alice, start.json()["id"], "completed")
    assert len(fake_openai.requests) == asked + 1

    bad = await aijobs(api, settings, "rerun", parent, "--set", "max_words=20")
    assert bad.code != 0
    assert bad.err.strip().splitlines() == [
        "aijobs: --set 'max_words=20': write input.NAME=VALUE or options.NAME=VALUE"
    ]
