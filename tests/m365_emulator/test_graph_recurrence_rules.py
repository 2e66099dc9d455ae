"""Recurrence rules expand as Outlook expands them (pure functions, no server).

Facts from Microsoft's "Schedule repeating appointments as recurring events in Outlook"
(microsoftgraph/microsoft-graph-docs-contrib, concepts/outlook-schedule-recurring-events.md at
commit 15f91f3675c0efce9de541b31911466cfbd2de42) and the recurrencePattern page
(api-reference/v1.0/resources/recurrencepattern.md at commit
09455a65abde17103c17fc70605c4c8553f01978).
"""

from __future__ import annotations

from datetime import date, datetime, time
from itertools import islice
from typing import Any

import pytest

from m365_emulator.errors import GraphError
from m365_emulator.graph import recurrence


def rule(pattern: dict[str, Any], **range_: Any) -> dict[str, Any]:
    return recurrence.parse({"pattern": pattern, "range": range_}, "UTC")


def dates(parsed: dict[str, Any], count: int = 50) -> list[date]:
    return list(islice(recurrence.local_dates(parsed), count))


def test_daily_every_three_days_numbered() -> None:
    parsed = rule(
        {"type": "daily", "interval": 3},
        type="numbered",
        startDate="2030-03-01",
        numberOfOccurrences=4,
    )
    assert dates(parsed) == [
        date(2030, 3, 1),
        date(2030, 3, 4),
        date(2030, 3, 7),
        date(2030, 3, 10),
    ]


def test_weekly_interval_counts_from_the_week_of_the_first_occurrence() -> None:
    # Every other Monday and Tuesday, from a Wednesday: that week has none on or after it, so
    # the series begins the week after and skips one week in two from there.
    parsed = rule(
        {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "tuesday"]},
        type="noEnd",
        startDate="2030-03-06",
    )
    assert dates(parsed, 4) == [
        date(2030, 3, 11),
        date(2030, 3, 12),
        date(2030, 3, 25),
        date(2030, 3, 26),
    ]


@pytest.mark.parametrize(
    ("first_day", "expected"),
    [
        ("sunday", [date(2030, 3, 4), date(2030, 3, 17), date(2030, 3, 18), date(2030, 3, 31)]),
        ("monday", [date(2030, 3, 4), date(2030, 3, 10), date(2030, 3, 18), date(2030, 3, 24)]),
    ],
)
def test_weekly_weeks_begin_on_first_day_of_week(first_day: str, expected: list[date]) -> None:
    parsed = rule(
        {
            "type": "weekly",
            "interval": 2,
            "daysOfWeek": ["sunday", "monday"],
            "firstDayOfWeek": first_day,
        },
        type="noEnd",
        startDate="2030-03-04",
    )
    assert dates(parsed, 4) == expected


def test_absolute_monthly_on_a_day_the_month_lacks_falls_on_its_last_day() -> None:
    parsed = rule(
        {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31},
        type="numbered",
        startDate="2030-01-01",
        numberOfOccurrences=4,
    )
    assert dates(parsed) == [
        date(2030, 1, 31),
        date(2030, 2, 28),
        date(2030, 3, 31),
        date(2030, 4, 30),
    ]


def test_relative_monthly_docs_example_starts_in_the_next_matching_month() -> None:
    """First Thursday of every other month from 2017-08-29: the docs say the first occurrence
    is in September (August's first Thursday is before the start)."""
    parsed = rule(
        {"type": "relativeMonthly", "interval": 2, "daysOfWeek": ["thursday"], "index": "first"},
        type="noEnd",
        startDate="2017-08-29",
    )
    assert dates(parsed, 3) == [date(2017, 9, 7), date(2017, 11, 2), date(2018, 1, 4)]


