"""Self-repair against the emulator: authorizations kept alive before Entra's inactivity expiry,
a delta read answered 410 restarting cleanly, and the daily reconcile (drift repaired, the
unchanged left alone: no PATCH, no message, one listing request per page of events)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from convene.events import services
from convene.events.models import Event
from convene.outlook import tasks
from convene.outlook.inbound import delta
from convene.outlook.mailboxes import connections
from convene.outlook.models import (
    CalendarLink,
    ConnectionStatus,
    LinkState,
    OutlookConnection,
    SyncLogEntry,
)
from convene.outlook.operations import daily_reconcile, keepalive

from .conftest import OutlookWorld
from .test_replies_world import (
    ADA,
    ALAN,
    create_event,
    is_enrolled,
    live,
    notifications,
    respond,
)

__all__ = ["live"]

DAY = 24 * 3600
NINETY_DAYS = 90 * DAY


# --- keeping authorizations alive -------------------------------------------------------------


def idle_for(days: int) -> None:
    """Convene last used Ada's refresh token ``days`` ago (the emulator's clock moves too)."""
    long_ago = timezone.now() - timedelta(days=days)
    OutlookConnection.objects.update(connected_at=long_ago, tokens_refreshed_at=long_ago)


def edit(event: Event, title: str) -> None:
    services.update_event(
        event,
        services.EventDetails(
            title=title, start=event.start, end=event.end, timezone=event.timezone
        ),
        actor=None,
    )


def test_an_idle_authorization_with_upcoming_events_is_refreshed_before_it_ages_out(
    outlook: OutlookWorld,
) -> None:
    outlook.emulator.control("POST", "/config", {"refresh_token_lifetime": NINETY_DAYS})
    outlook.connect(ADA)
    (event,) = outlook.make_events(ADA, 1, [ALAN])
    outlook.wait_synced(event.pk)
    outlook.emulator.advance_clock(80 * DAY)
    idle_for(80)

    assert keepalive.refresh_idle_connections() == 1

    # Eighty more days: 160 since sign-in, but only 80 since the refresh.
    outlook.emulator.advance_clock(80 * DAY)
    connections.forget_access_tokens()
    edit(event, "Still in Outlook after months away")
    outlook.wait_synced(event.pk)
    assert OutlookConnection.objects.get().status == ConnectionStatus.CONNECTED
    assert SyncLogEntry.objects.filter(action="authorization_refreshed", mailbox=ADA).count() == 1


def test_without_the_refresh_the_same_absence_loses_the_authorization(
    outlook: OutlookWorld,
) -> None:
    """The emulator enforces Entra's expiry: this is what the keep-alive prevents."""
    outlook.emulator.control("POST", "/config", {"refresh_token_lifetime": NINETY_DAYS})
    outlook.connect(ADA)
    (event,) = outlook.make_events(ADA, 1, [ALAN])
    outlook.wait_synced(event.pk)
    outlook.emulator.advance_clock(160 * DAY)
    connections.forget_access_tokens()

    edit(event, "Lost in the meantime")

    outlook.wait_until(
        lambda: CalendarLink.objects.get(event=event).state == LinkState.WAITING_AUTHORIZATION
    )
    assert OutlookConnection.objects.get().status == ConnectionStatus.NEEDS_AUTHORIZATION


