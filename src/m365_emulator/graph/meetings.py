"""Meetings as Exchange runs them: invitations, updates, cancellations and responses.

The organizer's event is the master. Each attendee with a mailbox in any seeded tenant gets a
copy (same iCalUId, its own id) and a meeting message; attendees without a mailbox stay on the
organizer's event only (external people). All functions here run under the store's lock.
"""

from __future__ import annotations

import copy
import functools
import html
import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from m365_emulator.graph import places, serialize, series
from m365_emulator.graph.model import (
    Attendee,
    Event,
    MeetingMessage,
    new_change_key,
    new_item_id,
)

if TYPE_CHECKING:
    from m365_emulator.directory import User
    from m365_emulator.graph.store import GraphStore

# Properties that concern only the owner's own copy: changing them sends nobody an update.
PERSONAL = frozenset(
    {
        "categories",
        "isReminderOn",
        "reminderMinutesBeforeStart",
        "singleValueExtendedProperties",
        "showAs",
        "transactionId",
    }
)
# Properties an attendee's copy takes from the organizer's event.
SHARED = (
    "subject",
    "body",
    "location",
    "locations",
    "importance",
    "sensitivity",
    "isAllDay",
    "responseRequested",
    "allowNewTimeProposals",
    "hideAttendees",
)

RESPONSE_MESSAGES = {
    "accepted": ("meetingAccepted", "Accepted"),
    "tentativelyAccepted": ("meetingTenativelyAccepted", "Tentative"),
    "declined": ("meetingDeclined", "Declined"),
}


@dataclass(frozen=True)
class Snapshot:
    """What an organizer's event looked like before an update."""

    start: datetime
    end: datetime
    attendee_keys: frozenset[str]

    @classmethod
    def of(cls, event: Event) -> Snapshot:
        return cls(event.start, event.end, frozenset(a.key for a in event.attendees))

    def times_differ(self, event: Event) -> bool:
        return (self.start, self.end) != (event.start, event.end)


def teams_join_url() -> str:
    thread = os.urandom(16).hex()
    return f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0"


# Outlook's Teams block: a separator line, the heading, the join link, the meeting id and the
# dial-in, between the event's own text and the end of its HTML body. (The wording and layout
# are the emulator's own; the elements are those real Outlook bodies show.)
_SEPARATOR = (
    '<div style="width:100%"><span style="white-space:nowrap;color:#5f5f5f;opacity:.36">'
    + "_" * 80
    + "</span></div>"
)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def join_block(join_url: str) -> str:
    """The HTML Outlook adds to an event's body when its Teams meeting is made."""
    info = serialize.online_meeting_info(join_url)
    conference = info["conferenceId"]
    meeting_id = " ".join(conference[i : i + 3] for i in range(0, len(conference), 3))
    link = html.escape(join_url, quote=True)
    return (
        '\r\n<div class="teams-meeting-block" style="margin-top:24px">\r\n'
        f"{_SEPARATOR}\r\n"
        '<div style="margin:12px 0"><span style="font-size:24px;font-weight:600">'
        "Microsoft Teams meeting</span></div>\r\n"
        f'<div style="margin-bottom:6px"><a href="{link}" title="Meeting join link" '
        'target="_blank">Join the meeting now</a></div>\r\n'
        f"<div>Meeting ID: {meeting_id}</div>\r\n"
        f"<div>Dial in by phone: {info['tollNumber']}, conference ID {conference}#</div>\r\n"
        f"{_SEPARATOR}\r\n</div>\r\n"
    )


def attach_meeting(event: Event, join_url: str) -> None:
    """The Teams meeting reaches the event: its join link, and Outlook's block in the body."""
    event.join_url = join_url
    body = serialize.body_as(event.props.get("body") or {}, "html")["content"]
    if not body:
        body = serialize.body_as({"contentType": "html", "content": " "}, "html")["content"]
    ends = list(_BODY_END.finditer(body))
    block = join_block(join_url)
    if ends:
        body = body[: ends[-1].start()] + block + body[ends[-1].start() :]
    else:
        body += block
    event.props["body"] = {"contentType": "html", "content": body}


def keeps_meeting(event: Event) -> bool:
    """Whether the event's body still holds its Teams meeting's join link (event-update: a
    body written without Outlook's meeting blob disables the online meeting)."""
    if not event.join_url:
        return True
    content = str((event.props.get("body") or {}).get("content") or "")
    return event.join_url in html.unescape(content)


def drop_meeting(event: Event) -> None:
    event.is_online_meeting = False
    event.online_meeting_provider = "unknown"
    event.join_url = None


def full_location(value: Any) -> dict[str, Any]:
    """A location as Outlook returns it, with the defaults it fills in."""
    given = dict(value or {})
    location: dict[str, Any] = {"displayName": "", "locationType": "default"}
    location.update(given)
    if location.get("displayName") and not location.get("uniqueId"):
        location["uniqueId"] = location["displayName"]
        location.setdefault("uniqueIdType", "private")
    location.setdefault("uniqueIdType", "unknown")
    location.setdefault("address", {})
    location.setdefault("coordinates", {})
    return location


