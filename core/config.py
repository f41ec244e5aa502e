"""One settings object for the worker, the API and the dev launcher, read from the environment."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Literal

import limits
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.contracts.human import GROUP_PATTERN
from core.errors import SettingsInvalid

# A guessable key is no key: `secrets.token_urlsafe(24)` gives 32 characters.
MIN_KEY_CHARS = 16


@dataclass(frozen=True)
class ApiKey:
    """One key of an owner, kept as its SHA-256 digest: configuration may hold only the digest
    (`owner=sha256:<hex>`), and a presented key is hashed and compared in constant time."""

    digest: bytes = field(repr=False)
    # The key itself when configuration gave it (used to redact it from text); None for a hash.
    plain: SecretStr | None = None

    @classmethod
    def parse(cls, value: str, variable: str) -> ApiKey:
        if value.startswith("sha256:"):
            try:
                digest = bytes.fromhex(value.removeprefix("sha256:"))
            except ValueError:
                digest = b""
            if len(digest) != 32:
                raise ValueError(f"{variable}: a sha256: key needs 64 hex digits")
            return cls(digest)
        # A client sends the key in an Authorization header: printable ASCII, no spaces.
        if not all("\x21" <= c <= "\x7e" for c in value):
            raise ValueError(
                f"{variable}: a key must be printable ASCII without spaces (an HTTP header "
                "cannot carry it otherwise, so it could never authenticate)"
            )
        if len(value) < MIN_KEY_CHARS:
            raise ValueError(f"{variable}: a key needs at least {MIN_KEY_CHARS} characters")
        return cls(hashlib.sha256(value.encode()).digest(), SecretStr(value))

    def matches(self, presented: str) -> bool:
        return hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), self.digest)


def owner_of(presented: str, keys: dict[str, tuple[ApiKey, ...]]) -> str | None:
    """The owner of `presented`, comparing every key so timing does not tell which matched."""
    owner = None
    for name, owned in keys.items():
        for key in owned:
            if key.matches(presented):
                owner = name
    return owner


@dataclass(frozen=True)
class Reviewer:
    """A person who answers the questions of jobs granted to one of their groups."""

    name: str
    key: ApiKey
    groups: frozenset[str]


def reviewer_of(presented: str, reviewers: dict[str, Reviewer]) -> Reviewer | None:
    """The reviewer whose key this is, comparing every key so timing does not tell which."""
    found = None
    for reviewer in reviewers.values():
        if reviewer.key.matches(presented):
            found = reviewer
    return found


@dataclass(frozen=True)
class ModelLimit:
    """At most `requests` calls and `tokens` tokens per window to one model (None: no cap)."""

    requests: int | None = None
    tokens: int | None = None


class Settings(BaseSettings):
    """Every knob aijobs reads, each from the environment variable docs/configuration.md names."""

    # An empty variable (`OPENAI_API_KEY=` in compose) means unset, not an empty key.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    temporal_address: str = Field(default="localhost:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    temporal_api_key: SecretStr | None = Field(default=None, alias="TEMPORAL_API_KEY")
    temporal_tls: bool = Field(default=False, alias="TEMPORAL_TLS")
    task_queue: str = Field(default="aijobs", alias="AIJOBS_TASK_QUEUE")

    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    model: str = Field(default="gpt-4o-mini", alias="AIJOBS_MODEL")
    # The model that embeds passages and questions, unless a job names another; with no key
    # and no endpoint, the offline model embeds instead.
    embedding_model: str = Field(default="text-embedding-3-small", alias="AIJOBS_EMBEDDING_MODEL")
    llm_timeout_s: float = Field(default=120.0, gt=0, alias="AIJOBS_LLM_TIMEOUT_S")

    # `owner=key,owner=key2,other=sha256:<hex>`: an owner may hold several keys (rotation).
    api_keys: Annotated[dict[str, tuple[ApiKey, ...]], NoDecode] = Field(
        default_factory=dict, alias="AIJOBS_API_KEYS"
    )
    # People who answer jobs' questions, by group: `{"maria": {"key": "...", "groups":
    # ["legal"]}}` (a key may be `sha256:<hex>`). They can answer, never start or read jobs.
    reviewers: Annotated[dict[str, Reviewer], NoDecode] = Field(
        default_factory=dict, alias="AIJOBS_REVIEWERS"
    )
    # How long a reviewer's claim on a question keeps others off it.
    claim_ttl_s: int = Field(default=900, ge=10, le=86_400, alias="AIJOBS_CLAIM_TTL_S")
    # Who may decode payloads through the codec server (operators, not owners): same form.
    codec_keys: Annotated[dict[str, tuple[ApiKey, ...]], NoDecode] = Field(
        default_factory=dict, alias="AIJOBS_CODEC_KEYS"
    )
    # `id=base64key,...` (32-byte AES keys): the first encrypts, every one decrypts.
    encryption_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict, alias="AIJOBS_ENCRYPTION_KEYS"
    )
    # The worker's Prometheus endpoint (SDK and model metrics); 0 serves none.
    worker_metrics_port: int = Field(default=0, ge=0, le=65535, alias="AIJOBS_WORKER_METRICS_PORT")
    ui_url: str = Field(default="http://localhost:8233", alias="AIJOBS_UI_URL")
    # Where people reach the API: links to a question's page in notifications start with it.
    public_url: str = Field(default="http://localhost:8000", alias="AIJOBS_PUBLIC_URL")
    max_body_bytes: int = Field(default=1_000_000, gt=0, alias="AIJOBS_MAX_BODY_BYTES")
    rpc_timeout_s: float = Field(default=10.0, gt=0, alias="AIJOBS_RPC_TIMEOUT_S")
    max_concurrent_activities: int = Field(
        default=50, gt=0, alias="AIJOBS_MAX_CONCURRENT_ACTIVITIES"
    )
    log_level: str = Field(default="INFO", alias="AIJOBS_LOG_LEVEL")
    publish_webhook: str | None = Field(default=None, alias="AIJOBS_PUBLISH_WEBHOOK")
    notify_webhook: str | None = Field(default=None, alias="AIJOBS_NOTIFY_WEBHOOK")
    input_timeout_s: float = Field(default=10.0, gt=0, alias="AIJOBS_INPUT_TIMEOUT_S")
    fetch_allowed_hosts: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), alias="AIJOBS_FETCH_ALLOWED_HOSTS"
    )
    fetch_max_bytes: int = Field(default=200_000, gt=0, alias="AIJOBS_FETCH_MAX_BYTES")
    # Lets fetch_url reach loopback, private and link-local addresses (a lab, never production).
    fetch_allow_private: bool = Field(default=False, alias="AIJOBS_FETCH_ALLOW_PRIVATE")
    # Job webhooks: hosts that may resolve to private addresses (a receiver inside the network;
    # loopback in tests), and how long a rotated secret keeps signing beside the new one.
    webhook_allow_private: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), alias="AIJOBS_WEBHOOK_ALLOW_PRIVATE"
    )
    webhook_secret_grace_s: int = Field(
        default=86_400, ge=0, le=30 * 86_400, alias="AIJOBS_WEBHOOK_SECRET_GRACE_S"
    )
    # Bounds at the door: a job planned to make more model calls is refused (422), as is a
    # model not in the list (empty: any).
    max_calls_per_job: int = Field(default=500, ge=1, alias="AIJOBS_MAX_CALLS_PER_JOB")
    allowed_models: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), alias="AIJOBS_ALLOWED_MODELS"
    )
    # Prices for models the maintained table lacks (self-hosted, unlisted): input and output
    # dollars per million tokens, `model=in/out,model2=in/out`.
    model_prices: Annotated[dict[str, tuple[Decimal, Decimal]], NoDecode] = Field(
        default_factory=dict, alias="AIJOBS_MODEL_PRICES"
    )
    # Requests per owner on every /v1 route, counted across API replicas (`limits` syntax:
    # `600/minute`, `10 per second`); beyond it, 429 with Retry-After.
    owner_rate_limit: str = Field(default="600/minute", alias="AIJOBS_OWNER_RATE_LIMIT")
    # Jobs one owner may have running at once; a start beyond it is a 429.
    owner_max_running: int = Field(default=100, ge=1, alias="AIJOBS_OWNER_MAX_RUNNING")
    # Schedules one owner may keep, and the shortest time between two of a schedule's runs.
    owner_max_schedules: int = Field(default=100, ge=1, alias="AIJOBS_OWNER_MAX_SCHEDULES")
    min_schedule_interval_s: int = Field(
        default=60, ge=1, le=86_400, alias="AIJOBS_MIN_SCHEDULE_INTERVAL_S"
    )
    # Per owner, dollars a calendar month (UTC) of model calls may cost: `owner=amount,...`.
    owner_monthly_budget_usd: Annotated[dict[str, Decimal], NoDecode] = Field(
        default_factory=dict, alias="AIJOBS_OWNER_MONTHLY_BUDGET_USD"
    )
    # Models to move to, in order, when a job's model cannot answer: `gpt-4o=gpt-4o-mini,...;`.
    fallback_models: Annotated[dict[str, list[str]], NoDecode] = Field(
        default_factory=dict, alias="AIJOBS_FALLBACK_MODELS"
    )
    # What each model may receive from the whole fleet per window (a minute):
    # `gpt-4o-mini=rpm:500,tpm:200000;gpt-4o=rpm:100`. A call that must wait, waits.
    model_limits: Annotated[dict[str, ModelLimit], NoDecode] = Field(
        default_factory=dict, alias="AIJOBS_MODEL_LIMITS"
    )
    model_limit_window_s: float = Field(
        default=60.0, gt=0, le=3600, alias="AIJOBS_MODEL_LIMIT_WINDOW_S"
    )
    # The cross-run response cache: how long an answer is kept, and whether owners share it.
    cache_ttl_s: float = Field(default=7 * 86_400.0, gt=0, alias="AIJOBS_CACHE_TTL_S")
    cache_scope: Literal["owner", "global"] = Field(default="owner", alias="AIJOBS_CACHE_SCOPE")
    # Token batches per model call: lower is livelier, higher writes fewer rows.
    stream_batch_ms: int = Field(default=100, ge=10, le=10_000, alias="AIJOBS_STREAM_BATCH_MS")

    # The application database, shared by every worker and API process. `make run` starts an
    # embedded PostgreSQL under AIJOBS_DATA_DIR and sets this when it is not given.
    database_url: SecretStr | None = Field(default=None, alias="AIJOBS_DATABASE_URL")
    database_pool_size: int = Field(default=10, ge=1, le=200, alias="AIJOBS_DATABASE_POOL_SIZE")
    # How long job events stay readable (a client resuming later gets a `truncated` event).
    event_retention_days: float = Field(default=7.0, gt=0, alias="AIJOBS_EVENT_RETENTION_DAYS")
    # Each step's journaled answer (what keeps a retried step from paying twice): kept at least
    # as long as a model step may retry (3 hours), then removed by the hourly retention run.
    journal_retention_days: float = Field(
        default=7.0, ge=0.125, alias="AIJOBS_JOURNAL_RETENTION_DAYS"
    )
    token_retention_days: float = Field(default=1.0, gt=0, alias="AIJOBS_TOKEN_RETENTION_DAYS")
    # On SIGTERM (a deploy), calls in flight get this long to finish before Temporal retries
    # them on another worker.
    shutdown_grace_s: float = Field(default=120.0, ge=0, alias="AIJOBS_SHUTDOWN_GRACE_S")
    # Worker Versioning: with a build id, the worker is that version of the deployment, and
    # each run stays on the version it started on (pinned) until it closes.
    worker_deployment: str = Field(
        default="aijobs", min_length=1, max_length=200, alias="AIJOBS_WORKER_DEPLOYMENT"
    )
    worker_build_id: str | None = Field(
        default=None, min_length=1, max_length=200, alias="AIJOBS_WORKER_BUILD_ID"
    )

    # Only `make run` keeps anything here (the dev key, the dev servers' data); workers do not.
    data_dir: str = Field(default=".data", alias="AIJOBS_DATA_DIR")
    api_port: int = Field(default=8000, ge=1, le=65535, alias="AIJOBS_API_PORT")
    dev_temporal_port: int = Field(default=7233, ge=1, le=65535, alias="AIJOBS_DEV_TEMPORAL_PORT")
    dev_ui_port: int = Field(default=8233, ge=1, le=65535, alias="AIJOBS_DEV_UI_PORT")
    # Worker processes `make run` starts; 0: one per CPU core (a worker is bound to one core).
    dev_workers: int = Field(default=0, ge=0, le=64, alias="AIJOBS_DEV_WORKERS")

    @field_validator("api_keys", "codec_keys", mode="before")
    @classmethod
    def _parse_api_keys(cls, raw: object, info: ValidationInfo) -> object:
        """Accept `owner=key,owner2=key2`, the form that fits in one environment variable."""
        if not isinstance(raw, str):
            return raw
        variable = "AIJOBS_API_KEYS" if info.field_name == "api_keys" else "AIJOBS_CODEC_KEYS"
        keys: dict[str, tuple[ApiKey, ...]] = {}
        seen: set[bytes] = set()
        for entry in filter(None, (part.strip() for part in raw.split(","))):
            owner, sep, key = entry.partition("=")
            owner, key = owner.strip(), key.strip()
            if not sep or not owner or not key:
                raise ValueError(f"{variable} entries look like owner=key, got {owner!r}")
            parsed = ApiKey.parse(key, variable)
            if parsed.digest in seen:
                raise ValueError(f"{variable} gives one key twice (owner {owner!r})")
            seen.add(parsed.digest)
            keys[owner] = (*keys.get(owner, ()), parsed)
        return keys

    @field_validator("reviewers", mode="before")
    @classmethod
    def _parse_reviewers(cls, raw: object) -> object:
        if not isinstance(raw, str):
            return raw
        if not raw.strip():
            return {}
        return parse_reviewers(raw)

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _parse_encryption_keys(cls, raw: object) -> object:
        """`id=base64key,...`; each key is 32 bytes (AES-256)."""
        if not isinstance(raw, str):
            return raw
        keys: dict[str, str] = {}
        for key_id, value in _pairs(raw, "AIJOBS_ENCRYPTION_KEYS", "id=base64key"):
            try:
                size = len(base64.b64decode(value, validate=True))
            except binascii.Error:
                size = -1
            if size != 32:
                raise ValueError(
                    f"AIJOBS_ENCRYPTION_KEYS key {key_id!r} is not 32 bytes of base64 "
                    "(make one with: python -c 'import os,base64;"
                    "print(base64.b64encode(os.urandom(32)).decode())')"
                )
            if key_id in keys:
                raise ValueError(f"AIJOBS_ENCRYPTION_KEYS names key {key_id!r} twice")
            keys[key_id] = value
        return keys

    @field_validator("fetch_allowed_hosts", "webhook_allow_private", mode="before")
    @classmethod
    def _parse_hosts(cls, raw: object) -> object:
        """`example.com,docs.example.com`: exact host names, compared in lower case."""
        if isinstance(raw, str):
            return frozenset(h.strip().lower() for h in raw.split(",") if h.strip())
        return raw

    @field_validator("owner_rate_limit")
    @classmethod
    def _parse_rate(cls, raw: str) -> str:
        try:
            limits.parse(raw)
        except ValueError:
            raise ValueError(
                f"AIJOBS_OWNER_RATE_LIMIT {raw!r} is not a rate such as 600/minute"
            ) from None
        return raw

    @field_validator("allowed_models", mode="before")
    @classmethod
    def _parse_models(cls, raw: object) -> object:
        """`gpt-4o-mini,gpt-4o`: model names exactly as jobs give them."""
        if isinstance(raw, str):
            return frozenset(m.strip() for m in raw.split(",") if m.strip())
        return raw

    @field_validator("model_prices", mode="before")
    @classmethod
    def _parse_prices(cls, raw: object) -> object:
        """`my-llama=0.2/0.8`: input and output dollars per million tokens."""
        if not isinstance(raw, str):
            return raw
        prices: dict[str, tuple[Decimal, Decimal]] = {}
        for model, value in _pairs(raw, "AIJOBS_MODEL_PRICES", "model=input/output"):
            per_input, slash, per_output = value.partition("/")
            if not slash:
                raise ValueError(f"AIJOBS_MODEL_PRICES for {model!r} must be input/output")
            prices[model] = (_dollars(per_input, model), _dollars(per_output, model))
        return prices

    @field_validator("fallback_models", mode="before")
    @classmethod
    def _parse_fallbacks(cls, raw: object) -> object:
        """`primary=fallback1,fallback2;other=fallback3`."""
        if not isinstance(raw, str):
            return raw
        chains: dict[str, list[str]] = {}
        for entry in filter(None, (e.strip() for e in raw.split(";"))):
            primary, equals, rest = entry.partition("=")
            models = [m.strip() for m in rest.split(",") if m.strip()]
            if not equals or not primary.strip() or not models:
                raise ValueError(
                    f"AIJOBS_FALLBACK_MODELS entries look like primary=fallback1,fallback2, "
                    f"got {entry!r}"
                )
            chains[primary.strip()] = models
        return chains

    @field_validator("model_limits", mode="before")
    @classmethod
    def _parse_model_limits(cls, raw: object) -> object:
        """`model=rpm:N,tpm:N;model2=rpm:N`."""
        if not isinstance(raw, str):
            return raw
        parsed: dict[str, ModelLimit] = {}
        for entry in filter(None, (e.strip() for e in raw.split(";"))):
            model, equals, caps = entry.partition("=")
            values: dict[str, int] = {}
            for cap in filter(None, (c.strip() for c in caps.split(","))):
                name, colon, number = cap.partition(":")
                if name not in ("rpm", "tpm") or not colon or not number.strip().isdigit():
                    raise ValueError(
                        f"AIJOBS_MODEL_LIMITS entries look like model=rpm:500,tpm:200000, "
                        f"got {entry!r}"
                    )
                values[name] = int(number)
            if not equals or not model.strip() or not values:
                raise ValueError(
                    f"AIJOBS_MODEL_LIMITS entries look like model=rpm:500,tpm:200000, got {entry!r}"
                )
            parsed[model.strip()] = ModelLimit(values.get("rpm"), values.get("tpm"))
        return parsed

    @field_validator("owner_monthly_budget_usd", mode="before")
    @classmethod
    def _parse_budgets(cls, raw: object) -> object:
        """`alice=100,bob=2.5`: dollars per calendar month."""
        if not isinstance(raw, str):
            return raw
        pairs = _pairs(raw, "AIJOBS_OWNER_MONTHLY_BUDGET_USD", "owner=dollars")
        return {owner: _dollars(amount, owner) for owner, amount in pairs}

    @property
    def page_token_secret(self) -> bytes:
        """Signs list page tokens; derived from the API keys so every replica agrees on it."""
        material = "\0".join(
            f"{o}={k.digest.hex()}" for o, keys in sorted(self.api_keys.items()) for k in keys
        )
        return hashlib.sha256(b"aijobs-page-token\0" + material.encode()).digest()

    @property
    def session_secret(self) -> bytes:
        """Signs reviewers' page sessions; derived from every key, so replicas agree on it and
        a changed key ends the sessions it opened."""
        material = "\0".join(
            [f"{o}={k.digest.hex()}" for o, keys in sorted(self.api_keys.items()) for k in keys]
            + [f"{r}={v.key.digest.hex()}" for r, v in sorted(self.reviewers.items())]
        )
        return hashlib.sha256(b"aijobs-inbox-session\0" + material.encode()).digest()

    @property
    def reviewer_groups(self) -> frozenset[str]:
        return frozenset(g for reviewer in self.reviewers.values() for g in reviewer.groups)

    @property
    def default_embedding_model(self) -> str:
        return "offline" if self.uses_offline_model else self.embedding_model

    @property
    def uses_offline_model(self) -> bool:
        """No key and no endpoint: answer with the built-in offline model."""
        return self.openai_api_key is None and self.openai_base_url is None


def parse_reviewers(raw: str) -> dict[str, Reviewer]:
    """AIJOBS_REVIEWERS: a JSON object of name -> {"key", "groups"}."""
    variable = "AIJOBS_REVIEWERS"
    shape = 'a JSON object such as {"maria": {"key": "...", "groups": ["legal"]}}'
    try:
        given = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"{variable} is not JSON ({err.msg}); give {shape}") from None
    if not isinstance(given, dict):
        raise ValueError(f"{variable} must be {shape}")
    reviewers: dict[str, Reviewer] = {}
    seen: set[bytes] = set()
    for name, entry in given.items():
        key, groups = (
            (entry.get("key"), entry.get("groups")) if isinstance(entry, dict) else (None, None)
        )
        if not isinstance(key, str) or not isinstance(groups, list) or not groups:
            raise ValueError(f'{variable}: {name!r} needs a "key" and a list of "groups"')
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
            raise ValueError(f"{variable}: {name!r} is not a usable name (letters, digits, . _ -)")
        for group in groups:
            if not isinstance(group, str) or not re.fullmatch(GROUP_PATTERN, group):
                raise ValueError(f"{variable}: group {group!r} of {name!r} is not a group name")
        parsed = ApiKey.parse(key, variable)
        if parsed.digest in seen:
            raise ValueError(f"{variable} gives one key twice (reviewer {name!r})")
        seen.add(parsed.digest)
        reviewers[name] = Reviewer(name, parsed, frozenset(groups))
    return reviewers


def _pairs(raw: str, variable: str, shape: str) -> list[tuple[str, str]]:
    pairs = []
    for entry in raw.split(","):
        if not entry.strip():
            continue
        name, equals, value = entry.partition("=")
        if not equals or not name.strip() or not value.strip():
            raise ValueError(f"{variable} entries look like {shape}, got {entry.strip()!r}")
        pairs.append((name.strip(), value.strip()))
    return pairs


def _dollars(raw: str, name: str) -> Decimal:
    try:
        amount = Decimal(raw.strip())
    except InvalidOperation:
        raise ValueError(f"{raw.strip()!r} for {name!r} is not an amount of dollars") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{raw.strip()!r} for {name!r} is not an amount of dollars")
    return amount


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once. SettingsInvalid names every bad variable in one
    line, instead of a traceback."""
    try:
        return Settings()
    except ValidationError as err:
        problems = []
        for error in err.errors(include_url=False):
            name = str(error["loc"][0]) if error["loc"] else "settings"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(message if message.startswith(name) else f"{name}: {message}")
        raise SettingsInvalid("invalid settings: " + "; ".join(problems)) from None