def test_relative_monthly_last_friday() -> None:
    parsed = rule(
        {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
        type="endDate",
        startDate="2030-03-01",
        endDate="2030-04-30",
    )
    assert dates(parsed) == [date(2030, 3, 29), date(2030, 4, 26)]


def test_relative_monthly_with_several_days_takes_the_first_that_fits() -> None:
    parsed = rule(
        {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["thursday", "friday"]},
        type="numbered",
        startDate="2030-03-01",
        numberOfOccurrences=2,
    )
    # March 2030 begins on a Friday; April's first Thursday-or-Friday is Thursday the 4th.
    assert dates(parsed) == [date(2030, 3, 1), date(2030, 4, 4)]


def test_absolute_yearly_docs_example_april_15() -> None:
    parsed = rule(
        {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 15, "month": 4},
        type="numbered",
        startDate="2030-01-01",
        numberOfOccurrences=3,
    )
    assert dates(parsed) == [date(2030, 4, 15), date(2031, 4, 15), date(2032, 4, 15)]


def test_relative_yearly_docs_example_last_wednesday_of_november() -> None:
    parsed = rule(
        {
            "type": "relativeYearly",
            "interval": 1,
            "daysOfWeek": ["wednesday"],
            "index": "last",
            "month": 11,
        },
        type="numbered",
        startDate="2030-01-01",
        numberOfOccurrences=2,
    )
    assert dates(parsed) == [date(2030, 11, 27), date(2031, 11, 26)]


def test_end_date_is_inclusive_and_the_last_occurrence_fits_the_pattern() -> None:
    """Docs example: every Monday from 2017-09-04 until 2017-12-31 ends on December 25."""
    parsed = rule(
        {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
        type="endDate",
        startDate="2017-09-04",
        endDate="2017-12-31",
    )
    found = dates(parsed, 100)
    assert (found[0], found[-1], len(found)) == (date(2017, 9, 4), date(2017, 12, 25), 17)


def test_end_date_on_an_occurrence_includes_it() -> None:
    parsed = rule(
        {"type": "daily", "interval": 1},
        type="endDate",
        startDate="2030-03-01",
        endDate="2030-03-03",
    )
    assert dates(parsed)[-1] == date(2030, 3, 3)


def test_rule_answers_in_graph_shape_with_defaults_filled_in() -> None:
    parsed = recurrence.parse(
        {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["Monday"]},
            "range": {"type": "endDate", "startDate": "2017-09-04", "endDate": "2017-12-31"},
        },
        "Pacific Standard Time",
    )
    assert parsed == {
        "pattern": {
            "type": "weekly",
            "interval": 1,
            "month": 0,
            "dayOfMonth": 0,
            "daysOfWeek": ["monday"],
            "firstDayOfWeek": "sunday",
            "index": "first",
        },
        "range": {
            "type": "endDate",
            "startDate": "2017-09-04",
            "endDate": "2017-12-31",
            "recurrenceTimeZone": "Pacific Standard Time",
            "numberOfOccurrences": 0,
        },
    }


@pytest.mark.parametrize(
    ("pattern", "range_", "code"),
    [
        (
            {"type": "weekly", "interval": 1},
            {"type": "noEnd", "startDate": "2030-03-01"},
            "ErrorInvalidRequest",
        ),
        (
            {"type": "absoluteMonthly", "interval": 1},
            {"type": "noEnd", "startDate": "2030-03-01"},
            "ErrorInvalidRequest",
        ),
        (
            {"type": "relativeYearly", "interval": 1, "daysOfWeek": ["monday"]},
            {"type": "noEnd", "startDate": "2030-03-01"},
            "ErrorInvalidRequest",
        ),
        (
            {"type": "daily", "interval": 0},
            {"type": "noEnd", "startDate": "2030-03-01"},
            "ErrorInvalidRequest",
        ),
        (
            {"type": "daily", "interval": 1},
            {"type": "endDate", "startDate": "2030-03-01"},
            "ErrorInvalidRequest",
        ),
        (
            {"type": "daily", "interval": 1},
            {"type": "endDate", "startDate": "2030-03-02", "endDate": "2030-03-01"},
            "ErrorInvalidRequest",
        ),
        (
            {"type": "daily", "interval": 1},
            {"type": "numbered", "startDate": "2030-03-01", "numberOfOccurrences": 1000},
            "ErrorInvalidRequest",
        ),
        (
            {"type": "daily", "interval": 1},
            {"type": "numbered", "startDate": "2030-03-01"},
            "ErrorInvalidRequest",
        ),
        ({"type": "daily", "interval": 1}, {"type": "noEnd"}, "ErrorInvalidRequest"),
        (
            {"type": "daily", "interval": 1},
            {"type": "noEnd", "startDate": "03/01/2030"},
            "RequestBodyRead",
        ),
        (
            {"type": "hourly", "interval": 1},
            {"type": "noEnd", "startDate": "2030-03-01"},
            "RequestBodyRead",
        ),
        (
            {"type": "daily", "interval": 1},
            {"type": "noEnd", "startDate": "2030-03-01", "recurrenceTimeZone": "Mars/Base"},
            "TimeZoneNotSupportedException",
        ),
    ],
)
def test_invalid_rules_are_refused(
    pattern: dict[str, Any], range_: dict[str, Any], code: str
) -> None:
    with pytest.raises(GraphError) as caught:
        recurrence.parse({"pattern": pattern, "range": range_}, "UTC")
    assert (caught.value.status, caught.value.code) == (400, code)


@pytest.mark.parametrize(
    ("zone", "start", "before", "after"),
    [
        # Europe/Berlin leaves CET (UTC+1) for CEST (UTC+2) on 2030-03-31.
        ("Europe/Berlin", date(2030, 3, 30), datetime(2030, 3, 30, 9), datetime(2030, 3, 31, 8)),
        # America/New_York leaves EST (UTC-5) for EDT (UTC-4) on 2030-03-10.
        ("America/New_York", date(2030, 3, 9), datetime(2030, 3, 9, 15), datetime(2030, 3, 10, 14)),
        # Australia/Sydney leaves AEDT (UTC+11) for AEST (UTC+10) on 2030-04-07.
        ("Australia/Sydney", date(2030, 4, 6), datetime(2030, 4, 5, 23), datetime(2030, 4, 7, 0)),
    ],
)
def test_occurrences_keep_their_wall_clock_time_across_dst(
    zone: str, start: date, before: datetime, after: datetime
) -> None:
    parsed = recurrence.parse(
        {
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "startDate": start.isoformat(), "numberOfOccurrences": 2},
        },
        zone,
    )
    starts = list(recurrence.occurrence_starts(parsed, time(10), zone))
    assert [s.replace(tzinfo=None) for s in starts] == [before, after]
