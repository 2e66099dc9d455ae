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
from convene.outlook.models import CalendarLink, SyncLogEntry

from .conftest import OutlookWorld
from .test_replies_world import ADA, notifications, settle
from .test_series_replies import live, owner, subscribe
from .test_series_sync import ATTENDEES, create_series, instances, received, writes

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
    event = create_series(live)
    settle(live, event)
    subscribe(live)
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
    from convene.outlook import tasks
    from convene.outlook.inbound import delta

    event = create_series(live)
    settle(live, event)
    notifications(live, enabled=False)
    delta.read(owner(live), tasks.enqueue_sync, tasks.reconcile_later)
    before = {email: received(live, email) for email in ATTENDEES}
    writes_before = writes(live)

    delete_occurrence(live, event, 3)
    delta.read(owner(live), tasks.enqueue_sync, tasks.reconcile_later)

    assert cancelled_in_convene(event, 3)
    settle(live, event)
    check_followed_outlook(live, event, before)
    assert writes(live) - writes_before == Counter({"events.delete": 1})


def test_convene_cancelling_a_session_is_not_mistaken_for_a_deletion(live: OutlookWorld) -> None:
    event = create_series(live)
    settle(live, event)
    subscribe(live)
    series.cancel_session(event, series.sessions(event)[2].on, actor=None, message="Holiday")
    settle(live, event)
    assert series.sessions(event)[2].cancellation_reason == "Holiday"
    assert not SyncLogEntry.objects.filter(action="session_deleted_in_outlook").exists()
