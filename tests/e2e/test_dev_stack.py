"""`make run`'s launcher as a user runs it: up on embedded defaults, a job completes, Ctrl-C
stops everything, and the job is still there after a restart (the SQLite file)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.polling import eventually
from tests.support.processes import ROOT

# Settings the launcher must not inherit from whoever runs the tests.
INHERITED = ("TEMPORAL_ADDRESS", "OPENAI_API_KEY", "OPENAI_BASE_URL", "AIJOBS_API_KEYS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def launch(data_dir: Path, ports: dict[str, int], log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in INHERITED}
    env |= {
        "AIJOBS_DATA_DIR": str(data_dir),
        "AIJOBS_API_PORT": str(ports["api"]),
        "AIJOBS_DEV_TEMPORAL_PORT": str(ports["temporal"]),
        "AIJOBS_DEV_UI_PORT": str(ports["ui"]),
        "AIJOBS_TASK_QUEUE": f"dev-stack-{ports['api']}",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "dev_stack.py")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{url}/readyz")).status_code == 200
    except httpx.TransportError:
        return False


def interrupt(process: subprocess.Popen[bytes], log: Path) -> None:
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0, log.read_text()


async def test_make_run_stack_serves_a_job_and_survives_restart(tmp_path: Path) -> None:
    """Offline model, dev key printed and kept; jobs persist across a restart of the stack."""
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port()}
    url = f"http://localhost:{ports['api']}"
    log = tmp_path / "stack.log"
    stack = launch(tmp_path, ports, log)
    try:
        await eventually(lambda: ready(url), timeout_s=60, what="stack ready")

        async def banner() -> str:
            return log.read_text()

        output = await eventually(banner, until=lambda text: "Ctrl-C stops" in text, what="banner")
        key = (tmp_path / "dev-api-key").read_text().strip()
        assert f"API key      {key}" in output
        assert f"Temporal UI  http://localhost:{ports['ui']}" in output
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=url, headers=headers) as http:
            text = "Jobs are durable. Workers may crash.\n\nThe job still finishes."
            created = await http.post(
                "/v1/jobs", json={"type": "summarize", "input": {"text": text}}
            )
            assert created.status_code == 202
            job_id = created.json()["id"]
            assert created.json()["links"]["ui"].startswith(f"http://localhost:{ports['ui']}/")

            async def status() -> str:
                return str((await http.get(f"/v1/jobs/{job_id}")).json()["status"])

            await eventually(status, until=lambda s: s == "completed", what="job completed")
            job = (await http.get(f"/v1/jobs/{job_id}")).json()
            assert job["result"]["model"] == "offline"
            assert (
                job["result"]["summary"]
                == "Jobs are durable. Workers may crash. The job still finishes."
            )
    finally:
        interrupt(stack, log)
    assert (tmp_path / "temporal.db").exists()

    restarted = launch(tmp_path, ports, log)
    try:
        await eventually(lambda: ready(url), timeout_s=60, what="stack ready again")
        async with httpx.AsyncClient(base_url=url, headers=headers) as http:
            again = await http.get(f"/v1/jobs/{job_id}")
            assert again.status_code == 200
            assert again.json()["status"] == "completed"
    finally:
        interrupt(restarted, log)
