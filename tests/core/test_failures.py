"""A database error leaves a worker without the SQL statement and parameters SQLAlchemy puts in
its text: they would quote a job's data in the job's error, its history and the API."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DefaultPayloadConverter

from core.redaction import RedactingEncodedFailureConverter, RedactingFailureConverter

pytestmark = pytest.mark.unit


class CharacterNotInRepertoireError(Exception):
    """Stands for asyncpg's error class: only its name and first line are kept."""


def database_error() -> DBAPIError:
    try:
        raise DBAPIError(
            "INSERT INTO job_events (job_id, body) VALUES ($1, $2)",
            ("job-1", "customer's secret text"),
            CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00'),
        )
    except DBAPIError as err:
        return err


@pytest.mark.parametrize(
    "converter", [RedactingFailureConverter(), RedactingEncodedFailureConverter()]
)
def test_a_database_error_leaves_without_its_statement(
    converter: RedactingFailureConverter,
) -> None:
    failure = Failure()
    converter.to_failure(database_error(), DefaultPayloadConverter(), failure)
    text = failure.message + failure.stack_trace
    if failure.HasField("encoded_attributes"):
        [attributes] = DefaultPayloadConverter().from_payloads([failure.encoded_attributes])
        text += str(attributes)
    assert "database error (CharacterNotInRepertoireError): invalid byte sequence" in text
    for leak in ("INSERT INTO", "customer's secret text", "[SQL:", "[parameters:"):
        assert leak not in text
