"""A schedule's timetable (`cron` or `every`, in a time zone), checked at the door and turned
into Temporal's ScheduleSpec; and how many runs a backfill's range holds."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from temporalio.client import ScheduleIntervalSpec, ScheduleSpec

from core.contracts.schedules import Timetable
from core.errors import InvalidInput

_EVERY = re.compile(r"^(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?(?:(\d{1,7})s)?$")
_UNITS = ("days", "hours", "minutes", "seconds")
MAX_EVERY = timedelta(days=366)
# A cron's shortest gap is looked for among its next runs, up to this many (enough to cover
# every minute of a day, so `0,1 3 * * *` is seen to run twice within a minute) or this far.
_CRON_SAMPLE = 1500
_CRON_HORIZON = timedelta(days=800)


def timetable(cron: str | None, every: str | None, timezone: str, min_interval_s: int) -> Timetable:
    """The timetable, or InvalidInput naming the field at fault."""
    if (cron is None) == (every is None):
        raise InvalidInput(
            ("body", "cron"), 'give either cron ("0 2 * * *") or every ("15m"), not both'
        )
    zone = _zone(timezone)
    least = timedelta(seconds=min_interval_s)
    if cron is None:
        gap = parse_every(every or "")
        if gap < least:
            raise InvalidInput(
                ("body", "every"),
                f"every {every} is more often than this deployment allows: at least "
                f"{_shown(least)} apart (AIJOBS_MIN_SCHEDULE_INTERVAL_S)",
            )
        return Timetable(every=every, timezone=timezone)
    gap = _shortest_gap(cron, zone)
    if gap < least:
        raise InvalidInput(
            ("body", "cron"),
            f"{cron!r} runs {_shown(gap)} apart at times; this deployment allows at least "
            f"{_shown(least)} (AIJOBS_MIN_SCHEDULE_INTERVAL_S)",
        )
    return Timetable(cron=cron, timezone=timezone)


def spec_of(table: Timetable) -> ScheduleSpec:
    if table.every is not None:
        return ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=parse_every(table.every))],
            time_zone_name=table.timezone,
        )
    return ScheduleSpec(cron_expressions=[table.cron or ""], time_zone_name=table.timezone)


def parse_every(every: str) -> timedelta:
    match = _EVERY.match(every.strip().lower())
    if match is None or not any(match.groups()):
        raise InvalidInput(
            ("body", "every"),
            f"{every!r} is not an interval: write it as 90s, 15m, 2h, 1d or 1h30m",
        )
    gap = timedelta(**{unit: int(n) for unit, n in zip(_UNITS, match.groups(), strict=True) if n})
    if gap > MAX_EVERY:
        raise InvalidInput(("body", "every"), f"{every!r} is longer than a year")
    return gap


def runs_between(table: Timetable, start: datetime, end: datetime, most: int) -> int:
    """How many runs fall in [start, end], counted up to `most` + 1 (enough to refuse)."""
    if table.every is not None:
        # Temporal places interval runs at whole multiples of it since the Unix epoch.
        step = parse_every(table.every).total_seconds()
        first = -(-start.timestamp() // step)
        return max(0, min(most + 1, int(end.timestamp() // step - first) + 1))
    times = croniter(table.cron or "", start.astimezone(ZoneInfo(table.timezone)) - _TICK)
    count = 0
    while count <= most and times.get_next(datetime) <= end:
        count += 1
    return count


_TICK = timedelta(microseconds=1)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            ("body", "timezone"), f"{name!r} is not a time zone: use an IANA name such as UTC"
        ) from None


def _shortest_gap(cron: str, zone: ZoneInfo) -> timedelta:
    fields = cron.split()
    if len(fields) != 5 or not croniter.is_valid(cron):
        raise InvalidInput(
            ("body", "cron"),
            f"{cron!r} is not a cron expression: five fields, minute hour day month weekday "
            '("0 2 * * *" is 02:00 every day)',
        )
    now = datetime.now(UTC).astimezone(zone)
    times = croniter(cron, now)
    upcoming: list[datetime] = []
    try:
        while len(upcoming) < _CRON_SAMPLE and (not upcoming or upcoming[-1] - now < _CRON_HORIZON):
            upcoming.append(times.get_next(datetime))
    except CroniterBadDateError:
        if not upcoming:
            raise InvalidInput(("body", "cron"), f"{cron!r} names no date that exists") from None
    # Distinct instants: around a DST change croniter may name one moment twice.
    instants = sorted({t.astimezone(UTC) for t in upcoming})
    return min((later - earlier for earlier, later in pairwise(instants)), default=_CRON_HORIZON)


def _shown(gap: timedelta) -> str:
    seconds = int(gap.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"
