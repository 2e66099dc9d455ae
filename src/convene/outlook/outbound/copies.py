"""Events bigger than one Outlook event may be: the split into copies.

Graph takes at most 500 attendees on one event ("The maximum number of attendees included in an
event ... is 500"; more is refused with "The maximum number of attendees for an event is 500").
An event with more people is one **own copy** (the ``CalendarLink``'s, part 0: its organizers,
presenters, room and the first attendees) plus **overflow copies** (``OverflowCopy``, parts 1,
2, ...), each a separate Outlook event in the same mailbox with at most 500 attendees. Every
person is seated on exactly one copy (``CopySeat``), so each gets exactly one invitation:

- a seat is kept for as long as the person is on the event: adding or removing others never
  moves anyone, so nobody is invited twice;
- newcomers take the lowest copy with room, organizers and presenters first (they belong on the
  own copy, which holds the room and the Teams meeting);
- when fewer copies would do (people left), the people of the copies no longer needed move to
  free seats of the others (one cancellation, one invitation each) and those copies are
  deleted: removing people shrinks the copies again;
- an event that fits in one copy again forgets its seats.

Overflow copies are the organizer's (or the service mailbox's) own events too; so as not to
fill that calendar with duplicates they are created as free time (``showAs: free``) without a
reminder: Outlook shows them, but they do not block the organizer's schedule or ring. (Graph
could also put them in a secondary calendar, ``POST /calendars``, at the cost of a calendar per
mailbox to create, find again and subscribe to: docs/outlook.md says why that was not chosen.)

Every change goes to every copy; the event's link is in sync only once all of them have it, so
until everyone has the change the event says "Sync pending" (or failing, with the reason). A
series' overflow copies are series too, and each changed or cancelled session goes to each of
them through the copy's own occurrence (``push_overflow_sessions``). A Teams meeting is the own
copy's alone: the overflow copies carry its join link in their body.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from convene.events.models import Enrollment, Event
from convene.outlook import links
from convene.outlook.answers import apply_replies
from convene.outlook.mailboxes import pool
from convene.outlook.microsoft import graph, mapping
from convene.outlook.microsoft.errors import CopyChanged, MailboxGone, MicrosoftError, NotFound
from convene.outlook.microsoft.recurrence import occurrence_dates
from convene.outlook.models import (
    CalendarLink,
    CopySeat,
    LogKind,
    OnlineMeeting,
    OutlookSettings,
    OverflowCopy,
    SyncLogEntry,
    log_entry,
    record,
)

log = logging.getLogger(__name__)

# Graph's limit on attendees of one event (and on recipients of its messages).
PER_COPY = 500
# Who belongs on the event's own copy: they run it.
PINNED_ROLES = frozenset({"organizer", "presenter"})
# Overflow copies are marked so Convene can tell them from the event's own copy.
COPY_PROPERTY = "String {6f1c5e0a-6c3b-4d8e-9a51-0c0e7e5d2b11} Name ConveneOverflowCopy"
_TRANSACTION_NAMESPACE = uuid.UUID("0b6f7d1e-52a4-4c0f-9f63-7a1d2c3e4b58")
# How often a change refused because someone answered meanwhile (412) is read and sent again.
ANSWER_ROUNDS = 3
# What an overflow copy of a Teams event says before the own copy's join link.
JOIN_LINE = "Join the Teams meeting: "
# Where a copy of a series keeps, in ``last_pushed`` beside the master's properties, what
# Outlook accepted per session (by ISO date) and each occurrence's id: the keys the own copy
# uses (``outbound.series``).
SESSIONS = "sessions"
OCCURRENCES = "occurrences"
# When Outlook last got the copy's master's time or rule: an occurrence id read by a request
# sent before then (a delta page, a notification's read) is not kept (``inbound.sessions``).
OCCURRENCES_FROM = "occurrences_from"

Row = tuple[int, int, str, str, str]  # snapshots.EnrollmentRow: event, user, email, name, role
JSON = dict[str, Any]


@dataclass
class Split:
    """Who is on which copy of one event, as this push wants it."""

    event_id: int
    parts: dict[int, list[Row]]  # copy number -> its people (0: the own copy)
    invitees: int  # people invited (the creator is not one in their own calendar)
    seats: dict[int, int] = field(default_factory=dict)  # user -> copy, as wanted
    stored: dict[int, int] = field(default_factory=dict)  # user -> copy, as last saved

    def rows(self, part: int) -> list[Row]:
        return self.parts.get(part, [])

    @property
    def overflow_parts(self) -> list[int]:
        return sorted(part for part, rows in self.parts.items() if part and rows)

    @property
    def copies(self) -> int:
        return 1 + len(self.overflow_parts)

    @property
    def is_split(self) -> bool:
        """Whether copies are involved: more than one wanted, or seats stored from before."""
        return bool(self.seats or self.stored)

    def save(self) -> None:
        """Store the seats (only what changed). An event back in one copy keeps its seats
        until its overflow copies are gone (``push_overflow``)."""
        if not self.is_split:
            return
        with transaction.atomic():
            gone = [user for user in self.stored if user not in self.seats]
            if gone:
                CopySeat.objects.filter(event_id=self.event_id, user_id__in=gone).delete()
            moved: dict[int, list[int]] = defaultdict(list)
            for user, part in self.seats.items():
                if user in self.stored and self.stored[user] != part:
                    moved[part].append(user)
            for part, users in moved.items():
                CopySeat.objects.filter(event_id=self.event_id, user_id__in=users).update(part=part)
            CopySeat.objects.bulk_create(
                [
                    CopySeat(event_id=self.event_id, user_id=user, part=part)
                    for user, part in self.seats.items()
                    if user not in self.stored
                ],
                batch_size=1000,
                ignore_conflicts=True,
            )


def own_copy_room(has_room: bool) -> int:
    """How many people the event's own copy holds (its room counts as an attendee)."""
    return PER_COPY - (1 if has_room else 0)


