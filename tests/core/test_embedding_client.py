"""The embedding client against a server that answers badly: each answer is a clear
EmbeddingFailed (retried, or not) instead of a parsing error."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from core.embedding_client import EmbeddingClient, EmbeddingFailed
from tests.conftest import make_settings
from tests.support.webhook import Webhook


@pytest.fixture
def endpoint() -> Iterator[Webhook]:
    with Webhook().running() as hook:
        yield hook


@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [
        (200, b"<html>bad gateway page</html>", False),
        (200, b'{"data": [{"index": 0}]}', False),
        (200, b'{"data": "nope"}', False),
        (503, b"", False),
        (429, b"", False),
        (404, b'{"error": {"message": "no such model"}}', True),
    ],
)
async def test_a_bad_answer_is_an_embedding_failure(
    endpoint: Webhook, status: int, body: bytes, permanent: bool
) -> None:
    endpoint.replies.append((status, {"Content-Type": "application/json"}, body))
    settings = make_settings(openai_base_url=endpoint.base, openai_api_key="sk-test")
    async with httpx.AsyncClient() as http:
        with pytest.raises(EmbeddingFailed) as failed:
            await EmbeddingClient(settings, http).embed("text-embedding-3-small", ["hello"])
    assert failed.value.permanent is permanent
    assert failed.value.rate_limited is (status == 429)
