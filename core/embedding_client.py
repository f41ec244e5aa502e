"""Embedding texts: through the configured OpenAI-compatible endpoint (`POST /embeddings`),
or with the offline model. Shared by the worker (passages) and the API (a search's query)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from core.config import Settings
from core.contracts.llm import TokenUsage
from core.offline_embedding import offline_embedding
from core.passages import count_tokens

OFFLINE_MODEL = "offline"


class EmbeddingFailed(Exception):
    """The endpoint refused or failed; `permanent` when asking again cannot help."""

    def __init__(self, message: str, permanent: bool, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.rate_limited = rate_limited


@dataclass(frozen=True)
class Embedded:
    vectors: list[list[float]]
    model: str
    usage: TokenUsage
    # A pause the provider asked for (the model gate's protocol); embeddings ask none.
    pause_s: float | None = None


class EmbeddingClient:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self._http = http
        self._base = (settings.openai_base_url or "https://api.openai.com/v1").rstrip("/")
        key = settings.openai_api_key
        self._headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}

    async def embed(self, model: str, texts: list[str]) -> Embedded:
        if model == OFFLINE_MODEL:
            vectors = [offline_embedding(text) for text in texts]
            return Embedded(vectors, model, TokenUsage(input_tokens=sum(map(count_tokens, texts))))
        try:
            response = await self._http.post(
                f"{self._base}/embeddings",
                json={"model": model, "input": texts},
                headers=self._headers,
            )
        except httpx.HTTPError as err:
            raise EmbeddingFailed(f"{model}: {type(err).__name__}", permanent=False) from err
        if response.status_code >= 400:
            retried = response.status_code in (408, 409, 429) or response.status_code >= 500
            raise EmbeddingFailed(
                f"{model} answered {response.status_code}",
                permanent=not retried,
                # The model gate waits this out for the whole fleet, as for chat calls.
                rate_limited=response.status_code == 429,
            )
        try:
            body = response.json()
            rows = sorted(body.get("data", []), key=lambda row: row.get("index", 0))
            vectors = [[float(v) for v in row["embedding"]] for row in rows]
        except (ValueError, TypeError, KeyError, AttributeError):
            # A gateway's HTML page, or JSON of another shape: worth asking again.
            raise EmbeddingFailed(
                f"{model} answered something that is not embeddings", permanent=False
            ) from None
        if len(vectors) != len(texts):
            raise EmbeddingFailed(f"{model} returned {len(vectors)} of {len(texts)}", False)
        tokens = int((body.get("usage") or {}).get("prompt_tokens") or 0)
        return Embedded(vectors, str(body.get("model") or model), TokenUsage(input_tokens=tokens))
