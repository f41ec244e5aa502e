"""Per-owner request limits on every /v1 route, counted in the application database so that
all API replicas share them, with the IETF RateLimit headers on every answer."""

from __future__ import annotations

import math
import time
from functools import lru_cache

import limits
import structlog
from fastapi import Request, Response
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from api.deps import CurrentCaller, SettingsDep
from core.errors import DatabaseUnavailable, LimitReached
from store.database import outage_as_unavailable

log = structlog.get_logger(__name__)

POLICY = "owner"


@lru_cache(maxsize=8)
def _rate(text: str) -> limits.RateLimitItem:
    return limits.parse(text)


async def enforce_rate_limit(
    request: Request, response: Response, caller: CurrentCaller, settings: SettingsDep
) -> None:
    """Count this request against its owner (or reviewer); LimitReached (429) beyond the
    rate."""
    owner = caller.name
    limiter: SlidingWindowCounterRateLimiter = request.app.state.rate_limiter
    rate = _rate(settings.owner_rate_limit)
    try:
        async with outage_as_unavailable():
            allowed = await limiter.hit(rate, owner)
            stats = await limiter.get_window_stats(rate, owner)
    except DatabaseUnavailable:
        # Open, not closed: a database outage must not also refuse the routes that need only
        # Temporal (reading jobs, answering them). The routes that need the database say 503.
        log.warning("rate_limit.unavailable", owner=owner)
        return
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
