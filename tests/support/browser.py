"""A real headless browser for page tests: Playwright driving the distribution's Chromium
(Playwright's own builds cannot be downloaded here)."""

from __future__ import annotations

import shutil

import pytest

# As the browser probe of this machine runs it: no sandbox as root, and nothing fetched from
# outside (component updates, background networking, first-run pages).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is missing: `make test` installs the distribution's package")
    return found
