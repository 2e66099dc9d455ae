"""A Convene series rule as Graph's ``patternedRecurrence``, and occurrences read back.

Pure. Convene's rule (``convene.events.recurrence``) is the subset of Outlook's that Convene
offers, with Outlook's meaning (weeks from Monday, the 31st on a short month's last day), so
Outlook expands it to the same dates Convene does. The range starts on the first session's
local date and the zone is the one the event's start goes out in.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from convene.events.recurrence import Frequency, MonthlyBy, Rule, week_of_month

JSON = dict[str, Any]

GRAPH_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
GRAPH_INDEX = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}


def patterned_recurrence(rule: Rule, first_local_start: datetime, zone_id: str) -> JSON:
    """``zone_id``: the zone the event's ``start`` goes out in (a Windows id, or "UTC")."""
    first = first_local_start.date()
    pattern: JSON = {"type": "daily", "interval": rule.interval}
    if rule.frequency == Frequency.WEEKLY:
        pattern = {
            "type": "weekly",
            "interval": rule.interval,
            "daysOfWeek": [GRAPH_DAYS[day] for day in sorted(rule.weekdays)],
            "firstDayOfWeek": "monday",
        }
    elif rule.frequency == Frequency.MONTHLY and rule.monthly_by == MonthlyBy.WEEKDAY:
        pattern = {
            "type": "relativeMonthly",
            "interval": rule.interval,
            "daysOfWeek": [GRAPH_DAYS[first.weekday()]],
            "index": GRAPH_INDEX[week_of_month(first)],
        }
    elif rule.frequency == Frequency.MONTHLY:
        pattern = {"type": "absoluteMonthly", "interval": rule.interval, "dayOfMonth": first.day}
    series_range: JSON = {"startDate": first.isoformat(), "recurrenceTimeZone": zone_id}
    if rule.count is not None:
        series_range |= {"type": "numbered", "numberOfOccurrences": rule.count}
    else:
        assert rule.until is not None
        series_range |= {"type": "endDate", "endDate": rule.until.isoformat()}
    return {"pattern": pattern, "range": series_range}


def occurrence_dates(instances: list[JSON], zone_name: str) -> dict[str, str]:
    """Occurrence and exception ids by the local date (ISO) of their original start, from
    ``GET /events/{master}/instances``."""
    found = {}
    for instance in instances:
        on = original_date(instance, zone_name)
        if on is not None and instance.get("id"):
            found[on.isoformat()] = str(instance["id"])
    return found


def original_date(occurrence: JSON, zone_name: str) -> date | None:
    """The local date an occurrence or exception has under the series' rule (its
    ``originalStart``, which stays when the exception is moved); None for any other event."""
    original = str(occurrence.get("originalStart") or "")
    if not original:
        return None
    return _instant(original).astimezone(ZoneInfo(zone_name)).date()


def shown_date(occurrence: JSON, zone_name: str) -> date | None:
    """The local date under the series' rule of an occurrence or exception as a calendarView
    (delta) lists it: its ``originalStart``, or for a plain occurrence listed with only ``id``,
    ``seriesMasterId``, ``type``, ``start`` and ``end`` (as delta may), its start in UTC, which
    is its original start since it was never changed."""
    on = original_date(occurrence, zone_name)
    if on is not None or occurrence.get("type") != "occurrence":
        return on
    start = occurrence.get("start")
    if not isinstance(start, dict) or str(start.get("timeZone") or "UTC") not in ("UTC", "Etc/UTC"):
        return None
    try:
        moment = _instant(str(start.get("dateTime") or ""))
    except ValueError:
        return None
    return moment.astimezone(ZoneInfo(zone_name)).date()


def _instant(text: str) -> datetime:
    """Graph's DateTimeOffset: ``2026-10-12T08:00:00Z``, with up to seven fractional digits."""
    whole, _, rest = text.rstrip("Z").partition(".")
    offset = rest.lstrip("0123456789")
    moment = datetime.fromisoformat(whole + offset)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo("UTC"))
