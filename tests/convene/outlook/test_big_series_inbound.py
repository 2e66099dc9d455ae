"""Changes to one session made in Outlook on an overflow copy of a big series, against the
emulator in both modes (``inbound.sessions``, ``inbound.delta``).

A series of more than 500 people is several Outlook series: the own copy and overflow copies.
An occurrence of an overflow copy is the same session of the event as the own copy's: the
delta read learns its id onto that copy; a person on that copy declining it will miss the
session (with their comment, the organizer told) and accepting it again undoes that; an
occurrence moved there is put back on that copy alone; an occurrence deleted there cancels the
session in Convene once, and the push then cancels it on the own copy, so everyone gets exactly
one cancellation.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from convene.accounts.models import User
from convene.core.models import Notice
from convene.events import series
from convene.events.models import Event, MissedSession
from convene.outlook.models import (
    CalendarLink,
    CopySeat,
    OutlookSettings,
    OverflowCopy,
    SyncLogEntry,
)

from .conftest import OutlookWorld
from .test_big_events import census, crowd
from .test_big_series import PEOPLE, big_series, invitees, platform, received, writes
from .test_connect_and_sync import ADA
from .test_platform import SERVICE
from .test_series_sync import delta_round, move_series

__all__ = ["platform"]


def owner(platform: bool) -> str:
    return SERVICE if platform else ADA


def overflow_copy(event: Event) -> OverflowCopy:
    (copy,) = OverflowCopy.objects.filter(link__event=event)
    return copy


def occurrences(outlook: OutlookWorld, mailbox: str, master_id: str, event: Event) -> list[Any]:
    """The occurrences of the series ``master_id`` in ``mailbox``, in order."""
    token = outlook.emulator.token_for(mailbox)
    window = {
        "startDateTime": (event.start - timedelta(days=1)).isoformat(),
        "endDateTime": (event.series_rule.last_end + timedelta(days=1)).isoformat(),
    }
    answer = outlook.emulator.graph(
        "GET", f"/me/events/{master_id}/instances", token, params=window
    )
    answer.raise_for_status()
    found: list[Any] = answer.json()["value"]
    return sorted(found, key=lambda o: str(o["start"]["dateTime"]))


def on_overflow(event: Event) -> User:
    """Someone seated on the overflow copy."""
    seat = CopySeat.objects.filter(event=event, part=1).select_related("user").first()
    assert seat is not None
    return seat.user


def attendee_occurrence(outlook: OutlookWorld, person: User, event: Event, number: int) -> str:
    """The ``number``-th occurrence (0-based) of the series in ``person``'s own calendar."""
    (mine,) = [
        e
        for e in outlook.mailbox(person.email)
        if e.get("type") == "seriesMaster" and not e["isCancelled"]
    ]
    return str(occurrences(outlook, person.email, mine["id"], event)[number]["id"])


def answer(outlook: OutlookWorld, person: User, occurrence_id: str, how: str) -> None:
    token = outlook.emulator.token_for(person.email)
    outlook.emulator.graph(
        "POST",
        f"/me/events/{occurrence_id}/{how}",
        token,
        json={"sendResponse": True, "comment": "Dentist"},
    ).raise_for_status()


def known(copy: OverflowCopy) -> dict[str, str]:
    copy.refresh_from_db()
    ids: dict[str, str] = copy.last_pushed.get("occurrences", {})
    return ids