def copies_needed(people: int, has_room: bool = False) -> int:
    """How many Outlook copies an event with ``people`` invitees needs."""
    first = own_copy_room(has_room)
    if people <= first:
        return 1
    return 1 + math.ceil((people - first) / PER_COPY)


def split(
    event: Event,
    rows: Iterable[Row],
    *,
    platform: bool,
    has_room: bool,
    seated: bool | None = None,
) -> Split:
    """Seat the event's invitees on copies (nothing is written: ``Split.save``).

    ``seated``: whether the event has stored seats, when the caller knows (None: look).
    """
    all_rows = list(rows)
    # In their own calendar the creator is the organizer, not an attendee: no seat.
    invitees = [r for r in all_rows if platform or r[1] != event.created_by_id]
    first = own_copy_room(has_room)
    if len(invitees) <= first and not (
        seated if seated is not None else CopySeat.objects.filter(event=event).exists()
    ):
        return Split(event.pk, {0: all_rows}, len(invitees))
    stored = dict(CopySeat.objects.filter(event=event).values_list("user_id", "part"))
    joined = dict(Enrollment.objects.filter(event=event).values_list("user_id", "pk"))
    closed = frozenset(
        OverflowCopy.objects.filter(
            link__event=event, deleted_in_outlook_at__isnull=False
        ).values_list("part", flat=True)
    )
    seats = _seat(invitees, stored, joined, first, closed)
    parts: dict[int, list[Row]] = defaultdict(list)
    for row in all_rows:
        parts[seats.get(row[1], 0)].append(row)
    parts.setdefault(0, [])
    return Split(event.pk, dict(parts), len(invitees), seats, stored)


def _seat(
    invitees: Sequence[Row],
    stored: dict[int, int],
    joined: dict[int, int],
    first: int,
    closed: frozenset[int] = frozenset(),
) -> dict[int, int]:
    """user -> copy: stored seats kept, newcomers in the lowest copy with room, copies no
    longer needed emptied into the others. A ``closed`` copy (deleted in Outlook, until it is
    published again: nothing is sent to it) keeps its people but takes nobody new: the
    copies after it make up for its seats."""

    def room_of(part: int) -> int:
        return first if part == 0 else PER_COPY

    def order(row: Row) -> tuple[int, int]:
        # Organizers and presenters first, then in the order people joined.
        return (0 if row[4] in PINNED_ROLES else 1, joined.get(row[1], 0))

    ordered = sorted(invitees, key=order)
    seats = {row[1]: stored[row[1]] for row in ordered if row[1] in stored}
    counts = Counter(seats.values())
    # Organizers and presenters seated elsewhere (promoted since) move to the own copy.
    for row in ordered:
        part = seats.get(row[1])
        if row[4] in PINNED_ROLES and part not in (None, 0) and counts[0] < first:
            counts[part] -= 1
            counts[0] += 1
            seats[row[1]] = 0
    needed = 1 + max(0, math.ceil((len(ordered) - first) / PER_COPY))
    for part in sorted(closed):
        if part < needed:
            needed += 1

    def lowest_free(limit: int | None) -> int:
        part = 0
        while part in closed or counts[part] >= room_of(part):
            part += 1
        if limit is not None and part >= limit:
            raise AssertionError("no free seat below the copies needed")
        return part

    # Copies beyond those needed are emptied into free seats of the others.
    for row in reversed(ordered):
        part = seats.get(row[1])
        if part is not None and part >= needed:
            counts[part] -= 1
            new = lowest_free(needed)
            counts[new] += 1
            seats[row[1]] = new
    for row in ordered:
        if row[1] not in seats:
            new = lowest_free(None)
            counts[new] += 1
            seats[row[1]] = new
    return seats


