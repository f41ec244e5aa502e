"""A job request checked at the door: its type, its input against the type's model, its stored
documents and its bounds. A start and a schedule's job are checked alike."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.job_bounds import check_bounds, with_defaults
from api.schemas import JobCreate
from api.stored_documents import read_stored_documents
from core.config import Settings
from core.contracts.job_type import JobType
from core.contracts.plan import JobInput
from core.errors import InvalidInput
from core.jobs import JOB_TYPES
from store import Stores


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
    check_bounds(job_input, with_defaults(job_input, body.options, settings), settings)
    return job_type, job_input