def merge_statuses(old: list[Attendee], new: list[Attendee]) -> list[Attendee]:
    """The new attendee list, keeping the answers of people who stay on it."""
    previous = {a.key: a for a in old}
    for attendee in new:
        kept = previous.get(attendee.key)
        if kept is not None:
            attendee.response, attendee.response_time = kept.response, kept.response_time
    return new


def recipients(attendees: list[Attendee], owner: User) -> int:
    """The recipients of one meeting message to ``attendees`` (the sender is not one)."""
    return sum(1 for a in attendees if a.key != owner.upn.lower())


def update_messages(
    event: Event, new_attendees: list[Attendee] | None, changed: set[str], owner: User
) -> list[int]:
    """The messages (recipients of each) an organizer's update sends, as
    ``propagate_update`` sends them: cancellations to who left, invitations to who joined, and
    an update to who stays unless only attendees (or personal settings) changed."""
    if not event.attendees and not new_attendees:
        return []
    before = {a.key: a for a in event.attendees}
    after = {a.key: a for a in new_attendees} if new_attendees is not None else before
    removed = [a for key, a in before.items() if key not in after]
    added = [a for key, a in after.items() if key not in before]
    stayed = [a for key, a in after.items() if key in before]
    messages = [recipients(removed, owner), recipients(added, owner)]
    if changed - PERSONAL - {"attendees"}:
        messages.append(recipients(stayed, owner))
    return messages


def invite(store: GraphStore, master: Event, attendees: list[Attendee]) -> None:
    """Send the meeting request to each attendee: through the transport (delivered after the
    request is answered, before anyone uses that mailbox), to a room at once (its booking
    attendant answers within the request, as the emulator has always modelled it)."""
    for attendee in attendees:
        user = _mailbox_user(store, master, attendee)
        if user is None:
            continue
        if user.room is not None:
            _deliver_invitation(store, master, user)
        else:
            store.transport.post(
                user.id, functools.partial(_deliver_invitation, store, master, user)
            )


def _deliver_invitation(store: GraphStore, master: Event, user: User) -> None:
    copy_event = _copy_for(store, master, user)
    _send(store, master, user, "meetingRequest", copy_event, request_type="newMeetingRequest")
    places.answer_invitation(store, user, copy_event)


def propagate_update(store: GraphStore, master: Event, before: Snapshot, changed: set[str]) -> None:
    now_keys = {a.key for a in master.attendees}
    added = [a for a in master.attendees if a.key not in before.attendee_keys]
    removed_keys = before.attendee_keys - now_keys
    if removed_keys:
        removed = [Attendee(address=key, name=key) for key in sorted(removed_keys)]
        cancel_for(store, master, removed, comment="")
    if added:
        invite(store, master, added)
    # An update carrying only attendees (and personal settings) reaches only who changed.
    if not (changed - PERSONAL - {"attendees"}):
        return
    for attendee in master.attendees:
        if attendee.key not in before.attendee_keys:
            continue
        user = _mailbox_user(store, master, attendee)
        if user is None:
            continue
        moved = before.times_differ(master)
        copy_event = _copy_for(store, master, user, reset_response=moved)
        _send(store, master, user, "meetingRequest", copy_event, request_type="fullUpdate")
        if moved:
            # A room answers a new time again (its answer was reset with the move).
            places.answer_invitation(store, user, copy_event)


def cancel_for(store: GraphStore, master: Event, attendees: list[Attendee], comment: str) -> None:
    for attendee in attendees:
        user = _mailbox_user(store, master, attendee)
        if user is None:
            continue
        box = store.mailbox_by_id(user.id)
        copy_id = box.by_ical_uid.get(master.ical_uid)
        copy_event = box.events.get(copy_id) if copy_id else None
        if copy_event is not None and not copy_event.is_cancelled:
            copy_event.is_cancelled = True
            subject = copy_event.subject
            if not subject.startswith("Canceled: "):
                copy_event.props["subject"] = f"Canceled: {subject}"
            store.touch(copy_event, "updated")
            series.cancel_exceptions(store, copy_event)
        _send(store, master, user, "meetingCancelled", copy_event, comment=comment)


def cancel_occurrence(store: GraphStore, occurrence: Event, comment: str) -> None:
    """One occurrence leaves its series; an organizer's attendees lose it too and are told."""
    series.remove_occurrence(store, occurrence)
    if not occurrence.is_organizer:
        return
    for attendee in occurrence.attendees:
        user = _mailbox_user(store, occurrence, attendee)
        if user is None:
            continue
        box = store.mailbox_by_id(user.id)
        copy_event = series.counterpart(store, occurrence, box, make_exception=False)
        if copy_event is not None:
            series.remove_occurrence(store, copy_event)
        _send(store, occurrence, user, "meetingCancelled", None, comment=comment)


