"""A job request checked at the door: its type, its input against the type's model, its stored
documents and its bounds. A start and a schedule's job are checked alike."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.job_bounds import check_bounds, with_defaults
from api.schemas import JobCreate
from api.stored_documents import read_stored_documents
from core.config import Settings
from core.contracts.agent import AgentInput
from core.contracts.answer import AnswerInput
from core.contracts.ingest import IngestInput
from core.contracts.job_type import JobType
from core.contracts.plan import JobInput
from core.errors import InvalidInput
from core.jobs import JOB_TYPES
from store import Stores
from store.database import outage_as_unavailable


async def checked_job(
    body: JobCreate,
    owner: str,
    settings: Settings,
    stores: Stores,
    at: tuple[str, ...] = ("body",),
) -> tuple[JobType, JobInput]:
    """The job's type and validated input, or a 422 whose fields are located under `at`."""
    try:
        return await _checked(body, owner, settings, stores)
    except InvalidInput as err:
        err.loc = (*at, *err.loc[1:])
        raise
    except RequestValidationError as err:
        raise RequestValidationError(
            [{**e, "loc": (*at, *e["loc"][1:])} for e in err.errors()]
        ) from None


async def _checked(
    body: JobCreate, owner: str, settings: Settings, stores: Stores
) -> tuple[JobType, JobInput]:
    job_type = JOB_TYPES.get(body.type)
    if job_type is None:
        valid = ", ".join(sorted(JOB_TYPES))
        raise InvalidInput(
            ("body", "type"), f"unknown job type {body.type!r}; valid types: {valid}"
        )
    try:
        # Strict, as the schema says: `false` is not a number, "3" is not an integer.
        job_input = job_type.input_model.model_validate(body.input, strict=True)
    except ValidationError as err:
        raise RequestValidationError(
            [
                {**e, "loc": ("body", "input", *e["loc"])}
                for e in err.errors(include_url=False, include_context=False)
            ]
        ) from None
    job_input = await read_stored_documents(owner, job_input, stores.documents)
    if isinstance(job_input, IngestInput):
        await _check_ingest(owner, job_input, settings, stores)
    named: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(job_input, AnswerInput):
        named = [(("body", "input", "collection"), job_input.collection)]
    if isinstance(job_input, AgentInput):
        named = [
            (("body", "input", "collections", i), c) for i, c in enumerate(job_input.collections)
        ]
    for loc, name in named:
        async with outage_as_unavailable():
            found = await stores.collections.get(owner, name)
        if found is None:
            raise InvalidInput(loc, f"no collection {name!r}: an ingest job makes it")
    check_bounds(job_input, with_defaults(job_input, body.options, settings), settings)
    if (source := body.options.replay_from) is not None:
        async with outage_as_unavailable():
            recorded = await stores.requests.get(owner, source)
        if recorded is None:
            raise InvalidInput(
                ("body", "options", "replay_from"),
                f"no job or cassette {source!r} of yours has records: a job started through "
                "the API keeps them AIJOBS_JOURNAL_RETENTION_DAYS days, a schedule's jobs "
                "keep none",
            )
    return job_type, job_input


async def _check_ingest(
    owner: str, job_input: IngestInput, settings: Settings, stores: Stores
) -> None:
    """Stored ids that exist, one name per document, and the collection's own model."""
    ids = [d.id for d in job_input.documents if d.id is not None]
    async with outage_as_unavailable():
        stored = await stores.documents.read(owner, ids)
        collection = await stores.collections.get(owner, job_input.collection)
    names: dict[str, int] = {}
    for index, d in enumerate(job_input.documents):
        if d.id is not None and d.id not in stored:
            raise InvalidInput(
                ("body", "input", "documents", index, "id"),
                f"no stored document {d.id!r} (ids come from your own earlier jobs)",
            )
        name = d.name or (stored[d.id].name if d.id is not None else d.url) or ""
        if name in names:
            raise InvalidInput(
                ("body", "input", "documents", index),
                f"documents {names[name]} and {index} are both named {name!r}: a collection "
                "holds one document per name",
            )
        names[name] = index
    model = job_input.embedding_model or settings.default_embedding_model
    if collection is not None and collection.embedding_model != model:
        raise InvalidInput(
            ("body", "input", "embedding_model"),
            f"collection {job_input.collection!r} was built with {collection.embedding_model}, "
            f"not {model}: a collection keeps one embedding model",
        )
