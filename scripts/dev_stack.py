"""`make run`: the Temporal dev server (unless TEMPORAL_ADDRESS is set), the worker and the API.

Ctrl-C (or SIGTERM) stops all three; if any one of them dies, the others are stopped too.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import get_settings  # noqa: E402  (needs the path above when run as a script)
from core.temporal import dev_server_search_attribute_flags  # noqa: E402

BIN = Path(sys.executable).parent
START_DEADLINE_S = 60.0


Children = dict[str, subprocess.Popen[bytes]]


def _wait_until(ready: Callable[[], bool], what: str, children: Children) -> None:
    """Poll `ready()` until true; give up if a child died or the deadline passed."""
    deadline = time.monotonic() + START_DEADLINE_S
    while not ready():
        for name, process in children.items():
            if process.poll() is not None:
                raise SystemExit(f"{what} failed: {name} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} not ready after {START_DEADLINE_S:.0f}s")
        time.sleep(0.1)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (our own http URL)
            return bool(response.status == 200)
    except OSError:
        return False


def _dev_api_key(data_dir: Path) -> str:
    """A random key kept in the data dir, so it survives restarts of `make run`."""
    path = data_dir / "dev-api-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def main() -> int:
    settings = get_settings()
    data_dir = (ROOT / settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    children: Children = {}
    stopping = False

    def on_signal(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    ui_url = settings.ui_url
    try:
        if "TEMPORAL_ADDRESS" not in os.environ:
            port, ui_port = settings.dev_temporal_port, settings.dev_ui_port
            children["temporal"] = subprocess.Popen(
                [
                    str(BIN / "temporal"),
                    "server",
                    "start-dev",
                    "--db-filename",
                    str(data_dir / "temporal.db"),
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--ui-port",
                    str(ui_port),
                    "--log-level",
                    "warn",
                    *dev_server_search_attribute_flags(),
                ],
                cwd=ROOT,
            )
            env["TEMPORAL_ADDRESS"] = f"localhost:{port}"
            if "AIJOBS_UI_URL" not in os.environ:
                ui_url = env["AIJOBS_UI_URL"] = f"http://localhost:{ui_port}"
            _wait_until(lambda: _port_open(port), "Temporal dev server", children)

        api_key = None
        if not settings.api_keys:
            api_key = _dev_api_key(data_dir)
            env["AIJOBS_API_KEYS"] = f"dev={api_key}"

        children["worker"] = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env)
        api_url = f"http://localhost:{settings.api_port}"
        children["api"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(settings.api_port),
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
        )
        _wait_until(lambda: _healthy(f"{api_url}/readyz"), "API", children)
        _banner(api_url, ui_url, env["TEMPORAL_ADDRESS"], api_key, settings.uses_offline_model)

        while not stopping and all(p.poll() is None for p in children.values()):
            time.sleep(0.2)
        if stopping:
            return 0
        for name, process in children.items():
            if process.poll() is not None:
                print(f"aijobs: {name} exited with {process.returncode}; stopping the rest")
        return 1
    finally:
        _stop_all(list(children.values()))


def _banner(api: str, ui: str, temporal: str, key: str | None, offline: bool) -> None:
    lines = [
        "",
        "aijobs is running",
        f"  API          {api}   (interactive docs: {api}/docs)",
        f"  Temporal UI  {ui}",
        f"  Temporal     {temporal}",
    ]
    if key:
        lines.append(f"  API key      {key}   (owner 'dev'; kept in .data/dev-api-key)")
    if offline:
        lines.append(
            "  Model        offline (set OPENAI_API_KEY or OPENAI_BASE_URL for a real one)"
        )
    lines += [
        "",
        "  Try:",
        f"    curl -s -X POST {api}/v1/jobs -H 'Authorization: Bearer {key or '<your key>'}' \\",
        "      -H 'Content-Type: application/json' \\",
        '      -d \'{"type": "summarize", "input": {"text": "Temporal makes jobs durable."}}\'',
        "",
        "  Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM in reverse start order (API, worker, then Temporal), then SIGKILL stragglers."""
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in reversed(processes):
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
