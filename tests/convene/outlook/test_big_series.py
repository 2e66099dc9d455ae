"""A series of more than 500 people, and a Teams meeting of more than 500, against the emulator
in both modes (``outbound.copies``).

A series too big for one Outlook event goes out as several Outlook series (the own copy and
overflow copies). A session changed or cancelled in Convene must reach every copy, through each
copy's own occurrence: every person, whichever copy they are on, then holds the exception and
the cancelled occurrence and received exactly one update and one cancellation. A failure midway
resends only what is missing. A Teams meeting split into copies is one meeting: the overflow
copies carry the own copy's join link and make no meeting of their own.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from tests.world import event_details

from convene.accounts.models import User
from convene.events import series
from convene.events.models import Enrollment, Event
from convene.events.recurrence import Frequency, Rule
from convene.events.timezones import localize
from convene.outlook.models import CalendarLink, OnlineMeeting, OverflowCopy, SyncLogEntry

from .conftest import TEAMS, OutlookWorld, next_local
from .test_big_events import add, census, crowd
from .test_connect_and_sync import ADA
from .test_platform import SERVICE

PEOPLE = 502  # Ada and 501 guests: two copies in either mode


@pytest.fixture(params=["organizer", "platform"])
def platform(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "platform")


def big_series(outlook: OutlookWorld, guests: list[User], title: str, **details: Any) -> Event:
    """Ada's weekly series of six sessions with ``PEOPLE`` people, made in one transaction."""
    local = next_local("Europe/Berlin", 0, 10)
    start = localize(local, "Europe/Berlin")
    with transaction.atomic():
        event = series.create_series(
            event_details(title, start, location="Main hall", **details),
            Rule(Frequency.WEEKLY, weekdays=(local.weekday(),), count=6),
            creator=outlook.people[ADA],
        )
        add(event, guests[: PEOPLE - 1])
    return event


def invitees(event: Event, platform: bool) -> set[str]:
    return {
        email.lower()
        for email in Enrollment.objects.filter(event=event).values_list("user__email", flat=True)
        if platform or email != ADA
    }


def received(found: dict[str, Any]) -> dict[str, Counter[str]]:
    """Per mailbox, its meeting messages by kind (invitation, update, cancellation)."""
    kinds: dict[str, Counter[str]] = {}
    for message in found["messages"]:
        kind = message["requestType"] if message["type"] == "meetingRequest" else message["type"]
        kinds.setdefault(message["mailbox"], Counter())[kind] += 1
    return kinds


def writes(outlook: OutlookWorld) -> Counter[str]:
    counted: dict[str, int] = outlook.stats()["requests"]["byOperation"]
    return Counter(
        {op: n for op, n in counted.items() if op.split(".")[-1] in {"create", "update", "cancel"}}
    )


def check_sessions(
    outlook: OutlookWorld,
    event: Event,
    platform: bool,
    *,
    moved: series.Session,
    cancelled: series.Session,
) -> dict[str, Any]:
    """Every copy, the owner's and each attendee's, holds the moved session as an exception in
    Room 9 and the cancelled one as cancelled; every person got exactly one invitation, one
    update and one cancellation."""
    found = census(outlook, event.title)
    owner = SERVICE if platform else ADA
    people = invitees(event, platform)
    masters = [e for e in found["events"] if e["type"] == "seriesMaster" and not e["isCancelled"]]
    own_masters = [e for e in masters if e["isOrganizer"]]
    assert {e["mailbox"] for e in own_masters} == {owner}
    assert len(own_masters) == 2, "two Outlook series: the own copy and an overflow copy"
    assert {e["mailbox"] for e in masters if not e["isOrganizer"]} == people
    assert Counter(e["mailbox"] for e in masters if not e["isOrganizer"]) == Counter(
        dict.fromkeys(people, 1)
    )
    cancelled_start = cancelled.start.isoformat()
    without = [e["mailbox"] for e in masters if cancelled_start not in e["cancelledStarts"]]
    assert without == [], f"{len(without)} copies still show the cancelled session"
    exceptions = Counter(
        e["mailbox"]
        for e in found["events"]
        if e["type"] == "exception"
        and e["originalStart"] == moved.start.isoformat()
        and e["location"] == "Room 9"
        and not e["isCancelled"]
    )
    missing = (people | {owner}) - set(exceptions)
    assert missing == set(), f"{len(missing)} mailboxes lack the moved session"
    assert exceptions[owner] == 2  # one on each of the owner's copies
    assert {m: n for m, n in exceptions.items() if m != owner and n != 1} == {}
    kinds = received(found)
    expected = Counter({"newMeetingRequest": 1, "fullUpdate": 1, "meetingCancelled": 1})
    wrong = {m: kinds.get(m) for m in people if kinds.get(m) != expected}
    assert wrong == {}, f"{len(wrong)} people got other messages, e.g. {list(wrong.items())[:3]}"
    return found


