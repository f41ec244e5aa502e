"""The review page in a real headless browser (Playwright driving the distribution's
Chromium): a reviewer signs in, asks for a revision, sees what changed, approves, and approves
an agent's ticket; a wrong key and a form without its CSRF token are refused."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from core.config import Settings, parse_reviewers
from tests.api.jobs_client import start_job, wait_for
from tests.conftest import Api
from tests.support.browser import CHROMIUM_ARGS, chromium
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.e2e

KEY = "maria-key-0123456789abcdef"
GROUP = ["legal"]
DOCS = Path(__file__).parents[2] / "docs" / "images"
# Set to refresh the screenshots kept in docs/images.
REFRESH_SCREENSHOTS = os.environ.get("AIJOBS_REFRESH_SCREENSHOTS") == "1"


@pytest.fixture(autouse=True)
def reviewers(settings: Settings, task_queue: str) -> None:
    # The dev server is the session's: this test's group is its own.
    GROUP[0] = f"legal-{task_queue[-12:]}"
    settings.reviewers = parse_reviewers(json.dumps({"maria": {"key": KEY, "groups": GROUP}}))


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def signed_in(browser: Browser, api: Api) -> Page:
    page = await browser.new_page(viewport={"width": 1000, "height": 900})
    await page.goto(f"{api.url}/inbox")
    await page.get_by_label("Reviewer key").fill(KEY)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Waiting for you")).to_be_visible()
    return page


async def open_question(page: Page, api: Api, prompt: str) -> None:
    """Reload the list until the question shows, then open it."""
    link = page.get_by_role("link", name=prompt)
    for _ in range(100):
        if await link.count():
            break
        await page.goto(f"{api.url}/inbox")
    await link.first.click()


async def keep(page: Page, name: str, tmp_path: Path) -> None:
    shot = tmp_path / name
    await page.screenshot(path=str(shot), full_page=True)
    if REFRESH_SCREENSHOTS:
        shutil.copy(shot, DOCS / name)


async def test_a_reviewer_revises_then_approves_a_draft(
    api: Api, browser: Browser, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """Feedback by text and a click; the second draft shows its changes and the feedback."""
    fake_openai.script(
        Reply.ok("The picnic is on Saturday at noon."),
        Reply.ok("The picnic is on Saturday at noon, by the lake."),
    )
    job_id = await start_job(
        api.alice,
        {
            "type": "draft_review",
            "input": {"brief": "Announce the picnic."},
            "options": {"reviewers": GROUP},
        },
    )
    await wait_for(api.alice, job_id, "waiting_for_input")
    page = await signed_in(browser, api)
    await keep(page, "inbox-list.png", tmp_path)
    await open_question(page, api, "Review draft 1 of 3")
    await expect(page.get_by_text("The picnic is on Saturday at noon.")).to_be_visible()
    # The job's own rule, shown on the page: a revision needs feedback.
    await page.get_by_role("button", name="revise").click()
    await expect(page.get_by_role("alert")).to_contain_text("a revision needs feedback")
    await page.get_by_label("Feedback").fill("Say where it is.")
    await page.get_by_role("button", name="revise").click()
    await expect(page.get_by_role("status")).to_contain_text("Recorded: revise")

    await open_question(page, api, "Review draft 2 of 3")
    # Word by word: "noon." gave way to "noon, by the lake."
    await expect(page.locator("ins")).to_have_text(["noon, by the lake."])
    await expect(page.locator("del")).to_have_text(["noon. "])
    await expect(page.get_by_text("Say where it is.")).to_be_visible()
    await keep(page, "inbox-question.png", tmp_path)
    await page.get_by_role("button", name="approve").click()
    await expect(page.get_by_role("status")).to_contain_text("Recorded: approve")
    job = await wait_for(api.alice, job_id, "completed")
    assert job["result"]["outcome"] == "published"
    reviewed = [r["reviewed"] for r in job["result"]["rounds"]]
    assert [(r["answered_by"], r["via"]) for r in reviewed] == [("maria", "inbox")] * 2


async def test_a_reviewer_approves_an_agents_ticket(
    api: Api, browser: Browser, fake_openai: FakeOpenAI
) -> None:
    """The tool's arguments read as a table; `allow` lets the ticket be filed."""
    fake_openai.script(
        Reply.calls(("create_ticket", {"title": "Printer", "body": "Jammed again."})),
        Reply.ok("Filed."),
    )
    job_id = await start_job(
        api.alice,
        {
            "type": "agent",
            "input": {"goal": "File a ticket about the printer.", "tools": ["create_ticket"]},
            "options": {"reviewers": GROUP},
        },
    )
    await wait_for(api.alice, job_id, "waiting_for_input")
    page = await signed_in(browser, api)
    await open_question(page, api, "allow create_ticket")
    arguments = page.get_by_role("region", name="Tool call")
    await expect(arguments.get_by_role("row", name="title")).to_contain_text("Printer")
    await expect(arguments.get_by_role("row", name="body")).to_contain_text("Jammed again.")
    # On a phone's width the page reflows: nothing to scroll sideways.
    await page.set_viewport_size({"width": 390, "height": 844})
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    await page.get_by_role("button", name="allow").click()
    await expect(page.get_by_role("status")).to_contain_text("Recorded: allow")
    job = await wait_for(api.alice, job_id, "completed")
    [step] = job["result"]["steps"]
    assert step["approved_by"] == "maria"


async def test_a_wrong_key_and_a_form_without_its_token_are_refused(
    api: Api, browser: Browser
) -> None:
    """No session without a reviewer key; no answer without the session's CSRF token."""
    job_id = await start_job(
        api.alice,
        {
            "type": "draft_review",
            "input": {"brief": "Announce the picnic."},
            "options": {"reviewers": GROUP},
        },
    )
    page = await browser.new_page()
    await page.goto(f"{api.url}/inbox")
    await page.get_by_label("Reviewer key").fill("not-a-reviewer-key-at-all")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("That is not a reviewer key.")
    await page.close()

    page = await signed_in(browser, api)
    await open_question(page, api, "Review draft 1 of 3")
    question = page.url.rsplit("/", 1)[-1]
    forged = await page.request.post(
        f"{api.url}/inbox/questions/{question}/answer", form={"decision": "approve"}
    )
    assert forged.status == 403
    job = await wait_for(api.alice, job_id, "waiting_for_input")
    assert job["status"] == "waiting_for_input"
    await api.alice.post(f"/v1/jobs/{job_id}/cancel")
