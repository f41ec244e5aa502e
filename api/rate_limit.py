"""Per-owner request limits on every /v1 route, counted in the application database so that
all API replicas share them, with the IETF RateLimit headers on every answer."""

from __future__ import annotations

import math
import time
from functools import lru_cache

import limits
from fastapi import Request, Response
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from api.deps import CurrentOwner, SettingsDep
from core.errors import LimitReached
from store.database import outage_as_unavailable

POLICY = "owner"


@lru_cache(maxsize=8)
def _rate(text: str) -> limits.RateLimitItem:
    return limits.parse(text)


async def enforce_rate_limit(
    request: Request, response: Response, owner: CurrentOwner, settings: SettingsDep
) -> None:
    """Count this request against its owner; LimitReached (429) beyond the rate."""
    limiter: SlidingWindowCounterRateLimiter = request.app.state.rate_limiter
    rate = _rate(settings.owner_rate_limit)
    async with outage_as_unavailable():
        allowed = await limiter.hit(rate, owner)
        stats = await limiter.get_window_stats(rate, owner)
    reset = max(1, math.ceil(stats.reset_time - time.time()))
    headers = {
        "RateLimit-Policy": f'"{POLICY}";q={rate.amount};w={rate.get_expiry()}',
        "RateLimit": f'"{POLICY}";r={stats.remaining};t={reset}',
    }
    if not allowed:
        raise LimitReached(
            f"more than {rate.amount} requests in {rate.get_expiry()} s for this owner "
            f"(AIJOBS_OWNER_RATE_LIMIT={settings.owner_rate_limit}); retry in {reset} s",
            headers={**headers, "Retry-After": str(reset)},
        )
    response.headers.update(headers)