def seated_events(event_ids: Iterable[int]) -> set[int]:
    """Which of these events have people seated on copies (one query)."""
    return set(
        CopySeat.objects.filter(event_id__in=list(event_ids))
        .values_list("event_id", flat=True)
        .distinct()
    )


# --- pushing the overflow copies ----------------------------------------------------------


def transaction_id(event_id: int, generation: int, part: int) -> str:
    return str(uuid.uuid5(_TRANSACTION_NAMESPACE, f"convene-copy:{event_id}:{generation}:{part}"))


def copy_snapshot(
    snapshot: mapping.EventSnapshot, people: tuple[mapping.Person, ...], join_url: str
) -> mapping.EventSnapshot:
    """An overflow copy's snapshot: the event's, with that copy's people. The Teams meeting is
    the own copy's (a copy asking for one would get a second meeting): the copy is no online
    meeting of its own (``isOnlineMeeting: false``) and the own copy's join link goes in its
    body, and in the body of each of its changed sessions, so everyone joins the one
    meeting."""

    return replace(
        snapshot,
        people=people,
        teams_meeting=False,
        description=_joined(snapshot, snapshot.description, join_url),
        sessions=tuple(_copy_session(snapshot, session, join_url) for session in snapshot.sessions),
    )


def _joined(snapshot: mapping.EventSnapshot, description: str, join_url: str) -> str:
    if snapshot.teams_meeting and join_url:
        return f"{description}\n\n{JOIN_LINE}{join_url}".strip()
    return description


def _copy_session(
    snapshot: mapping.EventSnapshot, session: mapping.SessionSnapshot, join_url: str
) -> mapping.SessionSnapshot:
    """A session as an overflow copy shows it: with the own copy's join link, as its master."""
    return replace(session, description=_joined(snapshot, session.description, join_url))


def create_payload(desired: dict[str, Any], event_id: int, generation: int, part: int) -> Any:
    """An overflow copy's first push: what it shows, plus what is set once."""
    return {
        **desired,
        "transactionId": transaction_id(event_id, generation, part),
        "allowNewTimeProposals": False,
        "responseRequested": True,
        # Not to crowd the organizer's own calendar: free time, no reminder.
        "showAs": "free",
        "isReminderOn": False,
        "singleValueExtendedProperties": [{"id": COPY_PROPERTY, "value": f"{event_id}/{part}"}],
    }


@dataclass
class Outcome:
    """What ``push_overflow`` did: Outlook's answer to the own copy's request sent along (None:
    none was sent), and the first failure of an overflow copy (None: all went through)."""

    own: dict[str, Any] | MicrosoftError | None = None
    failure: MicrosoftError | None = None


