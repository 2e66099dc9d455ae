"""How an event repeats: the rule, its limits, its sessions and the rule in words.

Pure: no database. A series stores the rule, never the copies; its sessions are the rule
expanded with python-dateutil's ``rrule`` on the local wall clock of the event's IANA zone and
then turned into instants, so a 10:00 Europe/Berlin session stays at 10:00 Berlin on both sides
of a daylight saving change.

The rule is the subset Outlook keeps as a ``patternedRecurrence`` (see
``convene.outlook.microsoft.recurrence``), with Outlook's meaning where RFC 5545 differs: weeks
start on Monday for the interval, and a day of the month a month does not have (the 31st in
April) falls on the month's last day instead of being skipped.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dateutil import rrule

from convene.events.timezones import zone

# Stated on the form and checked: a longer course is several series.
MAX_SESSIONS = 100
MAX_INTERVAL = 99

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}


class RecurrenceError(ValueError):
    """A rule that cannot be kept; ``field`` names the form field to blame."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Frequency(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class MonthlyBy(enum.StrEnum):
    # the same day of the month as the first session (e.g. the 14th)
    DAY_OF_MONTH = "day_of_month"
    # the same weekday of the month as the first session (e.g. the second Tuesday)
    WEEKDAY = "weekday"


@dataclass(frozen=True)
class Rule:
    """How often (``frequency`` every ``interval`` days/weeks/months) and how long (``until``
    a date, inclusive, or ``count`` sessions: exactly one of them). ``weekdays`` (0 = Monday)
    are for weekly rules; the day of the month or weekday of the month of monthly rules is the
    first session's."""

    frequency: Frequency
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    monthly_by: MonthlyBy = MonthlyBy.DAY_OF_MONTH
    until: date | None = None
    count: int | None = None


def week_of_month(day: date) -> int:
    """1..4 for the first to fourth such weekday of its month; -1 for the fifth (the last)."""
    nth = (day.day - 1) // 7 + 1
    return -1 if nth == 5 else nth


def check(rule: Rule, first_start_local: datetime) -> None:
    """Refuse a rule that cannot be kept, with a message for the organizer."""
    if not 1 <= rule.interval <= MAX_INTERVAL:
        raise RecurrenceError(f"Repeat every 1 to {MAX_INTERVAL} periods.", field="interval")
    if (rule.until is None) == (rule.count is None):
        raise RecurrenceError(
            "End the series on a date or after a number of sessions.", field="ends"
        )
    if rule.count is not None and not 1 <= rule.count <= MAX_SESSIONS:
        raise RecurrenceError(f"A series has 1 to {MAX_SESSIONS} sessions.", field="count")
    if rule.until is not None and rule.until < first_start_local.date():
        raise RecurrenceError("The series must end on or after its first session.", field="until")
    if rule.frequency == Frequency.WEEKLY:
        if not rule.weekdays or any(not 0 <= day <= 6 for day in rule.weekdays):
            raise RecurrenceError("Choose the weekdays the series meets on.", field="weekdays")
        if first_start_local.weekday() not in rule.weekdays:
            raise RecurrenceError(
                f"The first session is on a {WEEKDAY_NAMES[first_start_local.weekday()]}: "
                "include that day, or start the series on one of the chosen days.",
                field="weekdays",
            )
    elif rule.weekdays:
        raise RecurrenceError("Weekdays are for weekly series.", field="weekdays")
    if rule.until is not None and _count_local_starts(rule, first_start_local) > MAX_SESSIONS:
        raise RecurrenceError(
            f"This rule makes more than {MAX_SESSIONS} sessions; end the series sooner.",
            field="until",
        )


def _rrule(rule: Rule, first_start_local: datetime) -> rrule.rrule:
    naive = first_start_local.replace(tzinfo=None)
    options: dict[str, object] = {
        "dtstart": naive,
        "interval": rule.interval,
        "wkst": rrule.MO,
    }
    if rule.count is not None:
        options["count"] = rule.count
    else:
        assert rule.until is not None
        options["until"] = datetime.combine(rule.until, time.max)
        # the limit is checked by counting one past it
        options["count"] = None
    if rule.frequency == Frequency.DAILY:
        freq = rrule.DAILY
    elif rule.frequency == Frequency.WEEKLY:
        freq = rrule.WEEKLY
        options["byweekday"] = sorted(rule.weekdays)
    else:
        freq = rrule.MONTHLY
        if rule.monthly_by == MonthlyBy.WEEKDAY:
            weekday = rrule.weekday(naive.weekday())
            options["byweekday"] = weekday(week_of_month(naive.date()))
        elif naive.day > 28:
            # Outlook's meaning: the 31st in a 30-day month is its last day, not skipped.
            options["bymonthday"] = (naive.day, -1)
            options["bysetpos"] = 1
        else:
            options["bymonthday"] = naive.day
    if options.get("count") is None:
        options.pop("count", None)
    return rrule.rrule(freq, **options)  # type: ignore[arg-type]


def _count_local_starts(rule: Rule, first_start_local: datetime) -> int:
    count = 0
    for _ in _rrule(rule, first_start_local):
        count += 1
        if count > MAX_SESSIONS:
            break
    return count


def local_starts(rule: Rule, first_start_local: datetime) -> list[datetime]:
    """The sessions' wall-clock starts (naive, in the event's zone), at most ``MAX_SESSIONS``."""
    starts: list[datetime] = []
    for start in _rrule(rule, first_start_local):
        starts.append(start)
        if len(starts) == MAX_SESSIONS:
            break
    return starts


def instant(local: datetime, zone_name: str) -> datetime:
    """A session's wall-clock start as an instant in UTC. A time the clocks skip that day
    (02:30 on a spring-forward night) is the instant an hour later on the wall clock, as
    Outlook shows it; a repeated one is its first occurrence."""
    return local.replace(tzinfo=zone(zone_name), fold=0).astimezone(UTC)


def session_times(
    rule: Rule, first_start: datetime, duration: timedelta, zone_name: str
) -> list[tuple[date, datetime, datetime]]:
    """(local date, start, end) of every session; instants in UTC."""
    first_local = first_start.astimezone(zone(zone_name))
    result = []
    for local in local_starts(rule, first_local):
        start = instant(local, zone_name)
        result.append((local.date(), start, start + duration))
    return result


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def describe(rule: Rule, first_start_local: datetime, sessions: int) -> str:
    """The rule in words, e.g. "Every 2 weeks on Monday and Thursday, 12 sessions until 4 June
    2027"."""
    unit = {Frequency.DAILY: "day", Frequency.WEEKLY: "week", Frequency.MONTHLY: "month"}
    every = (
        f"Every {unit[rule.frequency]}"
        if rule.interval == 1
        else f"Every {rule.interval} {unit[rule.frequency]}s"
    )
    if rule.frequency == Frequency.WEEKLY:
        every += " on " + _and([WEEKDAY_NAMES[day] for day in sorted(rule.weekdays)])
    elif rule.frequency == Frequency.MONTHLY:
        day = first_start_local.date()
        if rule.monthly_by == MonthlyBy.WEEKDAY:
            every += f" on the {ORDINALS[week_of_month(day)]} {WEEKDAY_NAMES[day.weekday()]}"
        else:
            every += f" on day {day.day}" + (" (or the month's last day)" if day.day > 28 else "")
    plural = "session" if sessions == 1 else "sessions"
    ending = f", {sessions} {plural}"
    if rule.until is not None:
        ending += f" until {rule.until.day} {rule.until:%B %Y}"
    return every + f" at {first_start_local:%H:%M}" + ending