def test_a_session_declined_on_an_overflow_copy_is_a_missed_session(
    outlook: OutlookWorld, platform: bool
) -> None:
    OutlookSettings.load()
    OutlookSettings.objects.filter(pk=1).update(show_decline_comments=True)
    guests = crowd(outlook, PEOPLE, platform=platform, mail_read=True)
    event = big_series(outlook, guests, "Declined weekly")
    outlook.wait_synced(event.pk, timeout=90)
    copy = overflow_copy(event)
    assert known(copy) == {}, "created in one request: no ids read"

    delta_round(outlook, owner(platform))
    ids = known(copy)
    assert len(ids) == 6, "the delta round learned the overflow copy's occurrence ids"
    ours = occurrences(outlook, owner(platform), copy.graph_id, event)
    assert sorted(ids.values()) == sorted(o["id"] for o in ours)
    assert len(CalendarLink.objects.get(event=event).last_pushed["occurrences"]) == 6

    person = on_overflow(event)
    third = series.sessions(event)[2].on
    occurrence = attendee_occurrence(outlook, person, event, 2)
    answer(outlook, person, occurrence, "decline")
    delta_round(outlook, owner(platform))

    assert series.missing_by_session(event) == {third: [person]}
    assert event.enrollment_of(person) is not None, "still enrolled in the series"
    missed = MissedSession.objects.get(enrollment__user=person)
    assert missed.comment == "Dentist"
    entry = SyncLogEntry.objects.get(event=event, status="session", action="declined")
    assert entry.details["session"] == third.isoformat()
    assert entry.details["comment"] == "Dentist"
    notice = Notice.objects.filter(user__email=ADA).latest("pk")
    assert "will miss the session" in notice.text and "Dentist" in notice.text
    outlook.wait_idle()
    before = writes(outlook)

    answer(outlook, person, occurrence, "accept")
    delta_round(outlook, owner(platform))

    assert series.missing_by_session(event) == {}
    assert "after all" in Notice.objects.filter(user__email=ADA).latest("pk").text
    assert writes(outlook) - before == Counter(), "answers send nothing to Outlook"


def test_a_session_moved_on_an_overflow_copy_is_put_back_there_only(
    outlook: OutlookWorld, platform: bool
) -> None:
    guests = crowd(outlook, PEOPLE, platform=platform)
    event = big_series(outlook, guests, "Drifting weekly")
    outlook.wait_synced(event.pk, timeout=90)
    copy = overflow_copy(event)
    delta_round(outlook, owner(platform))
    second = series.sessions(event)[1]
    occurrence = occurrences(outlook, owner(platform), copy.graph_id, event)[1]
    token = outlook.emulator.token_for(owner(platform))
    outlook.emulator.graph(
        "PATCH",
        f"/me/events/{occurrence['id']}",
        token,
        json={"location": {"displayName": "Moved in Outlook"}},
    ).raise_for_status()
    before = writes(outlook)

    delta_round(outlook, owner(platform))
    outlook.wait_synced(event.pk, timeout=60)

    entry = SyncLogEntry.objects.get(event=event, action="drift_overwritten")
    assert entry.details["session"] == second.on.isoformat()
    assert entry.details["copy"] == 1
    assert entry.details["properties"] == ["location"]
    # One request: that copy's occurrence; the own copy never drifted.
    assert writes(outlook) - before == Counter({"events.update": 1})
    fixed = SyncLogEntry.objects.get(event=event, action="update session")
    assert fixed.details["copy"] == 1
    back = occurrences(outlook, owner(platform), copy.graph_id, event)[1]
    assert back["location"]["displayName"] == "Main hall"
    assert len(known(copy)) == 6, "the ids are kept: only the drifted session was sent again"
    assert copy.last_pushed.get("sessions", {}) == {}, "back to the series: no exception kept"
    assert not any(s.is_cancelled for s in series.sessions(event))


def test_a_session_deleted_on_an_overflow_copy_is_cancelled_for_everyone_once(
    outlook: OutlookWorld, platform: bool
) -> None:
    guests = crowd(outlook, PEOPLE, platform=platform)
    event = big_series(outlook, guests, "Deleted weekly")
    outlook.wait_synced(event.pk, timeout=90)
    copy = overflow_copy(event)
    delta_round(outlook, owner(platform))
    fourth = series.sessions(event)[3]
    occurrence = occurrences(outlook, owner(platform), copy.graph_id, event)[3]
    token = outlook.emulator.token_for(owner(platform))
    outlook.emulator.graph("DELETE", f"/me/events/{occurrence['id']}", token).raise_for_status()
    before = writes(outlook)

    delta_round(outlook, owner(platform))
    outlook.wait_synced(event.pk, timeout=60)

    session = series.sessions(event)[3]
    assert session.is_cancelled
    assert session.cancellation_reason == "Deleted from the organizer's Outlook calendar."
    assert [s.is_cancelled for s in series.sessions(event)].count(True) == 1
    (entry,) = SyncLogEntry.objects.filter(event=event, action="session_deleted_in_outlook")
    assert entry.details == {**entry.details, "session": fourth.on.isoformat(), "copy": 1}
    notice = Notice.objects.filter(user__email=ADA).latest("pk")
    assert "overflow copy 1" in notice.text and "cancelled it too" in notice.text
    # Convene cancelled it on the own copy only: the overflow copy's people had Outlook's.
    assert writes(outlook) - before == Counter({"events.cancel": 1})
    cancelled = SyncLogEntry.objects.get(event=event, action="cancel session", status="ok")
    assert cancelled.details.get("copy", 0) == 0

    found = census(outlook, event.title)
    people = invitees(event, platform)
    kinds = received(found)
    expected = Counter({"newMeetingRequest": 1, "meetingCancelled": 1})
    wrong = {m: kinds.get(m) for m in people if kinds.get(m) != expected}
    assert wrong == {}, f"{len(wrong)} people got other messages, e.g. {list(wrong.items())[:3]}"
    masters = [e for e in found["events"] if e["type"] == "seriesMaster" and not e["isCancelled"]]
    still = [e["mailbox"] for e in masters if fourth.start.isoformat() not in e["cancelledStarts"]]
    assert still == [], f"{len(still)} copies still show the deleted session"

    # A second delta round finds nothing more to do.
    before = writes(outlook)
    delta_round(outlook, owner(platform))
    outlook.wait_synced(event.pk, timeout=30)
    assert writes(outlook) - before == Counter()
    assert (
        SyncLogEntry.objects.filter(event=event, action="session_deleted_in_outlook").count() == 1
    )