def push_overflow(
    link: CalendarLink,
    event: Event,
    client: graph.GraphClient,
    mailbox: str,
    snapshot: mapping.EventSnapshot,
    people_of: dict[int, tuple[mapping.Person, ...]],
    own: graph.Call | None = None,
) -> Outcome:
    """Bring every overflow copy in line: create, update, cancel or delete each, all copies'
    requests as JSON batches, with ``own`` (the own copy's request, for its caller to settle)
    in the first. Every copy is tried; what went through is saved, and the first failure is
    returned: the link then stays behind and is retried."""
    # Copies left in another calendar by a move are the move's to cancel (``old_copies``).
    existing = {
        copy.part: copy for copy in OverflowCopy.objects.filter(link=link, mailbox__iexact=mailbox)
    }
    wanted = {part for part, people in people_of.items() if part and people}
    result = Outcome()
    if not existing and not wanted:
        return result
    meeting = OnlineMeeting.objects.filter(event=event).values_list("join_url", flat=True).first()
    plans: list[tuple[OverflowCopy, str, graph.Call, dict[str, Any]]] = []
    for part in sorted(set(existing) | wanted, reverse=True):
        copy = existing.get(part) or OverflowCopy(link=link, part=part, mailbox=mailbox.lower())
        if copy.deleted_in_outlook_at is not None:
            # Deleted in Outlook (its people got Outlook's cancellation): nothing to send until
            # an organizer publishes it again; a copy no longer wanted is simply forgotten.
            if event.is_cancelled or part not in wanted:
                copy.delete()
            continue
        if event.is_cancelled or part not in wanted:
            if not copy.graph_id:
                if copy.pk:
                    copy.delete()
                continue
            if event.is_cancelled:
                if copy.last_pushed.get("isCancelled"):
                    continue
                reason = event.cancellation_reason or "This event has been cancelled."
                plans.append((copy, "cancel", graph.Call.cancel_event(copy.graph_id, reason), {}))
            else:
                # Nobody left on it (they moved to other copies or left the event).
                plans.append(
                    (copy, "delete", graph.Call("DELETE", graph.event_path(copy.graph_id)), {})
                )
            continue
        desired = mapping.event_payload(copy_snapshot(snapshot, people_of[part], meeting or ""))
        if not copy.graph_id:
            payload = create_payload(desired, event.pk, link.generation, part)
            plans.append((copy, "create", graph.Call.create_event(payload), desired))
            continue
        changes = mapping.changed_properties(copy.last_pushed, desired)
        if changes:
            if "attendees" in changes and copy.last_pushed.get(mapping.OUTLOOK_ONLY_ATTENDEES):
                # The list replaces Outlook's: people added there (forwarded invitations) stay
                # on it, as on the own copy (``push.update_for``).
                changes["attendees"] = mapping.with_outlook_only(
                    changes["attendees"], copy.last_pushed
                )
            call = graph.Call.update_event(copy.graph_id, changes, if_version=copy.change_key)
            plans.append((copy, "update", call, desired))
    failure: MicrosoftError | None = None
    # The first batch leaves a place for the own copy's request when there is one.
    first = graph.MAX_BATCH - (1 if own is not None else 0)
    starts = [0, *range(first, len(plans), graph.MAX_BATCH)]
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(plans)
        chunk = plans[start:end]
        calls = [plan[2] for plan in chunk]
        if number == 0 and own is not None:
            calls.append(own)
        if not calls:
            continue
        outcomes = _send(client, calls)  # at most one batch: the chunk is at most its size
        if number == 0 and own is not None:
            result.own = outcomes.pop()
        entries = []
        sent = 0
        for (copy, action, call, desired), outcome in zip(chunk, outcomes, strict=True):
            if isinstance(outcome, CopyChanged):
                try:
                    outcome = _answered_then_again(copy, event, client, mailbox, call)
                except MicrosoftError as exc:
                    outcome = exc
            gone = (action == "delete" and isinstance(outcome, NotFound)) or _deleted(outcome)
            if gone and action in ("delete", "cancel"):
                outcome = {}  # already gone: nothing sent
            elif gone and action == "update" and isinstance(outcome, NotFound):
                # Deleted in Outlook: told and kept so, as the own copy is (not a failure).
                links.copy_deleted_in_outlook(copy)
                entries.append(
                    log_entry(
                        LogKind.GRAPH,
                        action,
                        status=str(outcome.status or type(outcome).__name__),
                        message=str(outcome),
                        event_id=event.pk,
                        mailbox=mailbox,
                        copy=copy.part,
                        outcome="deleted in Outlook",
                    )
                )
                continue
            failed = outcome if isinstance(outcome, MicrosoftError) else None
            entries.append(_sent_entry(action, failed, event, mailbox, copy.part, people_of))
            if failed is not None:
                failure = failure or failed
                continue
            assert not isinstance(outcome, MicrosoftError)
            if not gone:
                # Deleting a meeting cancels it for everyone on it, as a cancel does.
                sent += pool.recipients_of(
                    "cancel" if action == "delete" else action, copy.last_pushed, call.body or {}
                )
            _settle(copy, action, outcome, desired, link.desired_version)
        SyncLogEntry.objects.bulk_create(entries)
        # Exchange counts the overflow copies' messages against the mailbox's daily limit too.
        pool.count_sent({mailbox: sent})
    if failure is not None:
        log.warning("Outlook overflow copies of event %s in %s: %s", event.pk, mailbox, failure)
        result.failure = failure
        return result
    # Every copy now has this version (those this change did not touch had it already).
    OverflowCopy.objects.filter(
        link=link, mailbox__iexact=mailbox, deleted_in_outlook_at__isnull=True
    ).exclude(graph_id="").update(synced_version=link.desired_version)
    if not wanted:
        # Back in one copy, and the overflow copies are gone: the seats are no longer needed.
        CopySeat.objects.filter(event=event).delete()
    return result