def test_a_big_series_sends_each_session_change_to_every_copy(
    outlook: OutlookWorld, platform: bool
) -> None:
    guests = crowd(outlook, PEOPLE, platform=platform)
    event = big_series(outlook, guests, "Big weekly")
    outlook.wait_synced(event.pk, timeout=90)
    link = CalendarLink.objects.get(event=event)
    assert OverflowCopy.objects.filter(link=link).count() == 1

    third, second = series.sessions(event)[2], series.sessions(event)[1]
    before = writes(outlook)
    series.change_session(
        event,
        third.on,
        series.SessionDetails(
            third.start + timedelta(hours=2), third.end + timedelta(hours=2), "Room 9", False, ""
        ),
        actor=None,
    )
    outlook.wait_synced(event.pk, timeout=60)
    # One request per copy (the overflow copy's occurrence ids are read first, once).
    assert writes(outlook) - before == Counter({"events.update": 2})

    before = writes(outlook)
    series.cancel_session(event, second.on, actor=None, message="Public holiday")
    outlook.wait_synced(event.pk, timeout=60)
    assert writes(outlook) - before == Counter({"events.cancel": 2})
    check_sessions(outlook, event, platform, moved=third, cancelled=second)
    logged = SyncLogEntry.objects.filter(event=event, action="cancel session", status="ok")
    assert sorted(entry.details.get("copy", 0) for entry in logged) == [0, 1]


def test_a_failure_midway_resends_only_the_missing_sessions(outlook: OutlookWorld) -> None:
    """Outlook refuses the overflow copy's cancellation once, after accepting its session
    change in the same batch: the event stays pending, and the retry sends only the
    cancellation there (then both to the own copy): nobody gets a second update."""
    guests = crowd(outlook, PEOPLE, platform=True)
    event = big_series(outlook, guests, "Refused weekly")
    outlook.wait_synced(event.pk, timeout=90)
    outlook.emulator.control(
        "POST",
        "/faults",
        {"rules": [{"method": "POST", "path": "/cancel$", "status": 503, "count": 1}]},
    ).raise_for_status()

    third, second = series.sessions(event)[2], series.sessions(event)[1]
    with transaction.atomic():  # one push: both sessions at once
        series.change_session(
            event,
            third.on,
            series.SessionDetails(
                third.start + timedelta(hours=2),
                third.end + timedelta(hours=2),
                "Room 9",
                False,
                "",
            ),
            actor=None,
        )
        series.cancel_session(event, second.on, actor=None, message="Public holiday")
    outlook.wait_until(
        lambda: SyncLogEntry.objects.filter(
            event=event, action="cancel session", status="503"
        ).exists()
    )
    outlook.wait_synced(event.pk, timeout=60)

    (rule,) = outlook.emulator.control("GET", "/faults").json()["rules"]
    assert rule["fired"] == 1
    check_sessions(outlook, event, True, moved=third, cancelled=second)
    updates = SyncLogEntry.objects.filter(event=event, action="update session", status="ok")
    assert sorted(entry.details.get("copy", 0) for entry in updates) == [0, 1]


def test_a_big_teams_meeting_is_one_meeting_on_every_copy(outlook: OutlookWorld) -> None:
    """The own copy has the Teams meeting; the overflow copy makes none of its own
    (``isOnlineMeeting`` false) and carries the own copy's join link from its first
    invitation: everyone joins the same meeting, and nobody gets an update bringing it."""
    guests = crowd(outlook, PEOPLE, platform=True)
    event = big_series(outlook, guests, "Big Teams weekly", **TEAMS)
    outlook.wait_synced(event.pk, timeout=90)
    meeting = OnlineMeeting.objects.get(event=event)
    assert meeting.join_url

    found = census(outlook, event.title)
    own = [e for e in found["events"] if e["isOrganizer"] and e["type"] == "seriesMaster"]
    assert len(own) == 2
    online = [e for e in own if e["isOnlineMeeting"]]
    assert [e["joinUrl"] for e in online] == [meeting.join_url], "one Teams meeting only"
    (overflow,) = [e for e in own if not e["isOnlineMeeting"]]
    assert overflow["joinUrl"] is None
    assert meeting.join_url in overflow["body"]
    on_overflow = set(overflow["attendees"])
    copies = [e for e in found["events"] if e["mailbox"] in on_overflow and not e["isOrganizer"]]
    assert len(copies) == len(on_overflow) > 0
    assert all(meeting.join_url in e["body"] and not e["joinUrl"] for e in copies)
    kinds = received(found)
    assert {
        m: kinds.get(m)
        for m in invitees(event, True)
        if kinds.get(m) != Counter({"newMeetingRequest": 1})
    } == {}

    # A changed session of the Teams series keeps the one meeting on the overflow copy too.
    third = series.sessions(event)[2]
    series.change_session(
        event,
        third.on,
        series.SessionDetails(third.start, third.end, "Room 9", False, ""),
        actor=None,
    )
    outlook.wait_synced(event.pk, timeout=60)
    found = census(outlook, event.title)
    exceptions = [e for e in found["events"] if e["type"] == "exception"]
    assert {e["mailbox"] for e in exceptions} >= on_overflow
    assert all(meeting.join_url in e["body"] for e in exceptions if e["mailbox"] in on_overflow)
