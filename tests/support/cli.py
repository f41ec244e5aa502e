"""Running the `aijobs` command as a user does: a subprocess against a test's API."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from core.config import Settings
from tests.conftest import Api, key_of

AIJOBS = str(Path(sys.executable).parent / "aijobs")


@dataclass
class Run:
    code: int
    out: str
    err: str


async def aijobs(api: Api, settings: Settings, *args: str, key: str | None = None) -> Run:
    """`aijobs *args` with the API's URL and (by default) alice's key."""
    env = os.environ | {
        "AIJOBS_URL": api.url,
        "AIJOBS_API_KEY": key or key_of(settings, "alice-"),
    }
    process = await asyncio.create_subprocess_exec(
        AIJOBS, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())