# --- a series' sessions on its overflow copies ---------------------------------------------


@dataclass
class _CopySessions:
    """One overflow copy of a series: what its sessions are in Outlook and should be."""

    copy: OverflowCopy
    snapshot: mapping.EventSnapshot  # the copy's own (``copy_snapshot``)
    pushed: dict[str, JSON]  # per session (ISO date), what Outlook accepted
    occurrences: dict[str, str]  # per session, the copy's occurrence id
    desired: dict[str, JSON]  # per session, what Outlook should have
    due: list[str]  # the sessions to send
    failed: bool = False
    changed: bool = False  # ``pushed`` or ``occurrences`` to be saved


def push_overflow_sessions(
    link: CalendarLink,
    event: Event,
    client: graph.GraphClient,
    mailbox: str,
    snapshot: mapping.EventSnapshot,
    people_of: dict[int, tuple[mapping.Person, ...]],
    plain_session: Callable[[str], mapping.SessionSnapshot | None],
) -> MicrosoftError | None:
    """Bring the changed and cancelled sessions of a series to each of its overflow copies,
    as ``outbound.series`` does for the own copy: a PATCH of the copy's own occurrence (an
    exception: one update per person on it) or its ``cancel`` with the organizer's message
    (one cancellation per person). Each copy's occurrence ids are its own: read when a session
    first needs one (``GET /instances``, one per copy, batched) and forgotten when the copy's
    master moves (``_sessions_kept``). All copies' requests go out as JSON batches; what
    Outlook accepted is saved after each batch, so a failure (or a crash) resends only the
    sessions still missing and nobody gets a second update. Returns the first failure (None:
    every copy has every session); a copy that failed is not marked as having this version.

    ``snapshot`` is the own copy's; ``plain_session`` gives a session by ISO date as the
    series says it is (to undo an exception no longer wanted)."""
    if snapshot.recurrence is None or event.is_cancelled:
        return None
    meeting = (
        OnlineMeeting.objects.filter(event=event).values_list("join_url", flat=True).first() or ""
    )
    work: list[_CopySessions] = []
    for copy in (
        OverflowCopy.objects.filter(link=link, mailbox__iexact=mailbox)
        .exclude(graph_id="")
        .order_by("part")
    ):
        if (
            not people_of.get(copy.part)
            or copy.last_pushed.get("isCancelled")
            or copy.deleted_in_outlook_at is not None
        ):
            continue
        work.append(_sessions_of(copy, copy_snapshot(snapshot, people_of[copy.part], meeting)))
    # Whether these copies' sessions need anything at all is known without a request.
    for item in work:
        for on in [on for on in item.pushed if on not in item.desired]:
            plain = plain_session(on)
            if plain is not None and not plain.is_cancelled:
                session = _copy_session(snapshot, plain, meeting)
                item.desired[on] = mapping.session_payload(item.snapshot, session)
            else:
                del item.pushed[on]
                item.changed = True
        due = [on for on, payload in sorted(item.desired.items()) if item.pushed.get(on) != payload]
        for on in due:
            # Cancelled in Convene, and Outlook's occurrence is gone already (deleted there):
            # nothing to send.
            if item.desired[on].get("isCancelled") and item.pushed.get(on, {}).get("isCancelled"):
                item.pushed[on] = item.desired[on]
                item.changed = True
            else:
                item.due.append(on)
    failure = _read_occurrences(event, client, mailbox, work)
    plans: list[tuple[_CopySessions, str, str, graph.Call]] = []
    for item in work:
        if item.failed:
            continue
        for on in item.due:
            occurrence_id = item.occurrences.get(on)
            if occurrence_id is None:
                continue  # Outlook has no such occurrence (gone already): nothing to change
            payload = item.desired[on]
            if payload.get("isCancelled"):
                call = graph.Call.cancel_event(occurrence_id, str(payload["comment"]))
                plans.append((item, on, "cancel session", call))
            else:
                changes = mapping.changed_properties(item.pushed.get(on, {}), payload)
                call = graph.Call.update_event(occurrence_id, changes)
                plans.append((item, on, "update session", call))
    for start in range(0, len(plans), graph.MAX_BATCH):
        chunk = plans[start : start + graph.MAX_BATCH]
        outcomes = _send(client, [plan[3] for plan in chunk])
        entries = []
        sent = 0
        for (item, on, action, call), outcome in zip(chunk, outcomes, strict=True):
            details: dict[str, Any] = {"session": on}
            if action == "update session":
                details["properties"] = sorted(call.body or {})
            if (
                isinstance(outcome, NotFound)
                and action == "cancel session"
                and outcome.item_not_found
                and not isinstance(outcome, MailboxGone)
            ):
                details["outcome"] = "already gone"
                outcome = {}
            failed = outcome if isinstance(outcome, MicrosoftError) else None
            entries.append(
                _sent_entry(action, failed, event, mailbox, item.copy.part, people_of, **details)
            )
            if failed is not None:
                item.failed = True
                failure = failure or failed
                continue
            if "outcome" not in details:
                # An occurrence's update or cancellation goes to everyone on the copy.
                sent += len(pool.attendee_addresses(item.copy.last_pushed.get("attendees")))
            item.pushed[on] = item.desired[on]
            item.changed = True
        SyncLogEntry.objects.bulk_create(entries)
        pool.count_sent({mailbox: sent})
        _save_sessions(work, link.desired_version, final=False)
    _save_sessions(work, link.desired_version, final=True)
    if failure is not None:
        log.warning(
            "Outlook sessions on overflow copies of event %s in %s: %s", event.pk, mailbox, failure
        )
    return failure


