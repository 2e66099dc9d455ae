"""Never overwrite an answer Convene has not read (issue 22, item 1).

Moving a meeting clears every attendee's answer in Outlook, as in Exchange. A decline that
reached Outlook while a time change was still waiting to go out must be recorded (unenrolled,
organizer told), not wiped: every PATCH names the version of the copy Convene last wrote or read
(``If-Match``), and a 412 makes Convene read the answers before it sends the change.

Notifications are off in these tests, so the decline is only ever seen by the push itself:
exactly the race where it was lost (a notification arriving after the move reads "none").
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F

from convene.core.models import Notice
from convene.events.models import Event
from convene.outlook.models import CalendarLink, SyncLogEntry
from convene.outlook.outbound import batches, push

from .conftest import OutlookWorld
from .test_connect_and_sync import update
from .test_platform import platform
from .test_replies_world import (
    ADA,
    ALAN,
    EDSGER,
    create_event,
    is_enrolled,
    notifications,
    organizer_copy,
    respond,
)

__all__ = ["platform"]


def _ignore(event_id: int, delay: float) -> None:
    pass


def move_by_an_hour(event: Event) -> None:
    event.refresh_from_db()
    update(event, start=event.start + timedelta(hours=1), end=event.end + timedelta(hours=1))


def attendee_emails(copy: dict[str, object]) -> set[str]:
    attendees = copy["attendees"]
    assert isinstance(attendees, list)
    return {a["emailAddress"]["address"].lower() for a in attendees}


def assert_decline_recorded(world: OutlookWorld, event: Event) -> None:
    world.wait_until(lambda: not is_enrolled(event, ALAN))
    world.wait_synced(event.pk)
    assert is_enrolled(event, EDSGER)
    organizer = event.created_by
    assert Notice.objects.filter(user=organizer, text__contains="declined").exists()


def test_a_decline_made_while_a_move_was_pending_is_recorded_not_wiped(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    notifications(outlook, False)
    event = create_event(outlook, ALAN, EDSGER)
    respond(outlook, ALAN, event, "decline")

    move_by_an_hour(event)

    assert_decline_recorded(outlook, event)
    copy = organizer_copy(outlook, event)
    assert ALAN not in attendee_emails(copy)
    assert SyncLogEntry.objects.filter(event_id=event.pk, action="update", status="412").exists()


def test_the_same_holds_in_the_platform_calendar(platform: OutlookWorld) -> None:
    notifications(platform, False)
    event = create_event(platform, ALAN, EDSGER)
    respond(platform, ALAN, event, "decline")

    move_by_an_hour(event)

    assert_decline_recorded(platform, event)


def test_a_copy_of_unknown_version_has_its_answers_read_before_a_move(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    notifications(outlook, False)
    event = create_event(outlook, ALAN, EDSGER)
    respond(outlook, ALAN, event, "decline")
    CalendarLink.objects.filter(event=event).update(change_key="")  # e.g. an old link

    move_by_an_hour(event)

    assert_decline_recorded(outlook, event)
    # Read first: no refused PATCH was needed.
    assert not SyncLogEntry.objects.filter(event_id=event.pk, status="412").exists()


def test_a_batch_never_moves_a_copy_over_answers_it_has_not_read(
    outlook_without_worker: OutlookWorld,
) -> None:
    world = outlook_without_worker
    world.connect(ADA)
    notifications(world, False)
    event = world.make_events(ADA, 1, [ALAN, EDSGER])[0]
    push.sync_event(event.pk, _ignore)
    respond(world, ALAN, event, "decline")
    before = organizer_copy(world, event)["start"]
    # A move whose task was lost (a killed worker): saved and wanted, not yet sent.
    Event.objects.filter(pk=event.pk).update(
        start=F("start") + timedelta(hours=1), end=F("end") + timedelta(hours=1)
    )
    CalendarLink.objects.filter(event=event).update(desired_version=F("desired_version") + 1)

    batches.sync_events([event.pk], _ignore)

    # The batch's PATCH was refused (412): nothing moved, the decline is still there to read.
    assert organizer_copy(world, event)["start"] == before
    assert is_enrolled(event, ALAN)
    push.sync_event(event.pk, _ignore)  # the retry the batch queued
    assert not is_enrolled(event, ALAN)
    assert organizer_copy(world, event)["start"] != before