def test_a_recently_refreshed_authorization_is_left_alone(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    (event,) = outlook.make_events(ADA, 1, [ALAN])
    outlook.wait_synced(event.pk)
    idle_for(13)
    outlook.emulator.control("POST", "/stats/reset")

    assert keepalive.refresh_idle_connections() == 0
    assert outlook.emulator.control("GET", "/stats").json()["requests"]["total"] == 0


def test_an_authorization_without_upcoming_events_is_not_kept_alive(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    idle_for(30)

    assert keepalive.due_connections(timezone.now()) == []


# --- a delta read answered 410 ------------------------------------------------------------------


def test_a_delta_read_answered_410_restarts_reconciles_and_shows_on_the_dashboard(
    live: OutlookWorld,
) -> None:
    event = create_event(live, ALAN)
    notifications(live, enabled=False)
    delta.read(ADA, tasks.enqueue_sync, tasks.reconcile_later)
    respond(live, ALAN, event, "decline")
    live.emulator.control(
        "POST",
        "/faults",
        {"path": "calendarView/delta", "status": 410, "code": "syncStateNotFound", "count": 1},
    ).raise_for_status()

    tasks.delta_task.call_local(ADA)

    assert not is_enrolled(event, ALAN)
    assert SyncLogEntry.objects.filter(action="delta_restarted", mailbox=ADA).count() == 1
    admin = Client()
    admin.force_login(live.people["admin@contoso.test"])
    page = admin.get("/outlook/admin/sync/").content.decode()
    assert "Delta reads restarted: <strong>1</strong>" in page
    assert "Changes caught by the delta read: <strong>1</strong>" in page


# --- the daily reconcile ------------------------------------------------------------------------


def graph_operations(world: OutlookWorld) -> dict[str, int]:
    stats = world.emulator.control("GET", "/stats").json()
    operations: dict[str, int] = stats["requests"]["byOperation"]
    return operations


def messages_of(world: OutlookWorld, email: str) -> int:
    response = world.emulator.control("GET", f"/mailboxes/{email}/messages")
    response.raise_for_status()
    return len(response.json()["value"])


def reconcile_ada() -> daily_reconcile.MailboxResult | None:
    return daily_reconcile.reconcile_mailbox(ADA, tasks.enqueue_sync, tasks.reconcile_later)


def test_the_daily_reconcile_leaves_unchanged_copies_alone(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    events = outlook.make_events(ADA, 5, [ALAN])
    for event in events:
        outlook.wait_synced(event.pk)
    messages = messages_of(outlook, ALAN)
    outlook.emulator.control("POST", "/stats/reset")

    result = reconcile_ada()

    assert result == daily_reconcile.MailboxResult(ADA, 5, 1, 0)
    assert graph_operations(outlook) == {"calendarView.list": 1}
    assert messages_of(outlook, ALAN) == messages
    entry = SyncLogEntry.objects.get(action="daily_reconcile")
    assert (entry.status, entry.details["differing"]) == ("unchanged", 0)


def test_the_daily_reconcile_repairs_a_drifted_copy_and_only_that_one(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    events = outlook.make_events(ADA, 4, [ALAN])
    for event in events:
        outlook.wait_synced(event.pk)
    drifted = CalendarLink.objects.get(event=events[2])
    outlook.emulator.control(
        "PATCH", f"/mailboxes/{ADA}/events/{drifted.graph_id}", {"subject": "Edited in Outlook"}
    ).raise_for_status()
    outlook.emulator.control("POST", "/stats/reset")

    result = reconcile_ada()

    assert result is not None and result.differing == 1
    outlook.wait_until(
        lambda: {e["subject"] for e in outlook.mailbox(ADA)} == {e.title for e in events}
    )
    outlook.wait_synced(events[2].pk)
    operations = graph_operations(outlook)
    assert operations.get("events.update", 0) == 1
    assert operations["events.get"] == 1
    assert SyncLogEntry.objects.filter(action="drift_overwritten").count() == 1


def test_a_copy_read_for_its_replies_is_not_read_again_the_next_day(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    notifications(live, enabled=False)
    respond(live, ALAN, event, "accept")

    first = reconcile_ada()
    live.emulator.control("POST", "/stats/reset")
    second = reconcile_ada()

    assert first is not None and first.differing == 1
    assert second is not None and second.differing == 0
    assert graph_operations(live) == {"calendarView.list": 1}
    assert is_enrolled(event, ALAN)


def test_the_daily_reconcile_lists_a_page_of_events_per_request(
    outlook: OutlookWorld, monkeypatch: Any
) -> None:
    monkeypatch.setattr(daily_reconcile, "PAGE_SIZE", 2)
    outlook.connect(ADA)
    events = outlook.make_events(ADA, 5, [])
    for event in events:
        outlook.wait_synced(event.pk)
    outlook.emulator.control("POST", "/stats/reset")

    result = reconcile_ada()

    assert result == daily_reconcile.MailboxResult(ADA, 5, 3, 0)
    assert graph_operations(outlook) == {"calendarView.list": 3}


def test_the_daily_reconcile_finds_a_copy_deleted_in_outlook(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    (event,) = outlook.make_events(ADA, 1, [ALAN])
    link = outlook.wait_synced(event.pk)
    outlook.emulator.control("DELETE", f"/mailboxes/{ADA}/events/{link.graph_id}")

    reconcile_ada()

    assert CalendarLink.objects.get(event=event).state == LinkState.DELETED_IN_OUTLOOK


def test_the_daily_reconcile_is_queued_per_mailbox_with_upcoming_synced_events(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    (event,) = outlook.make_events(ADA, 1, [ALAN])
    outlook.wait_synced(event.pk)

    assert daily_reconcile.mailboxes() == [ADA]
