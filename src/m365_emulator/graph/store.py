"""In-memory mailboxes (one calendar of events, an inbox of meeting messages) and their changes.

This is the emulator's Exchange. Every state change goes through a method here, under the
backend's lock, and records what Exchange would record: a new changeKey, a place in the
mailbox's change journal (for delta queries), meeting messages for the people concerned, and
change notifications for subscriptions on that mailbox. A create's invitations reach the
attendees through ``transport`` after the create is answered; every access to a mailbox here
(``mailbox``, ``mailbox_by_id``, the searches over all mailboxes) delivers what is due first.

Public API (tests and other areas use these):

- ``events(user)``, ``event(user, id)``, ``messages(user)``: read a mailbox.
- ``create_event(user, body)``, ``update_event(user, id, body)``, ``delete_event(user, id)``,
  ``cancel_event(user, id, comment)``: change it as its owner would.
- ``respond(user, id, "accept" | "decline" | "tentativelyAccept", comment, send_response)``:
  answer a meeting as that attendee.
- ``events_with_ical_uid(uid)`` / ``count_events(uid)``: every copy of one meeting, any mailbox.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from m365_emulator.errors import GraphError
from m365_emulator.graph import delta, meetings, payload, series
from m365_emulator.graph.limits import Limits
from m365_emulator.graph.model import (
    Event,
    MeetingMessage,
    calendar_id_for,
    looks_like_item_id,
    new_change_key,
    new_ical_uid,
    new_item_id,
)
from m365_emulator.graph.notifications import Notifier
from m365_emulator.graph.sending import Sending
from m365_emulator.graph.stats import Stats
from m365_emulator.graph.subscriptions import Subscriptions
from m365_emulator.graph.transport import Transport

if TYPE_CHECKING:
    from threading import RLock

    from m365_emulator.backend import Backend
    from m365_emulator.directory import User

RESPONSES = {
    "accept": "accepted",
    "tentativelyAccept": "tentativelyAccepted",
    "decline": "declined",
}


@dataclass
class Mailbox:
    user_id: str
    calendar_id: str
    events: dict[str, Event] = field(default_factory=dict)
    by_ical_uid: dict[str, str] = field(default_factory=dict)
    by_transaction_id: dict[str, str] = field(default_factory=dict)
    messages: list[MeetingMessage] = field(default_factory=list)
    # Change journal: the last sequence number used, and deleted event ids with theirs.
    seq: int = 0
    removed: dict[str, int] = field(default_factory=dict)


class GraphStore:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.stats = Stats()
        self.limits = Limits(backend)
        self.sending = Sending(backend)
        self.notifier = Notifier(self)
        self.subscriptions = Subscriptions(self)
        self.transport = Transport(self)
        self._mailboxes: dict[str, Mailbox] = {}
        # Teams meetings a mailbox makes late (seed ``teamsMeetingDelaySeconds``):
        # (due, owner id, event id), filled in by ``provision_due_meetings``.
        self._late_meetings: list[tuple[datetime, str, str]] = []
        self.generation = os.urandom(8).hex()
        self.delta_secret = os.urandom(16)

    @property
    def lock(self) -> RLock:
        return self.backend.lock

    def reset(self) -> None:
        with self.lock:
            self.transport.reset()
            self._mailboxes.clear()
            self._late_meetings.clear()
            # Delta tokens handed out before a reset must not match the new world; the signing
            # secret stays, so such a token still reads as one of ours whose state is gone.
            self.generation = os.urandom(8).hex()
            self.subscriptions.clear()
            self.stats.reset()
            self.limits.reset()
            self.sending.reset()
            self.notifier.reset()

    # ----- reading -------------------------------------------------------------------------

    def mailbox(self, user: User) -> Mailbox:
        """The user's mailbox, with every invitation due to it delivered (``transport``)."""
        with self.lock:
            self.transport.deliver_due(user.id)
            box = self._mailboxes.get(user.id)
            if box is None:
                box = Mailbox(user.id, calendar_id_for(user.id))
                self._mailboxes[user.id] = box
            return box

    def events(self, user: User) -> list[Event]:
        with self.lock:
            return list(self.mailbox(user).events.values())

    def calendar_view(self, user: User, start: datetime, end: datetime) -> list[Event]:
        """The events and series occurrences of ``user`` in [start, end), as calendarView."""
        with self.lock:
            return series.calendar_view(self.events(user), start, end)

    def instances(self, user: User, master: Event, start: datetime, end: datetime) -> list[Event]:
        """The occurrences and exceptions of the series ``master`` in [start, end)."""
        with self.lock:
            return series.instances(self.events(user), master, start, end)

    def delta_round(
        self, user: User, start: datetime, end: datetime, since: int = 0
    ) -> delta.DeltaState:
        """A new delta round over ``user``'s changes since journal position ``since``."""
        with self.lock:
            return delta.start_round(self.mailbox(user), start, end, since=since)

    def event(self, user: User, event_id: str) -> Event:
        """The event, or Graph's 400 for an id that cannot be one and 404 for an unknown one."""
        if not looks_like_item_id(event_id):
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        with self.lock:
            box = self.mailbox(user)
            found = box.events.get(event_id) or series.find_occurrence(box, event_id)
        if found is None:
            raise GraphError(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        return found

    def messages(self, user: User) -> list[MeetingMessage]:
        with self.lock:
            return list(self.mailbox(user).messages)

    def events_with_subject(self, subject: str) -> list[Event]:
        """Every mailbox's events with that subject (the control API's meeting census)."""
        with self.lock:
            self.transport.deliver_all()
            return [
                event
                for box in self._mailboxes.values()
                for event in box.events.values()
                if event.subject == subject
            ]

    def messages_with_subject(self, subject: str) -> list[MeetingMessage]:
        """Every mailbox's meeting messages about that subject (any prefix: "Updated: ")."""
        with self.lock:
            self.transport.deliver_all()
            return [
                message
                for box in self._mailboxes.values()
                for message in box.messages
                if message.subject.endswith(subject)
            ]

    def events_with_ical_uid(self, ical_uid: str) -> list[Event]:
        with self.lock:
            self.transport.deliver_all()
            return [
                box.events[box.by_ical_uid[ical_uid]]
                for box in self._mailboxes.values()
                if ical_uid in box.by_ical_uid
            ]

    def count_events(self, ical_uid: str) -> int:
        return len(self.events_with_ical_uid(ical_uid))

    # ----- changing, as the mailbox owner ---------------------------------------------------

    def create_event(self, owner: User, body: dict[str, Any]) -> tuple[Event, bool]:
        """Create an event (and invite its attendees). Returns (event, created).

        A repeated create with a transactionId already used in this mailbox returns the first
        event and creates nothing, as Outlook does for client retries.
        """
        payload.check_against_schema("event", body)
        with self.lock:
            box = self.mailbox(owner)
            transaction_id = body.get("transactionId")
            if isinstance(transaction_id, str) and transaction_id in box.by_transaction_id:
                existing = box.events.get(box.by_transaction_id[transaction_id])
                if existing is not None:
                    return existing, False
            if "start" not in body or "end" not in body:
                raise GraphError(
                    400, "ErrorInvalidRequest", "An event must have a start and an end time."
                )
            now = self.backend.clock.now()
            start, start_zone = payload.parse_date_time_zone(body["start"], "start")
            end, end_zone = payload.parse_date_time_zone(body["end"], "end")
            _check_span(start, end)
            event = Event(
                id=new_item_id(),
                owner_id=owner.id,
                calendar_id=box.calendar_id,
                ical_uid=new_ical_uid(),
                created=now,
                modified=now,
                change_key=new_change_key(),
                start=start,
                end=end,
                start_zone=start_zone,
                end_zone=end_zone,
                organizer_name=owner.display_name,
                organizer_address=owner.upn,
                is_organizer=True,
                response="organizer",
                props=copy.deepcopy(payload.DEFAULTS),
            )
            _apply_plain(event, body)
            rule = series.read_rule(event, body, start, end, start_zone)
            if rule is not None:
                rule.apply(event)
            attendees = self._attendees(body["attendees"], owner) if body.get("attendees") else []
            # The invitation is one message to every attendee: refused before anything is made.
            self.sending.submit(owner.id, [meetings.recipients(attendees, owner)])
            if isinstance(transaction_id, str):
                event.transaction_id = transaction_id
                box.by_transaction_id[transaction_id] = event.id
            if "singleValueExtendedProperties" in body:
                _apply_extended(event, body["singleValueExtendedProperties"])
            self._apply_online_meeting(event, body)
            if attendees:
                event.attendees = attendees
            box.events[event.id] = event
            box.by_ical_uid[event.ical_uid] = event.id
            self.touch(event, "created", modified=False)
            meetings.invite(self, event, event.attendees)
            return event, True

    def update_event(self, owner: User, event_id: str, body: dict[str, Any]) -> Event:
        payload.check_against_schema("event", body)
        with self.lock:
            event = self.event(owner, event_id)
            start, start_zone = event.start, event.start_zone
            end, end_zone = event.end, event.end_zone
            if "start" in body:
                start, start_zone = payload.parse_date_time_zone(body["start"], "start")
            if "end" in body:
                end, end_zone = payload.parse_date_time_zone(body["end"], "end")
            _check_span(start, end)
            new_attendees = (
                self._attendees(body["attendees"] or [], owner) if "attendees" in body else None
            )
            rule = series.read_rule(event, body, start, end, start_zone)
            if event.original_start is not None and start != event.start:
                series.check_boundaries(self, event, start)
            if event.is_organizer:
                self.sending.submit(
                    owner.id, meetings.update_messages(event, new_attendees, set(body), owner)
                )
            # Changing one occurrence makes it an exception (it keeps its id).
            event = series.materialize(self, event)
            before = meetings.Snapshot.of(event)
            series_before = series.SeriesState.of(event)
            event.start, event.start_zone, event.end, event.end_zone = (
                start,
                start_zone,
                end,
                end_zone,
            )
            old_props = copy.deepcopy(event.props)
            _apply_plain(event, body)
            if rule is not None:
                rule.apply(event)
            if series_before.differs(event):
                series.reset(self, event, series_before)
            series.carry(self, event, old_props)
            if "singleValueExtendedProperties" in body:
                _apply_extended(event, body["singleValueExtendedProperties"])
            self._apply_online_meeting(event, body)
            if "body" in body and not meetings.keeps_meeting(event):
                # "removing the meeting blob inadvertently disables the meeting being online"
                meetings.drop_meeting(event)
            if new_attendees is not None:
                event.attendees = meetings.merge_statuses(event.attendees, new_attendees)
            if event.is_organizer and before.times_differ(event):
                # A new time asks everyone again, as Exchange does.
                for attendee in event.attendees:
                    attendee.response, attendee.response_time = "none", None
            self.touch(event, "updated")
            if event.is_organizer:
                meetings.propagate_update(self, event, before, set(body))
            return event

    def delete_event(self, owner: User, event_id: str) -> None:
        """Delete an event; the organizer deleting a meeting cancels it for every attendee."""
        with self.lock:
            event = self.event(owner, event_id)
            if event.is_organizer:
                self.sending.submit(owner.id, [meetings.recipients(event.attendees, owner)])
            if event.original_start is not None:
                meetings.cancel_occurrence(self, event, comment="")
                return
            if event.is_organizer and event.attendees:
                meetings.cancel_for(self, event, event.attendees, comment="")
            self.remove(event)

    def cancel_event(self, owner: User, event_id: str, comment: str) -> None:
        with self.lock:
            event = self.event(owner, event_id)
            if not event.is_organizer:
                raise GraphError(
                    400,
                    "ErrorInvalidRequest",
                    "Your request can't be completed. You need to be an organizer to cancel a "
                    "meeting.",
                )
            self.sending.submit(owner.id, [meetings.recipients(event.attendees, owner)])
            if event.original_start is not None:
                meetings.cancel_occurrence(self, event, comment=comment)
                return
            meetings.cancel_for(self, event, event.attendees, comment=comment)
            # The organizer's copy moves to Deleted Items: it leaves the calendar.
            self.remove(event)

    def respond(
        self,
        owner: User,
        event_id: str,
        action: str,
        comment: str = "",
        send_response: bool = True,
    ) -> Event:
        if action not in RESPONSES:
            raise GraphError(400, "ErrorInvalidRequest", f"Unknown response '{action}'.")
        with self.lock:
            event = self.event(owner, event_id)
            if event.is_organizer:
                raise GraphError(
                    400,
                    "ErrorInvalidRequest",
                    "Your request can't be completed. You can't respond to a meeting you "
                    "organized.",
                )
            if event.is_cancelled:
                raise GraphError(
                    400,
                    "ErrorInvalidRequest",
                    "Your request can't be completed. The meeting has been canceled.",
                )
            # Answering one occurrence makes it an exception in the attendee's calendar.
            event = series.materialize(self, event)
            event.response = RESPONSES[action]
            event.response_time = self.backend.clock.now()
            if event.type == "seriesMaster":
                series.answer_series(self, event, event.response, event.response_time)
            self.touch(event, "updated")
            meetings.record_response(self, event, owner, comment, send_response)
            return event

    # ----- bookkeeping used by the meeting logic -------------------------------------------

    def touch(self, event: Event, change_type: str, *, modified: bool = True) -> None:
        """Record a change: new changeKey, journal position, change notifications."""
        box = self._mailboxes[event.owner_id]
        box.seq += 1
        event.seq = box.seq
        if modified:
            event.modified = self.backend.clock.now()
            event.change_key = new_change_key()
        self.subscriptions.on_change(event.owner_id, event.id, change_type, event.change_key)

    def remove(self, event: Event) -> None:
        box = self._mailboxes[event.owner_id]
        if event.type == "seriesMaster":
            series.forget(self, event)
        box.events.pop(event.id, None)
        if box.by_ical_uid.get(event.ical_uid) == event.id:
            del box.by_ical_uid[event.ical_uid]
        if event.transaction_id and box.by_transaction_id.get(event.transaction_id) == event.id:
            del box.by_transaction_id[event.transaction_id]
        box.seq += 1
        box.removed[event.id] = box.seq
        self.subscriptions.on_change(event.owner_id, event.id, "deleted", event.change_key)

    def forget_transaction_ids(self, event_ids: set[str]) -> int:
        """Forget the transactionId of these events, so a retried create makes a new one.

        Graph documents transactionId only as a way "to avoid redundant POST operations", not
        for how long it remembers one; a fault rule uses this to model the worst case.
        """
        forgotten = 0
        with self.lock:
            self.transport.deliver_all()
            for box in self._mailboxes.values():
                for transaction_id, event_id in list(box.by_transaction_id.items()):
                    if event_id in event_ids:
                        del box.by_transaction_id[transaction_id]
                        forgotten += 1
        return forgotten

    def add_event(self, event: Event) -> None:
        box = self._mailboxes.setdefault(event.owner_id, Mailbox(event.owner_id, event.calendar_id))
        box.events[event.id] = event
        box.by_ical_uid[event.ical_uid] = event.id
        self.touch(event, "created", modified=False)

    def deliver(self, message: MeetingMessage) -> None:
        box = self._mailboxes.setdefault(
            message.owner_id, Mailbox(message.owner_id, calendar_id_for(message.owner_id))
        )
        box.messages.append(message)

    def mailbox_by_id(self, user_id: str) -> Mailbox:
        self.transport.deliver_due(user_id)
        box = self._mailboxes.get(user_id)
        if box is None:
            box = Mailbox(user_id, calendar_id_for(user_id))
            self._mailboxes[user_id] = box
        return box

    def now(self) -> datetime:
        return self.backend.clock.now()

    # ----- helpers ---------------------------------------------------------------------------

    def _attendees(self, raw: Any, owner: User) -> list[Any]:
        attendees = payload.parse_attendees(raw, self.backend.config.max_attendees)
        for attendee in attendees:
            if not attendee.name:
                user = self.backend.user(attendee.address)
                attendee.name = user.display_name if user is not None else attendee.address
        return attendees

    def _apply_online_meeting(self, event: Event, body: dict[str, Any]) -> None:
        """isOnlineMeeting and onlineMeetingProvider as event.md documents them: setting either
        makes the event an online meeting (with the calendar's default provider when none is
        named); after that, changes to both are ignored and the meeting stays online. A provider
        the owner's calendar does not allow gives no online meeting."""
        if event.is_online_meeting:
            return
        provider = str(body.get("onlineMeetingProvider") or "unknown")
        if provider == "unknown" and not body.get("isOnlineMeeting"):
            return
        owner = self.backend.user(event.owner_id)
        allowed = owner.online_meeting_providers if owner is not None else ("teamsForBusiness",)
        if provider == "unknown":
            provider = owner.default_online_meeting_provider if owner else "teamsForBusiness"
        if provider not in allowed:
            return
        event.is_online_meeting = True
        event.online_meeting_provider = provider
        if provider != "teamsForBusiness":
            return
        delay = owner.teams_meeting_delay_seconds if owner is not None else 0
        if delay > 0:
            # Some tenants answer the create before Teams made the meeting; Outlook updates
            # the event with it later.
            due = self.now() + timedelta(seconds=delay)
            self._late_meetings.append((due, event.owner_id, event.id))
        else:
            meetings.attach_meeting(event, meetings.teams_join_url())

    def provision_due_meetings(self) -> None:
        """Late Teams meetings whose time has come reach their event and its copies."""
        if not self._late_meetings:
            return
        with self.lock:
            now = self.now()
            due = [item for item in self._late_meetings if item[0] <= now]
            self._late_meetings = [item for item in self._late_meetings if item[0] > now]
            for _, owner_id, event_id in due:
                box = self._mailboxes.get(owner_id)
                event = box.events.get(event_id) if box is not None else None
                if event is None or event.join_url:
                    continue
                join_url = meetings.teams_join_url()
                for copy_event in self.events_with_ical_uid(event.ical_uid):
                    meetings.attach_meeting(copy_event, join_url)
                    self.touch(copy_event, "updated")


def _check_span(start: datetime, end: datetime) -> None:
    if end < start:
        raise GraphError(
            400, "ErrorInvalidRequest", "The end time of the event must be after its start time."
        )


def _apply_plain(event: Event, body: dict[str, Any]) -> None:
    for name in payload.PLAIN & set(body):
        value = body[name]
        if name == "body":
            value = {
                "contentType": (value or {}).get("contentType") or "text",
                "content": (value or {}).get("content") or "",
            }
        elif name == "location":
            value = meetings.full_location(value)
            if "locations" not in body:
                event.props["locations"] = [value] if value.get("displayName") else []
        elif name == "locations":
            value = [meetings.full_location(item) for item in value or []]
        elif value is None:
            value = copy.deepcopy(payload.DEFAULTS.get(name))
        event.props[name] = copy.deepcopy(value)


def _apply_extended(event: Event, raw: Any) -> None:
    for prop_id, value in payload.parse_extended_properties(raw):
        key = prop_id.lower()
        first_id = event.extended.get(key, (prop_id, ""))[0]
        event.extended[key] = (first_id, value)
