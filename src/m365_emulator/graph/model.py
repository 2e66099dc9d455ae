"""What a mailbox holds: events (one calendar), meeting messages, and the ids Outlook gives them."""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Exchange reports "never" as the year 1 (responseStatus.time of someone who has not answered).
NEVER = "0001-01-01T00:00:00Z"

# Outlook REST ids are base64url; events start with "AAMk" (a mailbox item).
_ID_SHAPE = re.compile(r"^AAMk[A-Za-z0-9_\-+/=]{8,}$")


def new_item_id() -> str:
    return "AAMkA" + base64.urlsafe_b64encode(os.urandom(33)).decode("ascii")


def new_change_key() -> str:
    return base64.b64encode(os.urandom(12)).decode("ascii")


def new_ical_uid() -> str:
    # Exchange's iCalUId: a fixed 040000008200E00074C5B7101A82E008 prefix, then random hex.
    return "040000008200E00074C5B7101A82E00800000000" + os.urandom(28).hex().upper()


def calendar_id_for(user_id: str) -> str:
    """Each mailbox has one default calendar whose id never changes."""
    raw = user_id.replace("-", "").encode("ascii")
    return "AAMkAGCal" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def looks_like_item_id(value: str) -> bool:
    return bool(_ID_SHAPE.match(value))


@dataclass
class Attendee:
    address: str
    name: str
    type: str = "required"
    response: str = "none"
    response_time: datetime | None = None

    @property
    def key(self) -> str:
        return self.address.lower()


@dataclass
class Event:
    id: str
    owner_id: str
    calendar_id: str
    ical_uid: str
    created: datetime
    modified: datetime
    change_key: str
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    start_zone: str
    end_zone: str
    organizer_name: str
    organizer_address: str
    is_organizer: bool
    # The owner's own answer: "organizer" for the organizer, "notResponded" until an
    # attendee answers.
    response: str
    response_time: datetime | None = None
    # Writable Graph properties kept in their JSON form (subject, body, location, showAs, ...).
    props: dict[str, Any] = field(default_factory=dict)
    attendees: list[Attendee] = field(default_factory=list)
    is_cancelled: bool = False
    is_online_meeting: bool = False
    online_meeting_provider: str = "unknown"
    join_url: str | None = None
    transaction_id: str | None = None
    # Single-value extended properties by lower-cased id: (id as first given, value).
    extended: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Position in the mailbox's change journal (drives delta queries).
    seq: int = 0
    # Recurrence (graph/series.py): eventType, the rule of a series master, and for an
    # occurrence or exception its master's id and original start. A master remembers the
    # original starts of the occurrences cancelled or deleted from its series.
    type: str = "singleInstance"
    recurrence: dict[str, Any] | None = None
    series_master_id: str | None = None
    original_start: datetime | None = None
    cancelled_starts: set[datetime] = field(default_factory=set)

    @property
    def subject(self) -> str:
        return str(self.props.get("subject") or "")

    def attendee(self, address: str) -> Attendee | None:
        wanted = address.lower()
        return next((a for a in self.attendees if a.key == wanted), None)


@dataclass
class MeetingMessage:
    """An eventMessage in a mailbox's inbox: request, update, cancellation or response."""

    id: str
    owner_id: str
    # meetingMessageType: meetingRequest, meetingCancelled, meetingAccepted,
    # meetingTenativelyAccepted (sic, as in Graph's enum) or meetingDeclined.
    meeting_message_type: str
    subject: str
    comment: str
    sender_name: str
    sender_address: str
    to: list[tuple[str, str]]
    received: datetime
    ical_uid: str
    start: datetime
    end: datetime
    location: str
    # For requests: newMeetingRequest or fullUpdate. For responses: the responseType.
    meeting_request_type: str | None = None
    response_type: str | None = None
    event_id: str | None = None
    change_key: str = field(default_factory=new_change_key)
    is_read: bool = False
    # The eventType it concerns (a whole series, one occurrence ...) and the series' rule.
    event_type: str = "singleInstance"
    recurrence: dict[str, Any] | None = None
