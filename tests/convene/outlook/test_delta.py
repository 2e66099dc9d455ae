"""The periodic delta read catches what notifications missed (here: notifications switched off)."""

from __future__ import annotations

from convene.outlook import tasks
from convene.outlook.inbound import delta
from convene.outlook.models import CalendarLink, DeltaCursor, LinkState, SyncLogEntry

from .conftest import OutlookWorld
from .test_replies_world import (
    ADA,
    ALAN,
    create_event,
    is_enrolled,
    live,
    notifications,
    respond,
    settle,
    subscribe,
)

__all__ = ["live"]


def read_by_delta(world: OutlookWorld) -> None:
    """The periodic task, run through the worker."""
    tasks.delta_read_task()
    world.wait_until(lambda: DeltaCursor.objects.filter(mailbox=ADA, last_run_at__isnull=False))


def test_a_decline_nobody_was_notified_of_is_found_by_the_delta_read(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    subscribe(live)
    notifications(live, enabled=False)

    respond(live, ALAN, event, "decline")
    assert is_enrolled(event, ALAN)

    read_by_delta(live)

    live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)
    assert live.stats()["notifications"]["suppressed"] >= 1


def test_the_delta_link_is_kept_and_a_second_read_finds_only_new_changes(
    live: OutlookWorld,
) -> None:
    event = create_event(live, ALAN)
    notifications(live, enabled=False)

    first = delta.read(ADA, tasks.enqueue_sync, tasks.reconcile_later)
    cursor = DeltaCursor.objects.get(mailbox=ADA)
    assert "$deltatoken=" in cursor.link
    assert first == 0, "Outlook has exactly what Convene wrote"

    respond(live, ALAN, event, "decline")
    second = delta.read(ADA, tasks.enqueue_sync, tasks.reconcile_later)

    assert second == 1
    assert not is_enrolled(event, ALAN)


def test_an_event_deleted_in_outlook_is_found_by_the_delta_read(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    notifications(live, enabled=False)
    delta.read(ADA, tasks.enqueue_sync, tasks.reconcile_later)
    link = CalendarLink.objects.get(event=event)

    live.emulator.control("DELETE", f"/mailboxes/{ADA}/events/{link.graph_id}").raise_for_status()
    delta.read(ADA, tasks.enqueue_sync, tasks.reconcile_later)

    assert CalendarLink.objects.get(event=event).state == LinkState.DELETED_IN_OUTLOOK


def test_an_expired_delta_token_starts_a_fresh_full_read(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    notifications(live, enabled=False)
    delta.read(ADA, tasks.enqueue_sync, tasks.reconcile_later)
    stale = DeltaCursor.objects.get(mailbox=ADA).link
    live.emulator.advance_clock(8 * 24 * 3600)  # Graph's delta tokens last about a week
    respond(live, ALAN, event, "decline")

    delta.read(ADA, tasks.enqueue_sync, tasks.reconcile_later)

    assert SyncLogEntry.objects.filter(action="delta_restarted", mailbox=ADA).count() == 1
    assert DeltaCursor.objects.get(mailbox=ADA).link != stale
    assert not is_enrolled(event, ALAN)


def test_a_delta_token_graph_cannot_read_starts_a_fresh_full_read(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    notifications(live, enabled=False)
    delta.read(ADA, tasks.enqueue_sync, tasks.reconcile_later)
    cursor = DeltaCursor.objects.get(mailbox=ADA)
    # A token Graph no longer recognises: answered 400 InvalidDeltaToken, not 410.
    cursor.link = cursor.link[:-6] + "AAAAAA"
    cursor.save()
    respond(live, ALAN, event, "decline")

    delta.read(ADA, tasks.enqueue_sync, tasks.reconcile_later)

    [restart] = SyncLogEntry.objects.filter(action="delta_restarted", mailbox=ADA)
    assert restart.status == "InvalidDeltaToken"
    assert not is_enrolled(event, ALAN)


def test_the_delta_read_overwrites_drift_too(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    notifications(live, enabled=False)
    link = CalendarLink.objects.get(event=event)
    live.emulator.control(
        "PATCH", f"/mailboxes/{ADA}/events/{link.graph_id}", {"subject": "Edited in Outlook"}
    ).raise_for_status()

    delta.read(ADA, tasks.enqueue_sync, tasks.reconcile_later)

    settle(live, event)
    assert live.mailbox(ADA)[0]["subject"] == event.title
    assert SyncLogEntry.objects.filter(action="drift_overwritten", event=event).exists()
