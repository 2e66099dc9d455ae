"""Recurring series in a mailbox: masters, their occurrences and exceptions, as Exchange keeps them.

A series master (``Event.type == "seriesMaster"``) is stored with its rule; its occurrences are
not stored: they are computed from the rule when read (``calendar_view``, ``instances``,
``find_occurrence``). An occurrence that is changed (PATCH, or a response to it alone) becomes an
exception: a stored event with the occurrence's id, ``type == "exception"``, the master's id and
its original start. An occurrence cancelled or deleted leaves the series: the master remembers its
original start.

Ids follow Outlook's shape: an occurrence id is an opaque base64 id (``AAMk...``) that names its
master and original start, and stays the id of the exception it may become. Each occurrence has
its own iCalUId: the series' iCalUId with the original date written into it, as Exchange does in
its global object ids. Every function here runs under the store's lock.
"""

from __future__ import annotations

import base64
import binascii
import copy
import struct
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from m365_emulator.errors import GraphError
from m365_emulator.graph import recurrence, timezones
from m365_emulator.graph.model import Event, new_change_key

if TYPE_CHECKING:
    from m365_emulator.graph.store import GraphStore, Mailbox

_ID_PREFIX = "AAMkA"
_MAGIC = b"OCC1"
# iCalUId: a 16-byte class id, then 4 bytes of instance date (zero for a whole series).
_UID_DATE = slice(32, 40)


# ----- ids -----------------------------------------------------------------------------------


def occurrence_id(master_id: str, original_start: datetime) -> str:
    seconds = int(original_start.timestamp())
    raw = _MAGIC + struct.pack(">q", seconds) + master_id.encode("ascii")
    return _ID_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")


