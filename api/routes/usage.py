"""Route reporting what the caller's model calls used and cost, from the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic.json_schema import SkipJsonSchema

from api.deps import CurrentOwner, StoresDep
from api.responses import V1, errors
from api.schemas import UsageLine, UsageReport, UtcTime
from core.errors import InvalidInput
from store.database import outage_as_unavailable
from store.quotas import month_start

router = APIRouter(prefix="/v1/usage", tags=["usage"], responses=errors(*V1))

MAX_RANGE = timedelta(days=366)


@router.get("", response_model=UsageReport, response_model_by_alias=True)
async def usage(
    owner: CurrentOwner,
    stores: StoresDep,
    start: Annotated[
        UtcTime | SkipJsonSchema[None],
        Query(alias="from", description="Start (inclusive); the start of this month if unset."),
    ] = None,
    end: Annotated[
        UtcTime | SkipJsonSchema[None],
        Query(alias="to", description="End (exclusive); now if unset."),
    ] = None,
    group_by: Annotated[Literal["day", "model", "type"], Query()] = "day",
) -> UsageReport:
    """Tokens, calls and dollars of every billed model call of the caller's jobs."""
    now = datetime.now(UTC)
    start = start or month_start(now)
    end = end or now + timedelta(seconds=1)
    if end <= start:
        raise InvalidInput(("query", "to"), "`to` must be after `from`")
    if end - start > MAX_RANGE:
        raise InvalidInput(("query", "to"), "ask for at most 366 days at a time")
    async with outage_as_unavailable():
        groups = await stores.ledger.usage(owner, start, end, group_by)
    lines = [
        UsageLine(
            key=g.key,
            calls=g.calls,
            input_tokens=g.input_tokens,
            output_tokens=g.output_tokens,
            cost_usd=float(g.cost_usd),
            unpriced_calls=g.unpriced_calls,
            cache_hits=g.cache_hits,
            saved_cost_usd=float(g.saved_cost_usd),
        )
        for g in groups
    ]
    total = UsageLine(
        key="total",
        calls=sum(g.calls for g in groups),
        input_tokens=sum(g.input_tokens for g in groups),
        output_tokens=sum(g.output_tokens for g in groups),
        cost_usd=float(sum((g.cost_usd for g in groups), start=0)),
        unpriced_calls=sum(g.unpriced_calls for g in groups),
        cache_hits=sum(g.cache_hits for g in groups),
        saved_cost_usd=float(sum((g.saved_cost_usd for g in groups), start=0)),
    )
    return UsageReport(start=start, end=end, group_by=group_by, groups=lines, total=total)