def test_a_deletion_on_an_overflow_copy_is_found_before_its_ids_are_known(
    outlook: OutlookWorld, platform: bool
) -> None:
    """What a notification does (its read of the deleted occurrence is answered 404) before
    any delta round: no copy knows the id, so each copy reads its occurrences once and the
    session whose date the overflow copy no longer has is cancelled; the ids read are kept."""
    from convene.outlook import tasks
    from convene.outlook.inbound import reconcile

    guests = crowd(outlook, PEOPLE, platform=platform)
    event = big_series(outlook, guests, "Unknown weekly")
    outlook.wait_synced(event.pk, timeout=90)
    copy = overflow_copy(event)
    assert known(copy) == {}
    fourth = series.sessions(event)[3]
    occurrence = occurrences(outlook, owner(platform), copy.graph_id, event)[3]
    token = outlook.emulator.token_for(owner(platform))
    outlook.emulator.graph("DELETE", f"/me/events/{occurrence['id']}", token).raise_for_status()
    counted = outlook.stats()["requests"]["byOperation"]
    reads_before = counted.get("events.instances", 0)
    before = writes(outlook)

    assert reconcile.reconcile(owner(platform), occurrence["id"], tasks.enqueue_sync)
    outlook.wait_synced(event.pk, timeout=60)

    assert series.sessions(event)[3].is_cancelled
    assert [s.is_cancelled for s in series.sessions(event)].count(True) == 1
    counted = outlook.stats()["requests"]["byOperation"]
    assert counted.get("events.instances", 0) - reads_before == 2, "one read per copy"
    assert writes(outlook) - before == Counter({"events.cancel": 1})
    ids = known(copy)
    assert len(ids) == 5 and fourth.on.isoformat() not in ids
    assert copy.last_pushed["sessions"][fourth.on.isoformat()]["isCancelled"]


def test_ids_read_before_an_overflow_copy_moved_are_not_kept(
    outlook: OutlookWorld, platform: bool
) -> None:
    """The staleness guard of the own copy, on an overflow copy: moving the series gives its
    occurrences new ids and notes when; ids a read sent before then showed are not kept, ids
    read after are."""
    from django.utils import timezone

    from convene.outlook import tasks
    from convene.outlook.inbound import sessions

    guests = crowd(outlook, PEOPLE, platform=platform)
    event = big_series(outlook, guests, "Moving weekly")
    outlook.wait_synced(event.pk, timeout=90)
    copy = overflow_copy(event)
    created = copy.last_pushed["occurrences_from"]
    asked_before = timezone.now()
    first = series.sessions(event)[0].on.isoformat()

    move_series(event, timedelta(hours=1))
    outlook.wait_synced(event.pk, timeout=60)
    copy.refresh_from_db()
    assert copy.last_pushed["occurrences_from"] > created

    sessions.remember_occurrences(
        owner(platform), copy.graph_id, {first: "AAMkOld"}, asked_before, tasks.enqueue_sync
    )
    assert first not in known(copy), "read before the move: one of the old occurrences"
    sessions.remember_occurrences(
        owner(platform), copy.graph_id, {first: "AAMkNew"}, timezone.now(), tasks.enqueue_sync
    )
    assert known(copy)[first] == "AAMkNew"