def _sessions_of(copy: OverflowCopy, snapshot: mapping.EventSnapshot) -> _CopySessions:
    return _CopySessions(
        copy,
        snapshot,
        dict(copy.last_pushed.get(SESSIONS) or {}),
        dict(copy.last_pushed.get(OCCURRENCES) or {}),
        mapping.session_payloads(snapshot),
        [],
    )


def _read_occurrences(
    event: Event, client: graph.GraphClient, mailbox: str, work: list[_CopySessions]
) -> MicrosoftError | None:
    """Read the occurrence ids of each copy that has a session to send whose id is not known
    (one ``GET /instances`` per copy, batched); returns the first failure (that copy waits)."""
    reading = [item for item in work if any(on not in item.occurrences for on in item.due)]
    if not reading:
        return None
    window_start = (event.start - timedelta(days=1)).isoformat()
    window_end = (event.series_rule.last_end + timedelta(days=1)).isoformat()
    calls = [graph.Call.instances(item.copy.graph_id, window_start, window_end) for item in reading]
    failure: MicrosoftError | None = None
    for item, outcome in zip(reading, _send(client, calls), strict=True):
        if isinstance(outcome, MicrosoftError):
            record(
                LogKind.GRAPH,
                "read occurrences",
                status=str(outcome.status or type(outcome).__name__),
                message=str(outcome),
                event_id=event.pk,
                mailbox=mailbox,
                copy=item.copy.part,
            )
            item.failed = True
            failure = failure or outcome
            continue
        found = list(outcome.get("value") or [])
        if outcome.get("@odata.nextLink"):
            found = client.instances(item.copy.graph_id, window_start, window_end)
        item.occurrences = occurrence_dates(found, event.timezone)
        item.changed = True
    return failure


def _sent_entry(
    action: str,
    failed: MicrosoftError | None,
    event: Event,
    mailbox: str,
    part: int,
    people_of: dict[int, tuple[mapping.Person, ...]],
    **details: Any,
) -> SyncLogEntry:
    """The audit log line of one request to an overflow copy: ok, or Microsoft's refusal."""
    return log_entry(
        LogKind.GRAPH,
        action,
        status=str(failed.status or type(failed).__name__) if failed else "ok",
        message=str(failed) if failed else "",
        event_id=event.pk,
        mailbox=mailbox,
        copy=part,
        people=len(people_of.get(part, ())),
        **details,
    )


def _send(
    client: graph.GraphClient, calls: list[graph.Call]
) -> list[dict[str, Any] | MicrosoftError]:
    """Each call's answer or error: alone for one call, else as JSON batches."""
    outcomes: list[dict[str, Any] | MicrosoftError] = []
    for start in range(0, len(calls), graph.MAX_BATCH):
        chunk = calls[start : start + graph.MAX_BATCH]
        if len(chunk) == 1:
            try:
                outcomes.append(client.call(chunk[0]))
            except MicrosoftError as exc:
                outcomes.append(exc)
            continue
        try:
            outcomes += client.batch(chunk)
        except MicrosoftError as exc:
            outcomes += [exc] * len(chunk)
    return outcomes


