"""Pure translations between Convene and Graph: no database, no network, easy to test fully.

- ``EventSnapshot``: what Convene wants the Outlook copy of one event to be.
- ``event_payload``: that snapshot as Graph event JSON.
- ``changed_properties``: the part of a payload that differs from what Outlook last accepted,
  i.e. the body of the smallest PATCH.
- ``replies`` / ``drifted_properties``: reading Outlook's copy back: each attendee's answer, and
  which of the properties Convene owns were changed in Outlook.
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import nh3
from tzlocal.windows_tz import tz_win, win_tz

JSON = dict[str, Any]

# Tags each Outlook event with the Convene event it mirrors, so it can be found again by a
# query even if every id we stored were lost. A named MAPI property in Convene's own GUID space.
CONVENE_EVENT_PROPERTY = "String {6f1c5e0a-6c3b-4d8e-9a51-0c0e7e5d2b11} Name ConveneEventId"

# transactionId namespace: the same event and generation always give the same id, so a create
# retried after a timeout returns the event Microsoft already made instead of a second one.
_TRANSACTION_NAMESPACE = uuid.UUID("a4f1f0a2-3c55-4b3e-8b0e-2f3f6f1d9c41")


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    role: str  # "organizer", "presenter" or "attendee", as in Convene; "room" for a room


@dataclass(frozen=True)
class SessionSnapshot:
    """One session of a series that differs from the series in Outlook: an exception, or a
    cancelled occurrence (with the organizer's message)."""

    on: date  # the session's local date under the rule: which occurrence it is
    start: datetime
    end: datetime
    location: str
    description: str
    is_cancelled: bool = False
    message: str = ""


@dataclass(frozen=True)
class EventSnapshot:
    event_id: int
    title: str
    description: str
    start: datetime  # aware
    end: datetime  # aware
    timezone: str  # IANA name, the event's own zone
    location: str
    teams_meeting: bool  # Outlook makes a Teams meeting for it (an own link goes in the body)
    is_cancelled: bool
    url: str  # absolute link to the event's page in Convene
    organizer_name: str
    owner_email: str  # the mailbox the event lives in; never listed as its own attendee
    people: tuple[Person, ...]
    show_organizer_in_body: bool = False  # platform calendar: the mailbox is not the organizer
    # A series: Graph's patternedRecurrence (the master's), and the sessions that differ.
    recurrence: JSON | None = None
    sessions: tuple[SessionSnapshot, ...] = ()


def transaction_id(event_id: int, generation: int) -> str:
    return str(uuid.uuid5(_TRANSACTION_NAMESPACE, f"convene-event:{event_id}:{generation}"))


def event_payload(snapshot: EventSnapshot) -> JSON:
    """The Outlook event as Convene wants it; deterministic, so equal snapshots compare equal."""
    payload: JSON = {
        "subject": snapshot.title,
        "body": {"contentType": "html", "content": _body_html(snapshot)},
        "start": graph_date_time(snapshot.start, snapshot.timezone),
        "end": graph_date_time(snapshot.end, snapshot.timezone),
        "location": {"displayName": snapshot.location},
        "isOnlineMeeting": snapshot.teams_meeting,
        "attendees": _attendees(snapshot),
    }
    if snapshot.teams_meeting:
        payload["onlineMeetingProvider"] = "teamsForBusiness"
    if snapshot.recurrence is not None:
        payload["recurrence"] = snapshot.recurrence
    return payload


# Master properties whose change makes Outlook drop every exception and cancelled occurrence
# of the series (it warns that exceptions are lost when a series' pattern or time changes).
RESETS_EXCEPTIONS = frozenset({"start", "end", "recurrence"})


def session_payloads(snapshot: EventSnapshot) -> dict[str, JSON]:
    """Per session that differs (by ISO date), what its occurrence should be: the full set of
    properties a session may change, or ``{"isCancelled": True, "comment": ...}``."""
    return {
        session.on.isoformat(): session_payload(snapshot, session) for session in snapshot.sessions
    }


def session_payload(snapshot: EventSnapshot, session: SessionSnapshot) -> JSON:
    if session.is_cancelled:
        return {"isCancelled": True, "comment": session.message}
    payload: JSON = {
        "start": graph_date_time(session.start, snapshot.timezone),
        "end": graph_date_time(session.end, snapshot.timezone),
        "location": {"displayName": session.location},
    }
    if not snapshot.teams_meeting:
        # A Teams series' sessions share the master's meeting and text: an occurrence's body
        # is never sent, because a body written without Outlook's Teams join block loses the
        # meeting for that occurrence (event-update: keep the online meeting blob).
        payload["body"] = {
            "contentType": "html",
            "content": _body_html(replace(snapshot, description=session.description)),
        }
    return payload


def create_payload(snapshot: EventSnapshot, generation: int) -> JSON:
    """The first push: the event plus what is set once and never changed afterwards."""
    return {
        **event_payload(snapshot),
        "transactionId": transaction_id(snapshot.event_id, generation),
        # Convene owns the time; proposals would only be ignored.
        "allowNewTimeProposals": False,
        "responseRequested": True,
        "singleValueExtendedProperties": [
            {"id": CONVENE_EVENT_PROPERTY, "value": str(snapshot.event_id)}
        ],
    }


# Moving a meeting (its time, its zone, its recurrence) clears every attendee's answer in
# Outlook, as in Exchange: such a change must not go out before Convene has read the answers.
ANSWER_CLEARING = frozenset(
    {"start", "end", "recurrence", "originalStartTimeZone", "originalEndTimeZone"}
)


def clears_answers(changes: JSON) -> bool:
    """Whether sending these changed properties clears the attendees' answers."""
    return not ANSWER_CLEARING.isdisjoint(changes)


def accepted_from(found: JSON, desired: JSON) -> JSON:
    """The part of ``desired`` an Outlook copy already holds, in meaning: what Convene may
    take as accepted for a copy it created but never heard back about, so that only the rest
    is sent again."""
    drifted = set(drifted_properties(desired, found))
    accepted: JSON = {}
    for name, value in desired.items():
        if name in OWNED_PROPERTIES:
            if name not in drifted and found.get(name) is not None:
                accepted[name] = value
        elif found.get(name) == value:
            accepted[name] = value
    return accepted


def changed_properties(last_accepted: JSON, desired: JSON) -> JSON:
    """Properties whose desired value differs from what Outlook last accepted.

    A property Convene stopped sending (``onlineMeetingProvider`` when an event stops being a
    Teams meeting) is not unset: Graph ignores changes to it once an online meeting exists.
    """
    return {name: value for name, value in desired.items() if last_accepted.get(name) != value}


# --- helpers ------------------------------------------------------------------------------


def windows_zone(iana_name: str) -> str | None:
    """The Windows time zone id CLDR gives an IANA zone (``Europe/Amsterdam`` -> ``W. Europe
    Standard Time``); None for the few zones Windows has no id for (``Antarctica/Troll``)."""
    return tz_win.get(iana_name)


def graph_date_time(moment: datetime, iana_name: str) -> JSON:
    """A dateTimeTimeZone Graph accepts for an instant in the event's IANA zone.

    Graph takes every Windows zone id but only about a hundred IANA names (any other answers
    400 TimeZoneNotSupportedException), so the zone goes out as its Windows id: local wall time
    in the event's own zone keeps the time right across DST changes and shows the organizer's
    zone in Outlook. The wall time is computed with the rules CLDR gives that Windows id, so the
    instant is exact even where a zone's own rules have drifted from its Windows zone's. A zone
    without a Windows id goes out in UTC: the instant is still exact.
    """
    windows = windows_zone(iana_name)
    rules = ZoneInfo(win_tz[windows]) if windows is not None else ZoneInfo("UTC")
    return {
        "dateTime": moment.astimezone(rules).replace(tzinfo=None).isoformat(timespec="seconds"),
        "timeZone": windows or "UTC",
    }


def _attendees(snapshot: EventSnapshot) -> list[JSON]:
    owner = snapshot.owner_email.lower()
    seen: set[str] = set()
    attendees = []
    # Sorted, so the same people always give the same list and no needless PATCH.
    for person in sorted(snapshot.people, key=lambda p: p.email.lower()):
        address = person.email.lower()
        if address == owner or address in seen:
            continue
        seen.add(address)
        attendees.append(
            {
                "emailAddress": {"address": person.email, "name": person.name},
                "type": _attendee_type(person.role),
            }
        )
    return attendees


def _attendee_type(role: str) -> str:
    if role == "room":
        return "resource"  # a room mailbox, answering for itself or through its delegate
    # Presenters and co-organizers must be there; attendees chose to come.
    return "required" if role in ("organizer", "presenter") else "optional"


def _body_html(snapshot: EventSnapshot) -> str:
    paragraphs = [
        f"<p>{html.escape(block).replace(chr(10), '<br>')}</p>"
        for block in snapshot.description.replace("\r\n", "\n").split("\n\n")
        if block.strip()
    ]
    if snapshot.show_organizer_in_body:
        paragraphs.insert(0, f"<p>Organized by {html.escape(snapshot.organizer_name)}</p>")
    link = html.escape(snapshot.url, quote=True)
    paragraphs.append(f'<p>Event page in Convene: <a href="{link}">{link}</a></p>')
    # Everything above is escaped already; the sanitizer is the second lock on the door.
    return nh3.clean("".join(paragraphs), tags={"p", "br", "a"}, attributes={"a": {"href"}})


# --- reading Outlook's copy back ----------------------------------------------------------

# The properties Convene owns: an edit to any of them in Outlook is drift, undone at next sync.
OWNED_PROPERTIES = ("subject", "body", "start", "end", "location", "attendees")

# What an attendee may answer (Graph's responseType); "none" and "notResponded" mean no answer.
ANSWERS = frozenset({"accepted", "tentativelyAccepted", "declined"})

_NO_TIME = "0001-01-01"
_STYLE_OR_HEAD = re.compile(r"<(style|head|script)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Reply:
    """One attendee's answer as the organizer's copy shows it."""

    email: str  # lower case
    response: str  # Graph's responseType
    time: datetime | None  # when they answered (UTC), None when they have not


def replies(graph_event: JSON) -> list[Reply]:
    """Every attendee's answer on an event read from the organizer's (or service) mailbox."""
    found = []
    for attendee in graph_event.get("attendees") or []:
        address = str((attendee.get("emailAddress") or {}).get("address") or "").strip().lower()
        if not address:
            continue
        status = attendee.get("status") or {}
        found.append(
            Reply(
                email=address,
                response=str(status.get("response") or "none"),
                time=_instant(status.get("time")),
            )
        )
    return found


def drifted_properties(last_accepted: JSON, graph_event: JSON) -> list[str]:
    """The owned properties whose value in Outlook differs in meaning from what Convene last
    sent (only those Convene did send).

    Outlook answers in its own forms: times in UTC (not the zone we sent), the body wrapped in
    a full HTML document, locations and attendees with extra fields. So both sides are reduced
    to what a person would see before they are compared.
    """
    drifted = []
    for name in OWNED_PROPERTIES:
        if name not in last_accepted:
            continue
        ours = _meaning(name, last_accepted[name])
        theirs = _meaning(name, graph_event.get(name))
        if ours is None or theirs is None:
            continue
        if name == "body":
            # Outlook adds to bodies itself (the Teams join block of an online meeting): only
            # a body that no longer holds Convene's text has been edited.
            if ours not in theirs:
                drifted.append(name)
        elif name == "attendees":
            # Only the people Convene invited count: someone added in Outlook (a forwarded
            # invitation) or an entry Exchange keeps without an SMTP address (X.500) is left
            # alone, and never makes Convene push its list back.
            if not ours <= theirs:
                drifted.append(name)
        elif ours != theirs:
            drifted.append(name)
    return drifted


# Where a link keeps the attendees Outlook has and Convene did not send (``last_pushed`` is
# Convene's record of the copy): sent along whenever Convene sends its attendee list, which
# replaces Outlook's, so that they stay on the meeting.
OUTLOOK_ONLY_ATTENDEES = "outlookOnlyAttendees"


def outlook_only_attendees(last_accepted: JSON, graph_event: JSON) -> list[JSON]:
    """Attendees of Outlook's copy that Convene did not send (sorted by address): people added
    in Outlook, entries without an SMTP address."""
    sent = {_address(a) for a in last_accepted.get("attendees") or []}
    kept = []
    for attendee in graph_event.get("attendees") or []:
        address = _address(attendee)
        if not address or address in sent:
            continue
        email = attendee.get("emailAddress") or {}
        kept.append(
            {
                "emailAddress": {
                    "address": str(email.get("address") or ""),
                    "name": str(email.get("name") or ""),
                },
                "type": str(attendee.get("type") or "required"),
            }
        )
    return sorted(kept, key=_address)


def with_outlook_only(attendees: list[JSON], last_accepted: JSON) -> list[JSON]:
    """Convene's attendee list plus those kept from Outlook (see ``OUTLOOK_ONLY_ATTENDEES``)."""
    ours = {_address(a) for a in attendees}
    kept = [a for a in last_accepted.get(OUTLOOK_ONLY_ATTENDEES) or [] if _address(a) not in ours]
    return [*attendees, *kept]


def _address(attendee: Any) -> str:
    return str(((attendee or {}).get("emailAddress") or {}).get("address") or "").strip().lower()


def _meaning(name: str, value: Any) -> Any:
    """A comparable form of one owned property; None when it cannot be judged."""
    if name == "subject":
        return str(value or "").strip()
    if name == "body":
        return _body_text(value)
    if name in ("start", "end"):
        return _date_time_zone(value)
    if name == "location":
        return str((value or {}).get("displayName") or "").strip()
    if name == "attendees":
        return frozenset((_address(a), str(a.get("type") or "required")) for a in value or [])
    return value


def _body_text(body: Any) -> str:
    content = str((body or {}).get("content") or "")
    if str((body or {}).get("contentType") or "").lower() == "html":
        content = _TAG.sub(" ", _STYLE_OR_HEAD.sub(" ", content))
        content = html.unescape(content)
    return " ".join(content.split())


def _date_time_zone(value: Any) -> datetime | None:
    """The instant a dateTimeTimeZone names, its zone a Windows id or an IANA name; None for a
    zone this side cannot read (an Exchange custom zone, ``tzone://Microsoft/Custom``)."""
    if not isinstance(value, dict):
        return None
    zone_name = str(value.get("timeZone") or "UTC")
    if zone_name in ("UTC", "Etc/UTC", "tzone://Microsoft/Utc"):
        zone_name = "UTC"
    try:
        zone = ZoneInfo(_WINDOWS_BY_LOWER.get(zone_name.lower(), zone_name))
        local = _parse_local(str(value.get("dateTime") or ""))
    except (ValueError, KeyError):
        return None
    return local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))


# Windows ids are case-insensitive in Exchange; "UTC" is one of them.
_WINDOWS_BY_LOWER = {name.lower(): iana for name, iana in win_tz.items() if name != "UTC"}


def _parse_local(text: str) -> datetime:
    # Graph writes seven fractional digits; Python reads at most six.
    whole, _, fraction = text.partition(".")
    parsed = datetime.fromisoformat(whole)
    if fraction:
        parsed = parsed.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return parsed


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value or value.startswith(_NO_TIME):
        return None
    try:
        parsed = _parse_local(value.rstrip("Z"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=ZoneInfo("UTC"))
