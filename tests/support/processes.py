"""Start the project's own programs as real subprocesses, as production would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def worker_env(
    temporal: str, task_queue: str, model_url: str, data_dir: Path, database_url: str
) -> dict[str, str]:
    """Settings for a worker subprocess: this test's server, queue, fake model, database and
    data dir."""
    return {
        "TEMPORAL_ADDRESS": temporal,
        "AIJOBS_DATABASE_URL": database_url,
        "AIJOBS_TASK_QUEUE": task_queue,
        "OPENAI_BASE_URL": model_url,
        "OPENAI_API_KEY": "sk-test",
        "AIJOBS_MODEL": "fake-model",
        "AIJOBS_DATA_DIR": str(data_dir),
    }


def start_worker(env: dict[str, str], log_path: Path, cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    """`python worker.py` with the given settings, run from `cwd`; output goes to `log_path`."""
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py")],
            cwd=cwd,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def start_api(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """`uvicorn api.main:app` on 127.0.0.1:`port` with the given settings."""
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1"]
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [*command, "--port", str(port), "--no-access-log"],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def start_dev_stack(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`make run`'s launcher with exactly `env`, in its own process group as a terminal's
    foreground job is, so one signal to the group reaches every process (as Ctrl-C does)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "dev_stack.py")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no shutdown hooks, no goodbye to the server, like a machine losing power."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM and wait: the graceful path."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill(process)
    return process.returncode