def _save_sessions(work: list[_CopySessions], version: int, *, final: bool) -> None:
    """Save what Outlook accepted of each copy's sessions. ``final``: the round is over, so a
    session brought back to the series' values is no longer an exception Convene made, and a
    copy that failed is not marked as having this version."""
    for item in work:
        if final:
            wanted = mapping.session_payloads(item.snapshot)
            for on in [on for on in item.pushed if on not in wanted]:
                if item.pushed[on] == item.desired.get(on):
                    del item.pushed[on]
                    item.changed = True
        if not item.changed and not (final and item.failed):
            continue
        copy = item.copy
        sessions = {SESSIONS: item.pushed, OCCURRENCES: item.occurrences}
        copy.last_pushed = {**copy.last_pushed, **sessions}
        if final and item.failed:
            copy.synced_version = min(copy.synced_version, version - 1)
        OverflowCopy.objects.filter(pk=copy.pk).update(
            last_pushed=copy.last_pushed, synced_version=copy.synced_version
        )
        item.changed = False


def _answered_then_again(
    copy: OverflowCopy,
    event: Event,
    client: graph.GraphClient,
    mailbox: str,
    call: graph.Call,
) -> dict[str, Any]:
    """Someone answered on the copy since Convene last wrote it (412): read and act on the
    answers (a decline unenrolls), then send the change over the version read."""
    for round_ in range(1, ANSWER_ROUNDS + 1):
        found = client.get_event(copy.graph_id, select=("attendees", "changeKey"))
        apply_replies(event, found, mailbox, OutlookSettings.load())
        copy.change_key = str(found.get("changeKey") or "")
        OverflowCopy.objects.filter(pk=copy.pk).update(change_key=copy.change_key)
        again = graph.Call.update_event(copy.graph_id, call.body or {}, if_version=copy.change_key)
        try:
            return client.call(again)
        except CopyChanged:
            if round_ == ANSWER_ROUNDS:
                raise
    raise AssertionError("unreachable")


def _settle(
    copy: OverflowCopy, action: str, answer: dict[str, Any], desired: dict[str, Any], version: int
) -> None:
    """Save what Outlook accepted for one copy."""
    if action == "delete":
        if copy.pk:
            copy.delete()
        return
    if action == "cancel":
        copy.last_pushed = {**copy.last_pushed, "isCancelled": True}
    else:
        kept = copy.last_pushed.get(mapping.OUTLOOK_ONLY_ATTENDEES)
        copy.last_pushed = {
            **desired,
            **_sessions_kept(copy.last_pushed, desired, action),
            **({mapping.OUTLOOK_ONLY_ATTENDEES: kept} if kept and action != "create" else {}),
        }
        copy.change_key = str(answer.get("changeKey") or copy.change_key)
    if action == "create":
        copy.graph_id = str(answer["id"])
    copy.synced_version = version
    copy.save()


def _sessions_kept(previous: dict[str, Any], desired: dict[str, Any], action: str) -> JSON:
    """What a copy of a series keeps of its sessions once Outlook accepted its master:
    nothing after a create, nor after a change of the master's time or rule (Outlook then
    drops every exception and cancelled occurrence, and the occurrences get new ids: the
    sessions that still differ are sent again), only when that was (ids read before it are
    not kept); otherwise all of it."""
    if action == "create" or (
        set(mapping.changed_properties(previous, desired)) & mapping.RESETS_EXCEPTIONS
    ):
        return {OCCURRENCES_FROM: timezone.now().isoformat()} if "recurrence" in desired else {}
    return {
        key: previous[key] for key in (SESSIONS, OCCURRENCES, OCCURRENCES_FROM) if key in previous
    }


def _deleted(outcome: dict[str, Any] | MicrosoftError) -> bool:
    """Whether Outlook answered that the copy is not there (``ErrorItemNotFound``; a gone
    mailbox is not a deleted event)."""
    return (
        isinstance(outcome, NotFound)
        and outcome.item_not_found
        and not isinstance(outcome, MailboxGone)
    )


def old_copies(link: CalendarLink, mailbox: str) -> list[OverflowCopy]:
    """The overflow copies a move left in ``mailbox`` (the calendar the event moved from)."""
    return list(
        OverflowCopy.objects.filter(link=link, mailbox__iexact=mailbox).exclude(graph_id="")
    )


def forget_old_copies(link: CalendarLink, mailbox: str) -> None:
    OverflowCopy.objects.filter(link=link, mailbox__iexact=mailbox).delete()


