"""Answers to a series in Outlook, through real notifications, in both modes (the organizer's
calendar and the platform's service mailbox): declining one occurrence records that the person
will miss that session; declining the whole series unenrolls them; an occurrence moved in
Outlook is put back; the delta read finds what notifications missed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from convene.core.models import Notice
from convene.events import series, services
from convene.events.models import Event, MissedSession
from convene.outlook.models import CalendarLink, LogKind, Subscription, SyncLogEntry

from .conftest import OutlookWorld
from .test_replies_world import (
    ADA,
    ALAN,
    EDSGER,
    is_enrolled,
    respond,
    set_unenroll_on_decline,
    settle,
)
from .test_series_sync import create_series, instances


@pytest.fixture(params=["organizer", "platform"])
def live(
    request: pytest.FixtureRequest, outlook: OutlookWorld, live_server: Any, settings: Any
) -> Iterator[OutlookWorld]:
    """``outlook`` with Convene reachable by the emulator's notifications, in each mode: Ada's
    own calendar (connected), or the service mailbox (``outlook.owner`` says which)."""
    from .test_platform import SERVICE, platform_seed, use_platform_calendar

    if request.param == "platform":
        outlook.emulator.reset(platform_seed(consented=True))
        use_platform_calendar()
        owner = SERVICE
    else:
        outlook.connect(ADA)
        owner = ADA
    settings.OUTLOOK = {**settings.OUTLOOK, "public_url": live_server.url}
    outlook.owner = owner  # type: ignore[attr-defined]
    yield outlook
    # as ``test_replies_world.live``: no delivery may outlive the test
    outlook.emulator.control("POST", "/reset").raise_for_status()
    outlook.wait_idle(quiet=0.2, scheduled=False)


def owner(world: OutlookWorld) -> str:
    return str(world.owner)  # type: ignore[attr-defined]


def subscribe(world: OutlookWorld) -> Subscription:
    """What the periodic task does: the owner mailbox gets its subscription."""
    from convene.outlook import tasks
    from convene.outlook.inbound import subscriptions

    subscriptions.maintain(tasks.enqueue_delta)
    found: Subscription = Subscription.objects.get(
        mailbox=owner(world), state=Subscription.State.ACTIVE
    )
    return found


def decline_occurrence(world: OutlookWorld, email: str, event: Event, number: int) -> None:
    """``email`` declines the ``number``-th occurrence (0-based) in their own Outlook."""
    occurrence = instances(world, email, event)[number]
    token = world.emulator.token_for(email)
    answer = world.emulator.graph(
        "POST",
        f"/me/events/{occurrence['id']}/decline",
        token,
        json={"sendResponse": True, "comment": "Dentist"},
    )
    answer.raise_for_status()


def test_declining_one_occurrence_then_the_whole_series(live: OutlookWorld) -> None:
    set_unenroll_on_decline(True)
    event = create_series(live)
    settle(live, event)
    subscribe(live)
    third = series.sessions(event)[2].on

    decline_occurrence(live, ALAN, event, 2)

    live.wait_until(lambda: MissedSession.objects.exists(), timeout=10)
    assert series.missing_by_session(event) == {third: [live.people[ALAN]]}
    assert is_enrolled(event, ALAN), "one session declined: still enrolled in the series"
    entry = SyncLogEntry.objects.get(kind=LogKind.REPLY, event=event, status="session")
    assert "will miss the session" in entry.message
    assert entry.details["session"] == third.isoformat()
    notice = Notice.objects.get(user=live.people[ADA])
    assert "Alan Turing will miss" in notice.text
    # the organizer declined nothing; Edsger answered nothing
    assert is_enrolled(event, EDSGER)

    respond(live, ALAN, event, "decline")

    live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)
    assert not MissedSession.objects.exists()


def test_an_occurrence_moved_in_outlook_is_put_back(live: OutlookWorld) -> None:
    event = create_series(live)
    settle(live, event)
    subscribe(live)
    second = series.sessions(event)[1]
    link = CalendarLink.objects.get(event=event)
    occurrence = instances(live, owner(live), event)[1]
    moved: dict[str, Any] = {
        "start": {
            "dateTime": (second.start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S"),
            "timeZone": "UTC",
        },
        "end": {
            "dateTime": (second.end + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S"),
            "timeZone": "UTC",
        },
    }
    token = live.emulator.token_for(owner(live))
    live.emulator.graph(
        "PATCH", f"/me/events/{occurrence['id']}", token, json=moved
    ).raise_for_status()

    live.wait_until(
        lambda: SyncLogEntry.objects.filter(action="drift_overwritten", event=event).exists(),
        timeout=10,
    )
    settle(live, event)
    back = instances(live, owner(live), event)[1]
    assert back["start"]["dateTime"].startswith(second.start.strftime("%Y-%m-%dT%H:%M"))
    assert CalendarLink.objects.get(pk=link.pk).last_pushed.get("sessions", {}) == {}
    assert services.EventDetails.of(event).start == event.start


def test_the_delta_read_finds_a_declined_occurrence_and_a_declined_series(
    live: OutlookWorld,
) -> None:
    from convene.outlook import tasks
    from convene.outlook.inbound import delta

    from .test_replies_world import notifications

    set_unenroll_on_decline(True)
    event = create_series(live)
    settle(live, event)
    notifications(live, enabled=False)
    delta.read(owner(live), tasks.enqueue_sync, tasks.reconcile_later)
    fourth = series.sessions(event)[3].on

    decline_occurrence(live, EDSGER, event, 3)
    delta.read(owner(live), tasks.enqueue_sync, tasks.reconcile_later)

    assert series.missing_by_session(event) == {fourth: [live.people[EDSGER]]}
    assert is_enrolled(event, EDSGER)

    respond(live, EDSGER, event, "decline")
    delta.read(owner(live), tasks.enqueue_sync, tasks.reconcile_later)

    live.wait_until(lambda: not is_enrolled(event, EDSGER), timeout=10)
