"""Free/busy: ``POST /me/calendar/getSchedule`` and ``/users/{id}/calendar/getSchedule``.

Shapes and limits from Microsoft's pages (api-reference/v1.0/api/calendar-getschedule.md,
resources/scheduleinformation.md, scheduleitem.md, freebusyerror.md, workinghours.md):

- the body names ``schedules`` (SMTP addresses), ``startTime``/``endTime`` (dateTimeTimeZone)
  and ``availabilityViewInterval`` (minutes: default 30, minimum 5, maximum 1440);
- at most 20 schedules per request, and a window of at most 62 days (Exchange's availability
  service limit; the answer's wording is the emulator's own);
- each schedule answers ``scheduleId``, ``availabilityView`` (one digit per interval: 0 free,
  1 tentative, 2 busy, 3 oof, 4 workingElsewhere), ``scheduleItems`` and ``workingHours``, or
  an ``error`` (freeBusyError: ``message``, ``responseCode``) for that schedule alone.

Free/busy comes from every event in the mailbox: single events, occurrences and exceptions of
series (expanded as calendarView expands them), the attendee copies of meetings (an unanswered
or tentatively accepted invitation counts as tentative, as Outlook shows it). Cancelled and
declined events, and events shown as free, are not busy time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from m365_emulator.errors import GraphError
from m365_emulator.graph import serialize, series
from m365_emulator.graph.payload import parse_date_time_zone

if TYPE_CHECKING:
    from m365_emulator.directory import User
    from m365_emulator.graph.model import Event
    from m365_emulator.graph.store import GraphStore

MAX_SCHEDULES = 20
MAX_WINDOW = timedelta(days=62)
DEFAULT_INTERVAL, MIN_INTERVAL, MAX_INTERVAL = 30, 5, 1440

# availabilityView digits, and which status wins when several overlap one interval.
DIGITS = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}
_RANK = {"free": 0, "tentative": 1, "workingElsewhere": 2, "busy": 3, "oof": 4}
_BUSY_STATES = frozenset({"tentative", "busy", "oof", "workingElsewhere"})

WORKING_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]

UNKNOWN_ADDRESS_CODE = "5009"  # what Graph answers for an address it cannot resolve
NO_ACCESS_CODE = "ErrorNoFreeBusyAccess"  # Exchange's NoFreeBusyAccessException


def status_of(event: Event) -> str:
    """How ``event`` shows in its owner's free/busy ("free" when it does not count)."""
    if event.is_cancelled or event.response == "declined":
        return "free"
    shown = str(event.props.get("showAs") or "busy")
    if shown not in _BUSY_STATES:
        return "free"
    if not event.is_organizer and event.response in ("notResponded", "tentativelyAccepted"):
        return "tentative" if shown == "busy" else shown
    return shown


def busy_events(
    store: GraphStore,
    user: User,
    start: datetime,
    end: datetime,
    *,
    ignore_ical_uid: str | None = None,
) -> list[tuple[Event, str]]:
    """The events (instances, occurrences, exceptions) that make ``user`` busy in the window."""
    with store.lock:
        shown = series.calendar_view(store.events(user), start, end)
    found: list[tuple[Event, str]] = []
    for event in shown:
        if ignore_ical_uid is not None and event.ical_uid == ignore_ical_uid:
            continue
        if not (event.start < end and event.end > start):
            continue
        status = status_of(event)
        if status != "free":
            found.append((event, status))
    return sorted(found, key=lambda pair: pair[0].start)


def parse_request(body: dict[str, Any]) -> tuple[list[str], datetime, datetime, int]:
    """The request's schedules, window and interval; 400 for anything Graph refuses."""
    lowered = {key.lower(): value for key, value in body.items()}
    schedules = lowered.get("schedules")
    if (
        not isinstance(schedules, list)
        or not schedules
        or not all(isinstance(s, str) and s.strip() for s in schedules)
    ):
        raise GraphError(
            400, "ErrorInvalidRequest", "The 'schedules' parameter must list SMTP addresses."
        )
    if len(schedules) > MAX_SCHEDULES:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            f"At most {MAX_SCHEDULES} schedules can be requested at once.",
        )
    if "starttime" not in lowered or "endtime" not in lowered:
        raise GraphError(
            400, "ErrorInvalidRequest", "The 'startTime' and 'endTime' parameters are required."
        )
    start, _ = parse_date_time_zone(lowered["starttime"], "startTime")
    end, _ = parse_date_time_zone(lowered["endtime"], "endTime")
    if end <= start:
        raise GraphError(
            400, "ErrorInvalidTimeInterval", "The end time must be later than the start time."
        )
    if end - start > MAX_WINDOW:
        raise GraphError(
            400,
            "ErrorInvalidTimeInterval",
            f"The time window can span at most {MAX_WINDOW.days} days.",
        )
    interval = lowered.get("availabilityviewinterval")
    if interval is None:
        interval = DEFAULT_INTERVAL
    if (
        not isinstance(interval, int)
        or isinstance(interval, bool)
        or not MIN_INTERVAL <= interval <= MAX_INTERVAL
    ):
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            f"availabilityViewInterval must be between {MIN_INTERVAL} and {MAX_INTERVAL} minutes.",
        )
    return [s.strip() for s in schedules], start, end, interval


def schedule_information(
    store: GraphStore,
    asker: User | None,
    tenant_id: str,
    address: str,
    start: datetime,
    end: datetime,
    interval: int,
    zone_name: str | None,
) -> dict[str, Any]:
    """One scheduleInformation: the free/busy of ``address``, or its error alone."""
    user = store.backend.user(address)
    if user is None or user.tenant_id != tenant_id or not user.has_mailbox:
        return {
            "scheduleId": address,
            "error": {
                "message": f"Unable to resolve e-mail address {address} to an Active Directory "
                "object.",
                "responseCode": UNKNOWN_ADDRESS_CODE,
            },
        }
    own = asker is not None and asker.id == user.id
    if not user.shares_free_busy and not own:
        return {
            "scheduleId": address,
            "error": {
                "message": "The caller does not have access to free/busy data.",
                "responseCode": NO_ACCESS_CODE,
            },
        }
    busy = busy_events(store, user, start, end)
    return {
        "scheduleId": address,
        "availabilityView": availability_view(busy, start, end, interval),
        "scheduleItems": [_item(event, status, zone_name) for event, status in busy],
        "workingHours": {
            "daysOfWeek": WORKING_DAYS,
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": zone_name or "UTC"},
        },
    }


def availability_view(
    busy: list[tuple[Event, str]], start: datetime, end: datetime, interval: int
) -> str:
    step = timedelta(minutes=interval)
    digits: list[str] = []
    slot = start
    while slot < end:
        slot_end = min(slot + step, end)
        worst = "free"
        for event, status in busy:
            if event.start < slot_end and event.end > slot and _RANK[status] > _RANK[worst]:
                worst = status
        digits.append(DIGITS[worst])
        slot = slot_end
    return "".join(digits)


def _item(event: Event, status: str, zone_name: str | None) -> dict[str, Any]:
    # A private event shows only its time and status to others (scheduleItem.isPrivate).
    private = str(event.props.get("sensitivity") or "normal") in ("private", "confidential")
    item: dict[str, Any] = {
        "isPrivate": private,
        "status": status,
        "start": serialize.date_time_zone(event.start, zone_name),
        "end": serialize.date_time_zone(event.end, zone_name),
    }
    if not private:
        item["subject"] = event.subject
        item["location"] = str((event.props.get("location") or {}).get("displayName") or "")
    return item