def reconcile_copy(
    mailbox: str,
    graph_id: str,
    send_again: Callable[[CalendarLink], None],
    push_now: Callable[[CalendarLink], None] | None = None,
) -> bool | None:
    """A change Outlook notified on one of Convene's overflow copies, handled as one on the own
    copy (``inbound.reconcile``): record the answers it holds (a decline there unenrolls),
    put back what was edited there (its time, place, text or people: at the next push) unless
    that copy keeps being changed back (``links.drift_repeats``), keep the people added there
    (``mapping.OUTLOOK_ONLY_ATTENDEES``), and mark a copy deleted there
    (``links.copy_deleted_in_outlook``). None: not an overflow copy; False: the event is being
    pushed now (our own write is not drift), look again shortly. ``send_again`` has the event
    compared with Outlook and pushed again; ``push_now`` queues the push of a change made
    meanwhile (it stepped aside while the lease was held)."""
    from convene.outlook.mailboxes.connections import mark_mailbox_gone
    from convene.outlook.outbound.targets import resolve_target

    copy = (
        OverflowCopy.objects.select_related("link__event__created_by")
        .filter(graph_id=graph_id, mailbox__iexact=mailbox)
        .first()
    )
    if copy is None:
        return None
    outlook = OutlookSettings.load()
    if not outlook.enabled or copy.deleted_in_outlook_at is not None:
        return True
    link = copy.link
    event = link.event
    target = resolve_target(link, event, outlook)
    if not links.take_lease(link.pk):
        return False
    drifted: list[str] = []
    repeating = False
    try:
        with links.leases_kept([link.pk]):
            copy.refresh_from_db()
            if copy.deleted_in_outlook_at is not None or copy.graph_id != graph_id:
                return True
            try:
                found = target.client.get_event(graph_id)
            except MailboxGone as exc:
                mark_mailbox_gone(event.created_by_id, str(exc))
                return True
            except NotFound as exc:
                if exc.item_not_found and not event.is_cancelled:
                    links.copy_deleted_in_outlook(copy)
                return True
            seen = copy.change_key
            drifted = mapping.drifted_properties(copy.last_pushed, found)
            known_before = copy.last_pushed.get(mapping.OUTLOOK_ONLY_ATTENDEES) or []
            outlook_only = (
                mapping.outlook_only_attendees(copy.last_pushed, found)
                if "attendees" in copy.last_pushed  # else Convene's own list is being resent
                else known_before
            )
            repeating = bool(drifted) and links.drift_repeats(event.pk, copy.part)
            if drifted and not repeating:
                record(
                    LogKind.DECISION,
                    "drift_overwritten",
                    message=f"Changed in Outlook on overflow copy {copy.part}: "
                    f"{', '.join(drifted)}. Convene's version will be sent back to Outlook.",
                    event_id=event.pk,
                    mailbox=mailbox,
                    copy=copy.part,
                    properties=drifted,
                )
            if drifted or outlook_only != known_before:
                # Forget that Outlook has the drifted ones (the next push sends them again);
                # remember who is on this copy in Outlook only (the next list keeps them).
                kept = {k: v for k, v in copy.last_pushed.items() if k not in drifted}
                copy.last_pushed = {**kept, mapping.OUTLOOK_ONLY_ATTENDEES: outlook_only}
                copy.save(update_fields=["last_pushed", "updated_at"])
    finally:
        links.give_back_lease([link.pk])
    # Answers are acted on once the lease is back (as for the own copy, ``inbound.reconcile``):
    # a decline unenrolls, and the push that change queues can take the lease.
    apply_replies(event, found, mailbox, outlook)
    if found.get("changeKey"):
        # This version needs no second look (the delta read and the daily reconcile compare
        # with it), and a push may go out over it (``If-Match``); not when a push wrote a
        # newer one meanwhile.
        OverflowCopy.objects.filter(pk=copy.pk, change_key=seen).update(
            change_key=str(found["changeKey"])
        )
    if outlook_only != known_before:
        links.record_outlook_only(event.pk, mailbox, outlook_only, copy.part)
    if repeating:
        links.drift_repeating(link, drifted, copy.part)
    elif drifted:
        send_again(link)  # once the lease is back, so the push can take it
    elif push_now is not None and CalendarLink.objects.filter(links.behind(), pk=link.pk).exists():
        # A push that arrived while we held the lease (a session cancelled meanwhile, say)
        # stepped aside; run it now.
        push_now(link)
    return True


def seats_of(event: Event) -> dict[int, int]:
    """user -> copy number for an event split into copies (empty: one copy holds everyone)."""
    return dict(CopySeat.objects.filter(event=event).values_list("user_id", "part"))