def record_response(
    store: GraphStore, copy_event: Event, attendee: User, comment: str, send_response: bool
) -> None:
    """Carry an attendee's answer to the organizer's event (and inbox, when sent)."""
    organizer = store.backend.user(copy_event.organizer_address)
    if organizer is None:
        return
    box = store.mailbox_by_id(organizer.id)
    # An answer to one occurrence makes it an exception in the organizer's calendar too.
    master = series.counterpart(store, copy_event, box)
    if master is not None:
        entry = master.attendee(attendee.upn)
        if entry is not None:
            entry.response, entry.response_time = copy_event.response, copy_event.response_time
            store.touch(master, "updated")
            if master.type == "seriesMaster":
                series.answer_series(
                    store, master, copy_event.response, copy_event.response_time, attendee.upn
                )
    if send_response:
        kind, prefix = RESPONSE_MESSAGES[copy_event.response]
        store.deliver(
            MeetingMessage(
                id=new_item_id(),
                owner_id=organizer.id,
                meeting_message_type=kind,
                subject=f"{prefix}: {copy_event.subject}",
                comment=comment,
                sender_name=attendee.display_name,
                sender_address=attendee.upn,
                to=[(organizer.display_name, organizer.upn)],
                received=store.now(),
                ical_uid=copy_event.ical_uid,
                start=copy_event.start,
                end=copy_event.end,
                location=str((copy_event.props.get("location") or {}).get("displayName") or ""),
                response_type=copy_event.response,
                event_id=master.id if master is not None else None,
                event_type=copy_event.type,
            )
        )


# ----- helpers -----------------------------------------------------------------------------


def visible_attendees(store: GraphStore, master: Event, user: User) -> list[Attendee]:
    """The attendees ``user`` sees on the meeting: all of them, or with ``hideAttendees`` only
    themselves (Graph: each attendee sees only themselves in the meeting request and in the
    meeting's Tracking list; the organizer is a property of its own)."""
    if not master.props.get("hideAttendees"):
        return list(master.attendees)
    own = user.upn.lower()
    mine = [a for a in master.attendees if a.key == own]
    if not mine:  # invited under an alias
        mine = [a for a in master.attendees if store.backend.user(a.address) is user]
    return mine


def _mailbox_user(store: GraphStore, master: Event, attendee: Attendee) -> User | None:
    user = store.backend.user(attendee.address)
    if user is None or not user.has_mailbox or user.id == master.owner_id:
        return None
    return user


def _copy_for(store: GraphStore, master: Event, user: User, reset_response: bool = True) -> Event:
    """Create or refresh ``user``'s copy of the meeting."""
    box = store.mailbox_by_id(user.id)
    existing = series.counterpart(store, master, box)
    attendees = [
        Attendee(a.address, a.name, a.type) for a in visible_attendees(store, master, user)
    ]
    if existing is None:
        now = store.now()
        event = Event(
            id=new_item_id(),
            owner_id=user.id,
            calendar_id=box.calendar_id,
            ical_uid=master.ical_uid,
            created=now,
            modified=now,
            change_key=new_change_key(),
            start=master.start,
            end=master.end,
            start_zone=master.start_zone,
            end_zone=master.end_zone,
            organizer_name=master.organizer_name,
            organizer_address=master.organizer_address,
            is_organizer=False,
            response="notResponded",
            props=copy.deepcopy(master.props),
            attendees=attendees,
            is_online_meeting=master.is_online_meeting,
            online_meeting_provider=master.online_meeting_provider,
            join_url=master.join_url,
        )
        event.props["categories"] = []
        series.follow(store, master, event)
        store.add_event(event)
        return event
    old_props = copy.deepcopy(existing.props)
    for name in SHARED:
        if name in master.props:
            existing.props[name] = copy.deepcopy(master.props[name])
    series.follow(store, master, existing)
    series.carry(store, existing, old_props)
    existing.start, existing.end = master.start, master.end
    existing.start_zone, existing.end_zone = master.start_zone, master.end_zone
    existing.attendees = attendees
    existing.is_online_meeting = master.is_online_meeting
    existing.online_meeting_provider = master.online_meeting_provider
    existing.join_url = master.join_url
    if existing.is_cancelled or reset_response:
        existing.response, existing.response_time = "notResponded", None
    existing.is_cancelled = False
    store.touch(existing, "updated")
    return existing


def _send(
    store: GraphStore,
    master: Event,
    user: User,
    kind: str,
    copy_event: Event | None,
    *,
    request_type: str | None = None,
    comment: str = "",
) -> None:
    subject = master.subject
    if kind == "meetingCancelled":
        subject = f"Canceled: {subject}"
    elif request_type == "fullUpdate":
        subject = f"Updated: {subject}"
    store.deliver(
        MeetingMessage(
            id=new_item_id(),
            owner_id=user.id,
            meeting_message_type=kind,
            subject=subject,
            comment=comment,
            sender_name=master.organizer_name,
            sender_address=master.organizer_address,
            to=[(a.name, a.address) for a in visible_attendees(store, master, user)],
            received=store.now(),
            ical_uid=master.ical_uid,
            start=master.start,
            end=master.end,
            location=str((master.props.get("location") or {}).get("displayName") or ""),
            meeting_request_type=request_type,
            event_id=copy_event.id if copy_event is not None else None,
            event_type=master.type,
            recurrence=copy.deepcopy(master.recurrence),
        )
    )