def parse_occurrence_id(event_id: str) -> tuple[str, datetime] | None:
    """(master id, original start) for an occurrence id; None for any other id."""
    if not event_id.startswith(_ID_PREFIX):
        return None
    tail = event_id[len(_ID_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(tail + "=" * (-len(tail) % 4))
        if not raw.startswith(_MAGIC) or len(raw) <= 12:
            return None
        (seconds,) = struct.unpack(">q", raw[4:12])
        return raw[12:].decode("ascii"), datetime.fromtimestamp(seconds, UTC)
    except (binascii.Error, ValueError, OverflowError, OSError):
        return None


def occurrence_ical_uid(series_uid: str, local_day: datetime) -> str:
    stamp = f"{local_day.year:04X}{local_day.month:02X}{local_day.day:02X}"
    return series_uid[: _UID_DATE.start] + stamp + series_uid[_UID_DATE.stop :]


def series_ical_uid(uid: str) -> str:
    return uid[: _UID_DATE.start] + "00000000" + uid[_UID_DATE.stop :]


def occurrence_key(master: Event, original_start: datetime) -> str:
    """Graph's occurrenceId form, as listed in a master's cancelledOccurrences."""
    day = timezones.from_utc(original_start, master.start_zone).date()
    return f"OID.{master.id}.{day.isoformat()}"


# ----- reading -------------------------------------------------------------------------------


def occurrence(master: Event, original_start: datetime) -> Event:
    """The occurrence of ``master`` that starts at ``original_start`` (computed, not stored)."""
    local = timezones.from_utc(original_start, master.start_zone)
    return replace(
        master,
        id=occurrence_id(master.id, original_start),
        ical_uid=occurrence_ical_uid(master.ical_uid, local),
        start=original_start,
        end=original_start + (master.end - master.start),
        transaction_id=None,
        type="occurrence",
        recurrence=None,
        series_master_id=master.id,
        original_start=original_start,
        cancelled_starts=set(),
    )


def _starts(master: Event, before: datetime | None, limit: int | None = None) -> list[datetime]:
    assert master.recurrence is not None
    wall = timezones.from_utc(master.start, master.start_zone).time()
    return list(
        recurrence.occurrence_starts(
            master.recurrence, wall, master.start_zone, before=before, limit=limit
        )
    )


def occurrence_ids(master: Event) -> list[str]:
    """Ids of the series' occurrences (the first ``MAX_OCCURRENCES`` of an endless one)."""
    if master.type != "seriesMaster" or master.recurrence is None:
        return []
    return [
        occurrence_id(master.id, start)
        for start in _starts(master, None, recurrence.MAX_OCCURRENCES)
        if start not in master.cancelled_starts
    ]


def _exceptions_of(events: Iterable[Event]) -> dict[str, dict[datetime, Event]]:
    found: dict[str, dict[datetime, Event]] = {}
    for event in events:
        if event.type == "exception" and event.series_master_id and event.original_start:
            found.setdefault(event.series_master_id, {})[event.original_start] = event
    return found


def _occurrences_in(
    master: Event, start: datetime, end: datetime, excepted: dict[datetime, Event]
) -> list[Event]:
    duration = master.end - master.start
    return [
        occurrence(master, instant)
        for instant in _starts(master, end)
        if instant + duration > start
        and instant not in master.cancelled_starts
        and instant not in excepted
    ]


def _overlaps(event: Event, start: datetime, end: datetime) -> bool:
    return event.start < end and event.end > start


def calendar_view(events: list[Event], start: datetime, end: datetime) -> list[Event]:
    """What a calendarView shows: single instances, occurrences and exceptions, never masters."""
    exceptions = _exceptions_of(events)
    shown: list[Event] = []
    for event in events:
        if event.type == "seriesMaster":
            shown.extend(_occurrences_in(event, start, end, exceptions.get(event.id, {})))
        elif _overlaps(event, start, end):
            shown.append(event)
    return shown


def instances(events: list[Event], master: Event, start: datetime, end: datetime) -> list[Event]:
    """GET /events/{id}/instances: the master's occurrences and exceptions in the window."""
    if master.type != "seriesMaster":
        return []
    excepted = _exceptions_of(events).get(master.id, {})
    found = _occurrences_in(master, start, end, excepted)
    found.extend(e for e in excepted.values() if _overlaps(e, start, end))
    return sorted(found, key=lambda e: e.start)


def list_events(events: list[Event]) -> list[Event]:
    """GET /events: masters and single instances; occurrences and exceptions are not listed."""
    return [e for e in events if e.type in ("singleInstance", "seriesMaster")]


def find_occurrence(box: Mailbox, event_id: str) -> Event | None:
    """The occurrence an occurrence id names, if it is still part of its series."""
    parsed = parse_occurrence_id(event_id)
    if parsed is None:
        return None
    master_id, original_start = parsed
    master = box.events.get(master_id)
    if master is None or master.type != "seriesMaster":
        return None
    if original_start in master.cancelled_starts:
        return None
    if original_start not in _starts(master, original_start + timedelta(seconds=1)):
        return None
    return occurrence(master, original_start)


def cancelled_occurrences(master: Event) -> list[str]:
    return [occurrence_key(master, start) for start in sorted(master.cancelled_starts)]


# ----- changing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesState:
    """What a master's series looked like before an update."""

    rule: dict[str, Any] | None
    start: datetime
    end: datetime
    ids: tuple[str, ...]

    @classmethod
    def of(cls, event: Event) -> SeriesState:
        return cls(
            copy.deepcopy(event.recurrence), event.start, event.end, tuple(occurrence_ids(event))
        )

    def differs(self, event: Event) -> bool:
        """True when a series' rule or times changed (never for a single event)."""
        if self.rule is None and event.recurrence is None:
            return False
        return (self.rule, self.start, self.end) != (event.recurrence, event.start, event.end)


@dataclass(frozen=True)
class RuleChange:
    """What a create or update body does to an event's series: its new type, rule and times."""

    type: str
    rule: dict[str, Any] | None
    start: datetime
    end: datetime

    def apply(self, event: Event) -> None:
        event.type, event.recurrence = self.type, self.rule
        event.start, event.end = self.start, self.end


def read_rule(
    event: Event, body: dict[str, Any], start: datetime, end: datetime, start_zone: str
) -> RuleChange | None:
    """Check what a body does to the series (before anything changes); None: nothing.

    The series starts at its first occurrence (Outlook moves a master whose start does not fit
    its pattern); a new start without a new rule moves the rule's startDate with it.
    """
    if event.type in ("occurrence", "exception"):
        if body.get("recurrence") is not None:
            raise GraphError(
                400,
                "ErrorInvalidRequest",
                "The recurrence of an occurrence or exception can't be set; change the series "
                "master instead.",
            )
        return None
    if "recurrence" in body:
        if body["recurrence"] is None:
            return RuleChange("singleInstance", None, start, end)
        rule = recurrence.parse(body["recurrence"], start_zone)
    elif event.recurrence is not None and "start" in body:
        rule = copy.deepcopy(event.recurrence)
        local_day = timezones.from_utc(start, start_zone).date()
        rule["range"]["startDate"] = local_day.isoformat()
    else:
        return None
    wall = timezones.from_utc(start, start_zone).time()
    first = list(recurrence.occurrence_starts(rule, wall, start_zone, limit=1))
    if not first:
        raise GraphError(
            400, "ErrorInvalidRequest", "The recurrence pattern has no occurrence in its range."
        )
    return RuleChange("seriesMaster", rule, first[0], first[0] + (end - start))


def materialize(store: GraphStore, event: Event) -> Event:
    """Turn a computed occurrence into a stored exception (its id stays the same)."""
    if event.type != "occurrence":
        return event
    box = store.mailbox_by_id(event.owner_id)
    exception = replace(
        event,
        type="exception",
        props=copy.deepcopy(event.props),
        attendees=copy.deepcopy(event.attendees),
        extended=dict(event.extended),
        change_key=new_change_key(),
    )
    box.events[exception.id] = exception
    box.by_ical_uid[exception.ical_uid] = exception.id
    return exception


def counterpart(
    store: GraphStore, event: Event, box: Mailbox, *, make_exception: bool = True
) -> Event | None:
    """``event``'s copy in another mailbox; an occurrence's copy is made an exception there
    (unless ``make_exception`` is False: then it is returned as a computed occurrence)."""
    found_id = box.by_ical_uid.get(event.ical_uid)
    if found_id is not None and found_id in box.events:
        return box.events[found_id]
    if event.original_start is None:
        return None
    master_id = box.by_ical_uid.get(series_ical_uid(event.ical_uid))
    master = box.events.get(master_id) if master_id else None
    if master is None or master.type != "seriesMaster":
        return None
    if event.original_start in master.cancelled_starts:
        return None
    found = occurrence(master, event.original_start)
    return materialize(store, found) if make_exception else found


def follow(store: GraphStore, source: Event, target: Event) -> None:
    """An attendee's copy takes the organizer's series rule (dropping its exceptions if the
    series moved)."""
    if source.type != "seriesMaster" and target.type != "seriesMaster":
        return
    before = SeriesState.of(target) if target.type == "seriesMaster" else None
    target.type, target.recurrence = source.type, copy.deepcopy(source.recurrence)
    target.start, target.end = source.start, source.end
    if before is not None and before.differs(target):
        reset(store, target, before)


def reset(store: GraphStore, master: Event, before: SeriesState) -> None:
    """A series whose rule or time changed loses its exceptions and cancellations.

    Occurrences that no longer exist are journalled as removed, so calendarView delta reports
    them with ``@removed``.
    """
    drop_exceptions(store, master)
    master.cancelled_starts.clear()
    now = set(occurrence_ids(master))
    _journal_removed(store, master, [i for i in before.ids if i not in now])


def _journal_removed(store: GraphStore, master: Event, ids: list[str]) -> None:
    box = store.mailbox_by_id(master.owner_id)
    for old_id in ids:
        box.seq += 1
        box.removed[old_id] = box.seq


def exceptions_of(store: GraphStore, master: Event) -> list[Event]:
    box = store.mailbox_by_id(master.owner_id)
    return [e for e in box.events.values() if e.series_master_id == master.id]


def drop_exceptions(store: GraphStore, master: Event) -> None:
    for exception in exceptions_of(store, master):
        store.remove(exception)


def forget(store: GraphStore, master: Event) -> None:
    """A master leaving the calendar takes its exceptions and occurrences with it (journalled
    as removed: calendarView delta clients only ever saw the occurrences)."""
    drop_exceptions(store, master)
    _journal_removed(store, master, occurrence_ids(master))


def carry(store: GraphStore, master: Event, old_props: dict[str, Any]) -> None:
    """A change to a master's properties reaches its exceptions, except where an exception
    has a value of its own (Exchange keeps only an exception's own changes)."""
    if master.type != "seriesMaster":
        return
    changed = [name for name, value in master.props.items() if old_props.get(name) != value]
    for exception in exceptions_of(store, master) if changed else []:
        inherited = [n for n in changed if exception.props.get(n) == old_props.get(n)]
        for name in inherited:
            exception.props[name] = copy.deepcopy(master.props[name])
        if inherited:
            store.touch(exception, "updated")


def answer_series(
    store: GraphStore, master: Event, response: str, when: datetime | None, address: str = ""
) -> None:
    """An answer to a whole series reaches its exceptions too: the owner's own answer, or (with
    ``address``) that attendee's status in the organizer's series."""
    for exception in exceptions_of(store, master):
        if not address:
            exception.response, exception.response_time = response, when
        else:
            entry = exception.attendee(address)
            if entry is None:
                continue
            entry.response, entry.response_time = response, when
        store.touch(exception, "updated")


def cancel_exceptions(store: GraphStore, master: Event) -> None:
    """An attendee's cancelled series: its exceptions read as cancelled too."""
    for exception in exceptions_of(store, master):
        if not exception.is_cancelled:
            exception.is_cancelled = True
            exception.props["subject"] = master.subject
            store.touch(exception, "updated")


def remove_occurrence(store: GraphStore, event: Event) -> None:
    """Take one occurrence (or exception) out of its series in its owner's mailbox."""
    box = store.mailbox_by_id(event.owner_id)
    master = box.events.get(event.series_master_id or "")
    store.remove(event)
    if master is not None and event.original_start is not None:
        master.cancelled_starts.add(event.original_start)
        store.touch(master, "updated")


def check_boundaries(store: GraphStore, event: Event, new_start: datetime) -> None:
    """Outlook refuses to move an occurrence to or over the one before or after it."""
    box = store.mailbox_by_id(event.owner_id)
    master = box.events.get(event.series_master_id or "")
    if master is None or event.original_start is None:
        return
    original = event.original_start
    excepted = _exceptions_of(box.events.values()).get(master.id, {})
    starts = [s for s in _starts(master, None, recurrence.MAX_OCCURRENCES) if s != original]
    previous = [s for s in starts if s < original]
    following = [s for s in starts if s > original]
    earliest = excepted[previous[-1]].start if previous and previous[-1] in excepted else None
    latest = excepted[following[0]].start if following and following[0] in excepted else None
    earliest = earliest or (previous[-1] if previous else None)
    latest = latest or (following[0] if following else None)
    if (earliest is not None and new_start <= earliest) or (
        latest is not None and new_start >= latest
    ):
        raise GraphError(
            400,
            "ErrorOccurrenceCrossingBoundary",
            "An occurrence of a recurring series can't be moved to or past an adjacent occurrence.",
        )
