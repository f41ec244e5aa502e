"""A schedule's timetable at the door: intervals parsed, crons checked for syntax and for how
close together they run, time zones named, and a backfill's runs counted as Temporal places
them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.schedule_spec import parse_every, runs_between, timetable
from core.contracts.schedules import Timetable
from core.errors import InvalidInput

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "gap"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
    ],
)
def test_intervals_are_parsed(text: str, gap: timedelta) -> None:
    """Units from days to seconds, combined in that order."""
    assert parse_every(text) == gap


@pytest.mark.parametrize("text", ["", "15", "m", "15x", "1m1h", "400d"])
def test_a_bad_interval_names_every(text: str) -> None:
    """Not an interval, or longer than a year: a 422 on `every`."""
    with pytest.raises(InvalidInput) as refused:
        parse_every(text)
    assert refused.value.loc == ("body", "every")


def test_a_cron_that_runs_too_close_together_is_refused() -> None:
    """`0,1 3 * * *` runs a minute apart once a day: fine at 60 s, refused at 120 s."""
    assert timetable("0,1 3 * * *", None, "UTC", 60).cron == "0,1 3 * * *"
    with pytest.raises(InvalidInput) as refused:
        timetable("0,1 3 * * *", None, "UTC", 120)
    assert refused.value.loc == ("body", "cron")
    assert "1 min apart" in refused.value.message


def test_a_daily_cron_across_a_dst_change_is_a_day_apart() -> None:
    """In a zone with summer time, 02:00 daily never counts as zero minutes apart."""
    assert timetable("0 2 * * *", None, "Europe/Berlin", 3600).timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("cron", "every", "zone", "field"),
    [
        ("61 * * * *", None, "UTC", "cron"),
        ("0 2 * * * *", None, "UTC", "cron"),
        ("0 0 30 2 *", None, "UTC", "cron"),
        (None, None, "UTC", "cron"),
        ("0 2 * * *", "1h", "UTC", "cron"),
        (None, "30s", "UTC", "every"),
        ("0 2 * * *", None, "Mars/Olympus", "timezone"),
    ],
)
def test_each_bad_timetable_names_its_field(
    cron: str | None, every: str | None, zone: str, field: str
) -> None:
    """Bad syntax, a date that never comes, neither or both, too often, an unknown zone."""
    with pytest.raises(InvalidInput) as refused:
        timetable(cron, every, zone, 60)
    assert refused.value.loc == ("body", field)


def test_backfill_runs_are_counted_with_both_ends_included() -> None:
    """Intervals fall on whole multiples since the epoch; a cron's runs in its own zone."""
    start = datetime(2026, 1, 5, tzinfo=UTC)
    half_hour = start + timedelta(minutes=30)
    assert runs_between(Timetable(every="15m"), start, half_hour, 100) == 3
    assert runs_between(Timetable(every="15m"), start + timedelta(minutes=1), half_hour, 100) == 2
    assert runs_between(Timetable(cron="*/15 * * * *"), start, half_hour, 100) == 3
    three_days = start + timedelta(days=3)
    berlin = Timetable(cron="0 2 * * *", timezone="Europe/Berlin")
    assert runs_between(berlin, start, three_days, 100) == 3
    assert runs_between(Timetable(every="1m"), start, three_days, 100) == 101
