"""The API keeps the contract its OpenAPI schema states, as schemathesis (pinned) sees it:
every check on, against the real API, worker and dev server. A fixed seed keeps the run the
same on every machine; AIJOBS_CONTRACT_SEED=<n> explores others (see docs/api.md)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from core.config import Settings
from tests.conftest import Api, key_of, make_settings

ST = str(Path(sys.executable).parent / "st")
CONFIG = Path(__file__).parent / "schemathesis.toml"


async def test_schemathesis_finds_nothing(api: Api, settings: Settings, tmp_path: Path) -> None:
    key = key_of(settings, "alice-")
    # Alice's key opens the codec server too, so its routes are exercised past the 401.
    settings.codec_keys = make_settings(codec_keys=f"ops={key}").codec_keys
    seed = os.environ.get("AIJOBS_CONTRACT_SEED", "1")
    process = await asyncio.create_subprocess_exec(
        ST,
        *("--config-file", str(CONFIG), "run", f"{api.url}/openapi.json"),
        *("--header", f"Authorization: Bearer {key}"),
        *("--checks", "all", "--max-examples", "10", "--workers", "1", "--seed", seed),
        # The run holds an owner's key; reviewers' routes have their own tests
        # (tests/api/test_inbox.py), and answer an owner's key with a 403.
        *("--exclude-path-regex", "^/v1/inbox"),
        *("--max-response-time", "10"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=os.environ | {"NO_COLOR": "1"},
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    report = out.decode(errors="replace")
    (tmp_path / "schemathesis.txt").write_text(report)
    # Long generated values are cut so the failures themselves stay readable.
    shown = "\n".join(line[:300] for line in report.splitlines())
    assert process.returncode == 0, shown[shown.find("FAILURES") :][:12000]
    assert "API Operations:" in report
