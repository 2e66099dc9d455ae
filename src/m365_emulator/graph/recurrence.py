"""Recurrence rules as Outlook keeps them: patternedRecurrence, validated and expanded.

A rule is its ``pattern`` (how often: daily, weekly, absolute/relative monthly, absolute/relative
yearly) and its ``range`` (how long: endDate, noEnd, numbered). ``parse`` checks a client's
rule the way Outlook does and returns it in the shape Graph answers with (every property present,
``recurrenceTimeZone`` filled in). ``local_dates`` lists the dates a rule falls on;
``occurrence_starts`` turns them into instants at the series' wall-clock time in its zone, so a
10:00 Europe/Berlin meeting stays at 10:00 local time on both sides of a DST change.

Where Outlook's semantics differ from RFC 5545 they win: the interval is counted from the period
(day, week from ``firstDayOfWeek``, month, year) of the first occurrence on or after
``startDate``; ``numbered`` counts occurrences; a ``dayOfMonth`` the month does not have falls on
its last day.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from m365_emulator.errors import GraphError
from m365_emulator.graph import timezones

PATTERN_TYPES = (
    "daily",
    "weekly",
    "absoluteMonthly",
    "relativeMonthly",
    "absoluteYearly",
    "relativeYearly",
)
RANGE_TYPES = ("endDate", "noEnd", "numbered")
DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
INDEXES = ("first", "second", "third", "fourth", "last")
# Exchange refuses a numbered range above 999 occurrences (EWS NumberOfOccurrences: "an integer
# in the range of 1 to 999").
MAX_OCCURRENCES = 999
# The emulator's own guard: one expansion never walks more periods than this (about 270 years
# of days), so a rule that matches nothing cannot loop forever.
MAX_PERIODS = 100_000
# Graph writes "no date" in a range as the year 1.
NO_DATE = "0001-01-01"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _invalid(message: str) -> GraphError:
    return GraphError(400, "ErrorInvalidRequest", message)


def _enum(value: Any, allowed: tuple[str, ...], where: str) -> str:
    """Graph reads enum members case-insensitively and answers in its own casing."""
    if isinstance(value, str):
        for member in allowed:
            if member.lower() == value.lower():
                return member
    raise GraphError(
        400,
        "RequestBodyRead",
        f"Cannot convert the literal '{value}' to the expected type '{where}'.",
    )


def _int(value: Any, where: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphError(
            400, "RequestBodyRead", f"Invalid value for property '{where}': expected an integer."
        )
    return value


def _date(value: Any) -> date | None:
    if value is None or value == NO_DATE:
        return None
    if not isinstance(value, str) or not _DATE.match(value):
        raise _not_a_date(value)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _not_a_date(value) from None


def _not_a_date(value: Any) -> GraphError:
    return GraphError(
        400,
        "RequestBodyRead",
        f"Cannot convert the literal '{value}' to the expected type 'Edm.Date'.",
    )


def parse(value: Any, zone_name: str) -> dict[str, Any]:
    """A client's patternedRecurrence, checked, in the shape Graph returns it.

    A range without ``recurrenceTimeZone`` takes ``zone_name`` (the event's start zone), as
    Outlook does.
    """
    if not isinstance(value, dict):
        raise _invalid("The recurrence must be an object with a pattern and a range.")
    raw_pattern, raw_range = value.get("pattern"), value.get("range")
    if not isinstance(raw_pattern, dict) or not isinstance(raw_range, dict):
        raise _invalid("A recurrence must have both a pattern and a range.")
    pattern = _parse_pattern(raw_pattern)
    rule_range = _parse_range(raw_range, zone_name)
    return {"pattern": pattern, "range": rule_range}


def _parse_pattern(raw: dict[str, Any]) -> dict[str, Any]:
    if raw.get("type") is None:
        raise _invalid("The recurrence pattern type must be specified.")
    kind = _enum(raw["type"], PATTERN_TYPES, "microsoft.graph.recurrencePatternType")
    interval = _int(raw.get("interval"), "interval")
    if interval < 1:
        raise _invalid("The recurrence pattern interval must be a positive integer.")
    days_raw = raw.get("daysOfWeek") or []
    if not isinstance(days_raw, list):
        raise GraphError(
            400,
            "RequestBodyRead",
            "Invalid value for property 'daysOfWeek': expected an array.",
        )
    days = [_enum(d, DAYS, "microsoft.graph.dayOfWeek") for d in days_raw]
    days = sorted(set(days), key=DAYS.index)
    first_day = _enum(raw.get("firstDayOfWeek") or "sunday", DAYS, "microsoft.graph.dayOfWeek")
    index = _enum(raw.get("index") or "first", INDEXES, "microsoft.graph.weekIndex")
    month = _int(raw.get("month"), "month")
    day_of_month = _int(raw.get("dayOfMonth"), "dayOfMonth")
    if not 0 <= month <= 12:
        raise _invalid("The recurrence pattern month must be between 1 and 12.")
    if not 0 <= day_of_month <= 31:
        raise _invalid("The recurrence pattern dayOfMonth must be between 1 and 31.")
    if kind in ("weekly", "relativeMonthly", "relativeYearly") and not days:
        raise _invalid(f"The recurrence pattern of type '{kind}' requires daysOfWeek.")
    if kind in ("absoluteMonthly", "absoluteYearly") and day_of_month == 0:
        raise _invalid(f"The recurrence pattern of type '{kind}' requires dayOfMonth.")
    if kind in ("absoluteYearly", "relativeYearly") and month == 0:
        raise _invalid(f"The recurrence pattern of type '{kind}' requires month.")
    if kind == "absoluteYearly" and day_of_month > _days_in(2000, month):
        raise _invalid("The recurrence pattern dayOfMonth is not a day of that month.")
    return {
        "type": kind,
        "interval": interval,
        "month": month,
        "dayOfMonth": day_of_month,
        "daysOfWeek": days,
        "firstDayOfWeek": first_day,
        "index": index,
    }


def _parse_range(raw: dict[str, Any], zone_name: str) -> dict[str, Any]:
    if raw.get("type") is None:
        raise _invalid("The recurrence range type must be specified.")
    kind = _enum(raw["type"], RANGE_TYPES, "microsoft.graph.recurrenceRangeType")
    start_date = _date(raw.get("startDate"))
    if start_date is None:
        raise _invalid("The recurrence range must have a startDate.")
    end_date = _date(raw.get("endDate"))
    count = _int(raw.get("numberOfOccurrences"), "numberOfOccurrences")
    zone = raw.get("recurrenceTimeZone") or zone_name
    if not isinstance(zone, str) or not timezones.is_known(zone):
        raise GraphError(
            400,
            "TimeZoneNotSupportedException",
            "A valid TimeZone value must be specified. The following TimeZone value is not "
            f"supported: '{zone}'.",
        )
    if kind == "endDate":
        if end_date is None:
            raise _invalid("The recurrence range of type 'endDate' requires an endDate.")
        if end_date < start_date:
            raise _invalid("The recurrence range endDate must not be before its startDate.")
        count = 0
    elif kind == "numbered":
        if count < 1:
            raise _invalid("The recurrence range numberOfOccurrences must be a positive integer.")
        if count > MAX_OCCURRENCES:
            raise _invalid(
                f"The recurrence range numberOfOccurrences must not exceed {MAX_OCCURRENCES}."
            )
        end_date = None
    else:
        end_date, count = None, 0
    return {
        "type": kind,
        "startDate": start_date.isoformat(),
        "endDate": end_date.isoformat() if end_date else NO_DATE,
        "recurrenceTimeZone": zone,
        "numberOfOccurrences": count,
    }


# ----- expansion ------------------------------------------------------------------------------


def _days_in(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _weekday(day: date) -> int:
    """0 for Sunday ... 6 for Saturday (Graph's dayOfWeek order)."""
    return (day.weekday() + 1) % 7


def _month_dates(pattern: dict[str, Any], year: int, month: int) -> list[date]:
    """The date(s) a monthly or yearly pattern picks in one month."""
    last = _days_in(year, month)
    if pattern["type"] in ("absoluteMonthly", "absoluteYearly"):
        # A day the month lacks (the 31st in April) falls on its last day, as in Outlook.
        return [date(year, month, min(pattern["dayOfMonth"], last))]
    wanted = {DAYS.index(d) for d in pattern["daysOfWeek"]}
    matching = [
        date(year, month, d) for d in range(1, last + 1) if _weekday(date(year, month, d)) in wanted
    ]
    position = INDEXES.index(pattern["index"])
    if pattern["index"] == "last":
        return [matching[-1]]
    return [matching[position]] if position < len(matching) else []


def _period_dates(pattern: dict[str, Any], origin: date, period: int) -> list[date]:
    """The pattern's dates in period number ``period`` counted from the one holding ``origin``."""
    kind = pattern["type"]
    if kind == "daily":
        return [origin + timedelta(days=period)]
    if kind == "weekly":
        first = DAYS.index(pattern["firstDayOfWeek"])
        week_start = (
            origin - timedelta(days=(_weekday(origin) - first) % 7) + timedelta(weeks=period)
        )
        wanted = {DAYS.index(d) for d in pattern["daysOfWeek"]}
        return [
            week_start + timedelta(days=i)
            for i in range(7)
            if _weekday(week_start + timedelta(days=i)) in wanted
        ]
    if kind in ("absoluteMonthly", "relativeMonthly"):
        months = origin.year * 12 + origin.month - 1 + period
        return _month_dates(pattern, months // 12, months % 12 + 1)
    return _month_dates(pattern, origin.year + period, pattern["month"])


def local_dates(rule: dict[str, Any]) -> Iterator[date]:
    """Every date the rule falls on, in order (endless for a ``noEnd`` range)."""
    pattern, rule_range = rule["pattern"], rule["range"]
    start = date.fromisoformat(rule_range["startDate"])
    end = date.fromisoformat(rule_range["endDate"]) if rule_range["type"] == "endDate" else None
    remaining = rule_range["numberOfOccurrences"] if rule_range["type"] == "numbered" else None
    # The first period holding a date on or after startDate anchors the interval.
    anchor = 0
    while anchor < MAX_PERIODS and not any(
        d >= start for d in _period_dates(pattern, start, anchor)
    ):
        anchor += 1
    period = anchor
    while period < MAX_PERIODS:
        for day in _period_dates(pattern, start, period):
            if day < start:
                continue
            if end is not None and day > end:
                return
            yield day
            if remaining is not None:
                remaining -= 1
                if remaining <= 0:
                    return
        period += pattern["interval"]


def occurrence_starts(
    rule: dict[str, Any],
    wall_time: time,
    zone_name: str,
    *,
    before: datetime | None = None,
    limit: int | None = None,
) -> Iterator[datetime]:
    """Start instants (aware, UTC) at ``wall_time`` in ``zone_name``, in order.

    Stops at the first start at or after ``before`` or after ``limit`` starts.
    """
    for found, day in enumerate(local_dates(rule)):
        if limit is not None and found >= limit:
            return
        instant = timezones.to_utc(datetime.combine(day, wall_time), zone_name)
        if before is not None and instant >= before:
            return
        yield instant
