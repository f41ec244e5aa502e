"""A newcomer's first look at the Temporal UI under `make run`, in a real headless browser
(Playwright driving the distribution's Chromium): the job's input and result are readable,
with no codec banner and no extra step."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright

from tests.support.browser import CHROMIUM_ARGS, chromium
from tests.support.dev_stack import interrupt, new_ports, start_stack
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e

TEXT = "Jobs are durable. Workers may crash.\n\nThe zebra-7731 job still finishes."


async def test_the_ui_shows_a_jobs_input_and_result_as_they_are(tmp_path: Path) -> None:
    """Open a completed job's page in the UI `make run` starts: the summary it wrote and the
    text it was given show as text, and no 'Codec Server could not connect' banner."""
    ports = new_ports()
    log = tmp_path / "stack.log"
    stack = await start_stack(tmp_path, ports, log)
    try:
        key = (tmp_path / "dev-api-key").read_text().strip()
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            base_url=f"http://localhost:{ports['api']}", headers=headers
        ) as http:
            created = await http.post(
                "/v1/jobs", json={"type": "summarize", "input": {"text": TEXT}}
            )
            assert created.status_code == 202, created.text
            job_id = created.json()["id"]

            async def status() -> str:
                return str((await http.get(f"/v1/jobs/{job_id}")).json()["status"])

            await eventually(status, until=lambda s: s == "completed", what="job completed")
        page_url = f"http://localhost:{ports['ui']}/namespaces/default/workflows/{job_id}"
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium(), args=CHROMIUM_ARGS
            )
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 1000})
                await page.goto(page_url)
                # The input as JSON text, not base64 ciphertext.
                await page.get_by_text("zebra-7731", exact=False).first.wait_for(timeout=30_000)
                shown = await page.content()
                await page.screenshot(path=str(tmp_path / "workflow.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        interrupt(stack, log)
    assert "Codec Server could not connect" not in shown
    assert "binary/encrypted" not in shown
    assert (tmp_path / "workflow.png").stat().st_size > 10_000
