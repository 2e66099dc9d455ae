"""Double-booking warnings: who is busy in Outlook at an event's time, before it is saved.

Outlook's free/busy (``calendar/getSchedule``) is asked for the people who must be there
(co-organizers, presenters), the room, or the person enrolling: 20 addresses per request (Graph's
limit), every request of one check sent at once as one JSON batch, each covering the span of all
sessions (at most 62 days per request), so a series of 10 sessions and 21 addresses costs one
round trip. Each session is then compared with the busy items locally.

Only who is busy and how (busy, tentative, out of office, working elsewhere) is kept: never what
or where, so nobody's private details reach the page. A warning never blocks saving, and the
check never holds the form for long: past ``FREE_BUSY_SECONDS`` (or on any failure) the answer is
"the check could not be made".

Access: in organizer mode through the asking organizer's own Outlook connection (delegated
Calendars.ReadWrite covers getSchedule); in platform mode through the service mailbox with the
application permission (Calendars.Read or Calendars.ReadWrite).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import close_old_connections, connection

from convene.accounts.models import User
from convene.outlook.mailboxes import connections, platform
from convene.outlook.microsoft.errors import MicrosoftError
from convene.outlook.microsoft.graph import (
    MAX_BATCH,
    MAX_SCHEDULES,
    Call,
    GraphClient,
    schedule_information,
)
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import Mode, OutlookSettings

# The longest the form waits for Outlook's answer.
FREE_BUSY_SECONDS = 2.0
MAX_WINDOW = timedelta(days=62)
WARN_STATES = {
    "busy": "busy",
    "tentative": "tentatively booked",
    "oof": "out of office",
    "workingElsewhere": "working elsewhere",
}


@dataclass(frozen=True)
class Attendee:
    email: str
    label: str  # how the page names them (a person's name, a room's name)


@dataclass(frozen=True)
class Clash:
    label: str
    state: str  # words: "busy", "out of office", ...
    session: int  # 0-based index of the session that clashes


@dataclass
class Check:
    """What the page shows: the clashes, whose calendars could not be read, or that the
    whole check could not be made."""

    clashes: list[Clash] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    failed: bool = False
    sessions: int = 1

    def sessions_of(self, label: str) -> list[int]:
        return sorted({c.session for c in self.clashes if c.label == label})


def client_for(asker: User, outlook: OutlookSettings) -> GraphClient | None:
    """Whose access asks: the service mailbox's (platform mode) or the asker's own."""
    registration = AppRegistration.from_settings()
    if not outlook.enabled:
        return None
    if outlook.mode == Mode.PLATFORM:
        if not outlook.service_mailbox:
            return None
        mailbox = outlook.service_mailbox.lower()
        return platform.client(
            registration.for_platform(),
            mailbox,
            platform.tenant_for(mailbox, outlook),
            max_wait=1.0,
        )
    found = connections.usable_connection(asker.pk)
    return connections.client(registration, found) if found is not None else None


@dataclass(frozen=True)
class Itself:
    """The event being edited as Outlook already has it: its own invitation (or room booking)
    is not a clash. Known by subject and times, the only things free/busy tells."""

    subject: str
    start: datetime
    end: datetime


def check(
    client: GraphClient,
    attendees: Sequence[Attendee],
    sessions: Sequence[tuple[datetime, datetime]],
    *,
    itself: Itself | None = None,
    limit: float = FREE_BUSY_SECONDS,
) -> Check:
    """Ask Outlook, within ``limit`` seconds, who is busy during any of the sessions."""
    if not attendees or not sessions:
        return Check(sessions=len(sessions))
    result: list[Check] = []

    def run() -> None:
        try:
            result.append(_check(client, attendees, sessions, itself))
        except (MicrosoftError, ValueError):
            result.append(Check(failed=True, sessions=len(sessions)))
        finally:
            connection.close()

    close_old_connections()
    worker = threading.Thread(target=run, name="free-busy", daemon=True)
    worker.start()
    worker.join(limit)
    if not result:
        return Check(failed=True, sessions=len(sessions))
    return result[0]


def _check(
    client: GraphClient,
    attendees: Sequence[Attendee],
    sessions: Sequence[tuple[datetime, datetime]],
    itself: Itself | None,
) -> Check:
    first = min(s for s, _ in sessions)
    last = max(e for _, e in sessions)
    windows = _windows(first, last)
    chunks = [attendees[i : i + MAX_SCHEDULES] for i in range(0, len(attendees), MAX_SCHEDULES)]
    calls = [
        (chunk, Call.get_schedule([a.email for a in chunk], start, end, 30))
        for chunk in chunks
        for start, end in windows
    ]
    answers: list[tuple[Sequence[Attendee], list[dict[str, object]]]] = []
    for start in range(0, len(calls), MAX_BATCH):
        part = calls[start : start + MAX_BATCH]
        if len(part) == 1:
            answers.append((part[0][0], schedule_information(client.call(part[0][1]))))
            continue
        for (chunk, _), outcome in zip(part, client.batch([c for _, c in part]), strict=True):
            if isinstance(outcome, MicrosoftError):
                raise outcome
            answers.append((chunk, schedule_information(outcome)))
    found = Check(sessions=len(sessions))
    seen: set[tuple[str, str, int]] = set()
    unreadable: set[str] = set()
    for chunk, infos in answers:
        by_email = {str(i.get("scheduleId") or "").lower(): i for i in infos}
        for attendee in chunk:
            info = by_email.get(attendee.email.lower())
            if info is None or "error" in info:
                unreadable.add(attendee.label)
                continue
            items = info.get("scheduleItems")
            for item in items if isinstance(items, list) else []:
                state = WARN_STATES.get(str(item.get("status")))
                busy_from, busy_to = _instant(item.get("start")), _instant(item.get("end"))
                if state is None or busy_from is None or busy_to is None:
                    continue
                if itself is not None and (item.get("subject"), busy_from, busy_to) == (
                    itself.subject,
                    itself.start,
                    itself.end,
                ):
                    continue
                for number, (s_start, s_end) in enumerate(sessions):
                    key = (attendee.label, state, number)
                    if busy_from < s_end and busy_to > s_start and key not in seen:
                        seen.add(key)
                        found.clashes.append(Clash(attendee.label, state, number))
    found.unreadable = sorted(unreadable)
    found.clashes.sort(key=lambda c: (c.session, c.label))
    return found


def _windows(first: datetime, last: datetime) -> list[tuple[datetime, datetime]]:
    windows = []
    start = first
    while start < last:
        end = min(start + MAX_WINDOW, last)
        windows.append((start, end))
        start = end
    return windows


def _instant(value: object) -> datetime | None:
    """A dateTimeTimeZone Convene asked for in UTC (getSchedule answers in UTC by default)."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        return None
    text = value["dateTime"]
    try:
        moment = datetime.fromisoformat(text.partition(".")[0])
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
