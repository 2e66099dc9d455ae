"""A removed licence or disabled mailbox is not "deleted in Outlook": the organizer's connection
is marked once and the admins are told once, whatever the number of events."""

from __future__ import annotations

from django.core import mail

from convene.core.models import Notice
from convene.outlook import tasks
from convene.outlook.inbound import delta
from convene.outlook.models import (
    CalendarLink,
    ConnectionStatus,
    LinkState,
    OutlookConnection,
    SyncLogEntry,
)

from .conftest import OutlookWorld
from .test_connect_and_sync import ADA, update

ADMIN = "admin@contoso.test"


def test_a_removed_licence_marks_the_connection_once_and_tells_the_admins_once(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    events = outlook.make_events(ADA, 3, attendees=[])
    for event in events:
        outlook.wait_synced(event.pk)
    mail.outbox.clear()
    outlook.emulator.control("POST", f"/users/{ADA}/mailbox", {"enabled": False})

    for number, event in enumerate(events):
        update(event, title=f"Moved session {number}")
    outlook.wait_until(
        lambda: CalendarLink.objects.filter(state=LinkState.WAITING_AUTHORIZATION).count() == 3,
        timeout=30,
    )

    connection = OutlookConnection.objects.get(user=outlook.people[ADA])
    assert connection.status == ConnectionStatus.NEEDS_AUTHORIZATION
    assert "MailboxNotEnabledForRESTAPI" in connection.last_error
    assert not CalendarLink.objects.filter(state=LinkState.DELETED_IN_OUTLOOK).exists()
    assert SyncLogEntry.objects.filter(action="mailbox_gone").count() == 1
    assert Notice.objects.filter(user=outlook.people[ADMIN]).count() == 1
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        (ADA, "Convene: Outlook mailbox unavailable"),
        (ADMIN, "Convene: Outlook mailbox unavailable"),
    ]


def test_the_events_sync_again_once_the_mailbox_is_back_and_ada_reconnects(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    [event] = outlook.make_events(ADA, 1, attendees=[])
    outlook.wait_synced(event.pk)
    outlook.emulator.control("POST", f"/users/{ADA}/mailbox", {"enabled": False})
    update(event, title="Renamed while the mailbox was gone")
    outlook.wait_until(
        lambda: CalendarLink.objects.filter(state=LinkState.WAITING_AUTHORIZATION).exists()
    )

    outlook.emulator.control("POST", f"/users/{ADA}/mailbox", {"enabled": True})
    outlook.connect(ADA)

    outlook.wait_synced(event.pk, timeout=30)
    [copy] = outlook.mailbox(ADA)
    assert copy["subject"] == "Renamed while the mailbox was gone"


def test_the_delta_read_of_a_gone_mailbox_marks_the_connection(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    [event] = outlook.make_events(ADA, 1, attendees=[])
    outlook.wait_synced(event.pk)
    outlook.emulator.control("POST", f"/users/{ADA}/mailbox", {"enabled": False})

    assert delta.read(ADA, tasks.enqueue_sync, tasks.reconcile_later) == 0

    connection = OutlookConnection.objects.get(user=outlook.people[ADA])
    assert connection.status == ConnectionStatus.NEEDS_AUTHORIZATION
    assert SyncLogEntry.objects.filter(action="mailbox_gone").count() == 1
    assert CalendarLink.objects.get(event=event).state != LinkState.DELETED_IN_OUTLOOK
