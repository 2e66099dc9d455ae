"""The edges of a series' sessions, over real HTTP against the emulator: a session that is
over, or a move into the past, is refused and nothing reaches Outlook; an occurrence the
organizer deletes in Outlook is cancelled in Convene too (Outlook cannot restore it and has
already told everyone), found through a notification or through the delta read."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from convene.core.models import Notice
from convene.events import series
from convene.events.errors import InvalidEvent
from convene.events.models import Event
from convene.outlook.models import CalendarLink, LinkState, SyncLogEntry

from .conftest import OutlookWorld
from .test_replies_world import ADA, notifications, settle
from .test_series_replies import live, owner, subscribe
from .test_series_sync import (
    ATTENDEES,
    create_series,
    delta_round,
    instances,
    known_occurrences,
    received,
    writes,
)

__all__ = ["live"]


def test_a_session_that_is_over_or_a_move_into_the_past_is_refused(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    zone = "Europe/Berlin"
    today = timezone.now().astimezone(ZoneInfo(zone))
    first = datetime(today.year, today.month, today.day, 0, 5) - timedelta(days=7)
    event = create_series(outlook, zone=zone, count=6, first=first, allow_past=True)
    outlook.wait_synced(event.pk)
    past, future = series.sessions(event)[0], series.sessions(event)[2]
    assert past.is_past and not future.is_past
    before = outlook.stats()["requests"]["total"]

    with pytest.raises(InvalidEvent, match="already started or taken place"):
        series.change_session(
            event,
            past.on,
            series.SessionDetails(past.start, past.end, "Room 9", False, ""),
            actor=None,
        )
    with pytest.raises(InvalidEvent, match="already started or taken place"):
        series.cancel_session(event, past.on, actor=None, message="Too late")
    yesterday = timezone.now() - timedelta(days=1)
    with pytest.raises(InvalidEvent, match="cannot be moved into the past") as refused:
        series.change_session(
            event,
            future.on,
            series.SessionDetails(yesterday, yesterday + timedelta(hours=1), "Room 1", False, ""),
            actor=None,
        )
    assert refused.value.field == "start"

    assert not event.session_changes.exists()
    outlook.wait_idle()
    assert outlook.stats()["requests"]["total"] == before


def test_the_session_form_says_why_a_move_into_the_past_is_refused(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    event = create_series(outlook)
    outlook.wait_synced(event.pk)
    third = series.sessions(event)[2]
    yesterday = (timezone.now() - timedelta(days=1)).astimezone(ZoneInfo(event.timezone))
    page = outlook.browser(ADA).post(
        f"/events/{event.pk}/sessions/{third.on.isoformat()}/",
        {
            "start": yesterday.strftime("%Y-%m-%dT%H:%M"),
            "end": (yesterday + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "location": "Room 1",
        },
    )
    assert page.status_code == 200
    assert "A session cannot be moved into the past." in page.content.decode()
    assert not event.session_changes.exists()


def delete_occurrence(world: OutlookWorld, event: Event, number: int) -> str:
    """The organizer's mailbox (Ada's, or the service mailbox) deletes the ``number``-th
    occurrence (0-based) of the series in Outlook."""
    occurrence = instances(world, owner(world), event)[number]
    token = world.emulator.token_for(owner(world))
    world.emulator.graph("DELETE", f"/me/events/{occurrence['id']}", token).raise_for_status()
    return str(occurrence["id"])


def cancelled_in_convene(event: Event, number: int) -> bool:
    return series.sessions(event)[number].is_cancelled


def check_followed_outlook(
    world: OutlookWorld, event: Event, before: dict[str, Counter[str]]
) -> None:
    session = series.sessions(event)[3]
    assert session.is_cancelled
    assert session.cancellation_reason == "Deleted from the organizer's Outlook calendar."
    # Outlook told everyone once; Convene sent nothing more
    for email in ATTENDEES:
        assert received(world, email) - before[email] == Counter({"meetingCancelled": 1}), email
    entry = SyncLogEntry.objects.get(event=event, action="session_deleted_in_outlook")
    assert entry.details["session"] == session.on.isoformat()
    assert "Outlook cannot restore it" in entry.message
    notice = Notice.objects.filter(user=world.people[ADA]).latest("pk")
    assert "deleted in Outlook" in notice.text
    assert len(instances(world, owner(world), event)) == 11
    link = CalendarLink.objects.get(event=event)
    assert link.last_pushed["sessions"][session.on.isoformat()]["isCancelled"]


def test_an_occurrence_deleted_in_outlook_cancels_that_session_in_convene(
    live: OutlookWorld,
) -> None:
    """The notification names an occurrence id no link knows yet (the series was just
    created, no delta round has listed it): the series' occurrences are read once and the
    session whose date Outlook no longer has is cancelled."""
    event = create_series(live)
    settle(live, event)
    subscribe(live)
    assert known_occurrences(event) == {}, "created in one request: no ids read"
    before = {email: received(live, email) for email in ATTENDEES}
    writes_before = writes(live)

    delete_occurrence(live, event, 3)

    live.wait_until(lambda: cancelled_in_convene(event, 3), timeout=10)
    settle(live, event)
    check_followed_outlook(live, event, before)
    assert writes(live) - writes_before == Counter({"events.delete": 1}), "the delete only"

    # a later change of another session still goes out as one request
    fifth = series.sessions(event)[5]
    series.change_session(
        event,
        fifth.on,
        series.SessionDetails(fifth.start, fifth.end, "Room 5", False, ""),
        actor=None,
    )
    settle(live, event)
    assert writes(live) - writes_before == Counter({"events.delete": 1, "events.update": 1})


def test_the_delta_read_finds_an_occurrence_deleted_in_outlook(live: OutlookWorld) -> None:
    """The first delta round learns the occurrence ids; the next one's ``@removed`` names a
    known id: the session is cancelled with no read at all."""
    event = create_series(live)
    settle(live, event)
    notifications(live, enabled=False)
    assert known_occurrences(event) == {}
    delta_round(live, owner(live))
    assert len(known_occurrences(event)) == 12, "learned from the delta round"
    before = {email: received(live, email) for email in ATTENDEES}
    writes_before = writes(live)

    deleted = delete_occurrence(live, event, 3)
    reads_before = live.stats()["requests"]["byOperation"].get("events.instances", 0)
    delta_round(live, owner(live))
    settle(live, event)
    reads = live.stats()["requests"]["byOperation"].get("events.instances", 0) - reads_before
    assert reads == 0, "found by the id the delta round learned"

    assert cancelled_in_convene(event, 3)
    check_followed_outlook(live, event, before)
    assert writes(live) - writes_before == Counter({"events.delete": 1})
    assert deleted not in known_occurrences(event).values()


def test_the_delta_read_finds_an_occurrence_deleted_before_its_id_was_learned(
    live: OutlookWorld,
) -> None:
    """A series created after the last delta round, one of its occurrences deleted before the
    next: that round's ``@removed`` names an id no link knows, so the series reads its
    occurrences once and follows Outlook by date."""
    notifications(live, enabled=False)
    (earlier,) = live.make_events(ADA, 1, [])
    settle(live, earlier)
    delta_round(live, owner(live))  # the mailbox's rounds are under way before the series
    event = create_series(live)
    settle(live, event)
    assert known_occurrences(event) == {}
    before = {email: received(live, email) for email in ATTENDEES}
    writes_before = writes(live)

    delete_occurrence(live, event, 3)
    delta_round(live, owner(live))

    assert cancelled_in_convene(event, 3)
    settle(live, event)
    check_followed_outlook(live, event, before)
    assert writes(live) - writes_before == Counter({"events.delete": 1})
    assert len(known_occurrences(event)) == 11
    # nothing else was taken for deleted: the other sessions run as before
    assert [s.is_cancelled for s in series.sessions(event)].count(True) == 1


def test_an_unknown_removal_is_checked_once_per_series_and_not_while_it_is_pushed(
    live: OutlookWorld,
) -> None:
    """Ids no link remembers (someone's own event deleted, the old occurrences of a series
    Convene moved) read each series with unknown ids once; then the series' ids are known
    and the next unknown removal costs nothing. A series whose push is due is not compared
    (Outlook does not show its new rule yet): the removal is looked at again later."""
    from convene.outlook import links, tasks
    from convene.outlook.inbound import sessions

    notifications(live, enabled=False)
    event = create_series(live)
    settle(live, event)
    counted = live.stats()["requests"]["byOperation"]
    reads_before = counted.get("events.instances", 0)
    assert sessions.removed_occurrence(owner(live), "AAMkSomeoneElses", tasks.enqueue_sync)
    assert sessions.removed_occurrence(owner(live), "AAMkSomeoneElses2", tasks.enqueue_sync)
    counted = live.stats()["requests"]["byOperation"]
    assert counted.get("events.instances", 0) - reads_before == 1
    assert len(known_occurrences(event)) == 12
    assert not any(s.is_cancelled for s in series.sessions(event))

    # while the series is being pushed (its lease is taken) the removal waits
    link = CalendarLink.objects.get(event=event)
    CalendarLink.objects.filter(pk=link.pk).update(
        last_pushed={**link.last_pushed, "occurrences": {}}
    )
    assert links.take_lease(link.pk)
    try:
        assert not sessions.removed_occurrence(owner(live), "AAMkOther", tasks.enqueue_sync)
    finally:
        links.give_back_lease([link.pk])
    assert sessions.removed_occurrence(owner(live), "AAMkOther", tasks.enqueue_sync)
    assert not any(s.is_cancelled for s in series.sessions(event))


def test_a_series_deleted_whole_in_outlook_cancels_no_session(live: OutlookWorld) -> None:
    """Outlook removes every occurrence with its series, and the delta read may list those
    removals before the series' own: they are not sessions deleted one by one (nothing is
    cancelled in Convene, no notice per session); the series is shown deleted in Outlook, as a
    single event would be."""
    event = create_series(live)
    settle(live, event)
    notifications(live, enabled=False)
    delta_round(live, owner(live))
    assert len(known_occurrences(event)) == 12
    link = CalendarLink.objects.get(event=event)
    token = live.emulator.token_for(owner(live))
    live.emulator.graph("DELETE", f"/me/events/{link.graph_id}", token).raise_for_status()

    delta_round(live, owner(live))
    live.wait_idle()

    assert not any(session.is_cancelled for session in series.sessions(event))
    assert not SyncLogEntry.objects.filter(event=event, action="session_deleted_in_outlook")
    assert CalendarLink.objects.get(event=event).state == LinkState.DELETED_IN_OUTLOOK
