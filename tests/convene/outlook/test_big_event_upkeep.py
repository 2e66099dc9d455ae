"""Events split into several Outlook copies (``outbound.copies``), against the emulator: the
daily self-repair compares the overflow copies too, and the platform mailbox pool counts the
messages they send against the mailbox's daily limit."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from convene.events import series, services
from convene.outlook import tasks
from convene.outlook.mailboxes import pool
from convene.outlook.models import CopySeat, OutlookSettings, OverflowCopy, SyncLogEntry
from convene.outlook.operations import daily_reconcile

from .conftest import OutlookWorld
from .test_big_events import big_event, census, check_everyone_once, crowd
from .test_big_series import PEOPLE, big_series
from .test_connect_and_sync import update
from .test_platform import SERVICE
from .test_self_repair import graph_operations


def reconcile_service() -> daily_reconcile.MailboxResult | None:
    return daily_reconcile.reconcile_mailbox(SERVICE, tasks.enqueue_sync, tasks.reconcile_later)


def test_the_daily_reconcile_compares_and_repairs_overflow_copies(outlook: OutlookWorld) -> None:
    guests = crowd(outlook, 1200, platform=True)
    event = big_event(outlook, 1200, guests, "Daily crowd")
    outlook.wait_synced(event.pk, timeout=90)
    copies = list(OverflowCopy.objects.filter(link__event=event).order_by("part"))
    assert len(copies) == 2
    outlook.emulator.control("POST", "/stats/reset")

    # Nothing changed: one listing, no read, every copy compared.
    assert reconcile_service() == daily_reconcile.MailboxResult(SERVICE, 3, 1, 0)
    assert graph_operations(outlook) == {"calendarView.list": 1}

    # Missed by notifications: a place edited on overflow copy 2, a decline on copy 1.
    outlook.emulator.control(
        "PATCH",
        f"/mailboxes/{SERVICE}/events/{copies[1].graph_id}",
        {"location": {"displayName": "Edited in Outlook"}},
    ).raise_for_status()
    seat = CopySeat.objects.filter(event=event, part=1).select_related("user").first()
    assert seat is not None
    decliner = seat.user.email
    (mine,) = [
        e
        for e in census(outlook, event.title)["events"]
        if e["mailbox"] == decliner and not e["isOrganizer"]
    ]
    outlook.emulator.control(
        "POST", f"/mailboxes/{decliner}/events/{mine['id']}/respond", {"response": "decline"}
    ).raise_for_status()

    result = reconcile_service()

    assert result is not None and result.differing == 2
    drift = SyncLogEntry.objects.get(event=event, action="drift_overwritten")
    assert drift.details["copy"] == 2
    # Copy 2's drift queues a push; when the worker takes the event's lease before copy 1 is
    # read, copy 1 is looked at again shortly (``retry_later``) rather than now.
    outlook.wait_until(
        lambda: not event.enrollments.filter(user__email=decliner).exists(), timeout=30
    )
    outlook.wait_synced(event.pk, timeout=60)
    check_everyone_once(outlook, event, SERVICE, location="Main hall")
    entry = SyncLogEntry.objects.filter(action="daily_reconcile").latest("pk")
    assert entry.details["overflow_copies"] == 2

    # Read once: the next day's listing finds every copy as Convene last saw it.
    outlook.emulator.control("POST", "/stats/reset")
    assert reconcile_service() == daily_reconcile.MailboxResult(SERVICE, 3, 1, 0)
    assert graph_operations(outlook) == {"calendarView.list": 1}


def sent() -> int:
    return pool.sent_today([SERVICE])[SERVICE]


def test_the_pool_counts_what_overflow_copies_send(outlook: OutlookWorld) -> None:
    """Every invitation, update and cancellation Outlook sends for the overflow copies counts
    against the service mailbox's daily limit, as the own copy's do: what the dashboard's
    forecast and the pool's choice of mailbox read."""
    guests = crowd(outlook, 700, platform=True)
    event = big_event(outlook, 700, guests, "Counted crowd")
    outlook.wait_synced(event.pk, timeout=90)
    assert OverflowCopy.objects.filter(link__event=event).count() == 1
    assert sent() == 700  # 500 on the own copy, 200 on the overflow copy

    update(event, location="Bigger hall")
    outlook.wait_synced(event.pk, timeout=60)
    assert sent() == 1400
    (load,) = pool.forecast(OutlookSettings.load()).mailboxes
    assert load.sent == 1400

    services.cancel_event(event, actor=None, reason="Called off")
    outlook.wait_synced(event.pk, timeout=60)
    assert sent() == 2100


def test_the_pool_counts_each_session_change_on_every_copy(outlook: OutlookWorld) -> None:
    guests = crowd(outlook, PEOPLE, platform=True)
    event = big_series(outlook, guests, "Counted weekly")
    outlook.wait_synced(event.pk, timeout=90)
    assert sent() == PEOPLE

    third, second = series.sessions(event)[2], series.sessions(event)[1]
    with transaction.atomic():
        series.change_session(
            event,
            third.on,
            series.SessionDetails(
                third.start + timedelta(hours=1),
                third.end + timedelta(hours=1),
                "Room 9",
                False,
                "",
            ),
            actor=None,
        )
        series.cancel_session(event, second.on, actor=None, message="Public holiday")
    outlook.wait_synced(event.pk, timeout=60)
    assert sent() == 3 * PEOPLE  # one update and one cancellation each, on both copies
