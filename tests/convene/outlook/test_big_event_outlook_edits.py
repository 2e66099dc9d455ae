"""What is done in Outlook to an overflow copy of a big event (``outbound.copies``), against the
emulator in both modes: handled as the same thing done to the event's own copy.

- an overflow copy deleted in Outlook is noticed (delta read, daily reconcile, or the push that
  finds it gone), logged and the organizer told; it is not made again on its own, the other
  copies are kept up to date, and Publish again makes only that copy again, so that everyone
  ends on exactly one live copy;
- someone added in Outlook to an overflow copy (a forwarded invitation) stays on it when
  Convene next sends that copy's attendee list;
- a drift that keeps coming back on an overflow copy is put back three times a day at most,
  then the event is marked failing, as for the own copy.
"""

from __future__ import annotations

from typing import Any

from convene.accounts.models import User
from convene.core.models import Notice
from convene.events import services
from convene.events.models import Event
from convene.outlook import tasks
from convene.outlook.inbound.reconcile import reconcile
from convene.outlook.models import (
    CalendarLink,
    CopySeat,
    LinkState,
    OverflowCopy,
    SyncLogEntry,
)
from convene.outlook.operations import daily_reconcile

from .conftest import OutlookWorld
from .test_big_events import big_event, census, check_everyone_once, crowd
from .test_big_series import platform
from .test_connect_and_sync import ADA, update
from .test_platform import SERVICE
from .test_series_sync import delta_round

__all__ = ["platform"]

PEOPLE = 502  # two copies in either mode


def owner(platform: bool) -> str:
    return SERVICE if platform else ADA


def made(outlook: OutlookWorld, platform: bool, title: str) -> tuple[Event, list[User]]:
    guests = crowd(outlook, PEOPLE + 5, platform=platform)
    event = big_event(outlook, PEOPLE, guests, title)
    outlook.wait_synced(event.pk, timeout=60)
    return event, guests


def overflow(event: Event) -> OverflowCopy:
    (copy,) = OverflowCopy.objects.filter(link__event=event)
    return copy


def on_copy(event: Event, part: int) -> frozenset[str]:
    return frozenset(
        CopySeat.objects.filter(event=event, part=part).values_list("user__email", flat=True)
    )


def delete_in_outlook(outlook: OutlookWorld, mailbox: str, graph_id: str) -> None:
    outlook.emulator.control("DELETE", f"/mailboxes/{mailbox}/events/{graph_id}").raise_for_status()


def live_copies(outlook: OutlookWorld, title: str) -> list[dict[str, Any]]:
    return [
        e for e in census(outlook, title)["events"] if e["isOrganizer"] and not e["isCancelled"]
    ]


def check_deleted_copy_noticed(outlook: OutlookWorld, event: Event, copy: OverflowCopy) -> None:
    copy.refresh_from_db()
    assert copy.deleted_in_outlook_at is not None
    (entry,) = SyncLogEntry.objects.filter(event=event, action="deleted_in_outlook")
    assert entry.details["copy"] == copy.part
    notice = Notice.objects.filter(user__email=ADA, text__contains="deleted from Outlook").get()
    assert f"overflow copy {copy.part}" in notice.text
    page = outlook.browser(ADA).get(event.get_absolute_url()).content.decode()
    assert "Deleted in Outlook: overflow copy 1" in page and "Publish again" in page


def check_published_again(
    outlook: OutlookWorld, event: Event, copy: OverflowCopy, mailbox: str, location: str
) -> None:
    """Publish again makes the deleted copy again (its people invited once more, nobody
    else), and everyone is on exactly one live copy."""
    deleted_from = on_copy(event, copy.part)
    response = outlook.browser(ADA).post(f"/outlook/events/{event.pk}/publish-again/")
    assert response.status_code == 302
    outlook.wait_synced(event.pk, timeout=60)
    copy.refresh_from_db()
    assert copy.deleted_in_outlook_at is None and copy.graph_id
    assert SyncLogEntry.objects.filter(event=event, action="publish_again").count() == 1
    check_everyone_once(outlook, event, mailbox, location=location, moved=deleted_from)
    assert len(live_copies(outlook, event.title)) == 2


def test_an_overflow_copy_deleted_in_outlook_is_noticed_and_published_again(
    outlook: OutlookWorld, platform: bool
) -> None:
    event, _ = made(outlook, platform, "Copy deleted")
    copy = overflow(event)
    mailbox = owner(platform)
    delta_round(outlook, mailbox)  # the delta read has a token: the next round lists changes
    delete_in_outlook(outlook, mailbox, copy.graph_id)

    delta_round(outlook, mailbox)

    check_deleted_copy_noticed(outlook, event, copy)
    # Not made again on its own (that would invite its people again), and the own copy's
    # people still get the event's changes: the event is in sync for them, not failing.
    update(event, location="Other hall")
    link = outlook.wait_synced(event.pk, timeout=60)
    assert link.state == LinkState.SYNCED
    (own,) = live_copies(outlook, event.title)
    assert own["id"] == link.graph_id and own["location"] == "Other hall"
    gone = copy.graph_id
    copy.refresh_from_db()
    assert copy.graph_id == gone and copy.deleted_in_outlook_at is not None

    check_published_again(outlook, event, copy, mailbox, "Other hall")


def test_an_overflow_copy_found_deleted_by_the_daily_reconcile(outlook: OutlookWorld) -> None:
    event, _ = made(outlook, True, "Copy deleted, found daily")
    copy = overflow(event)
    delete_in_outlook(outlook, SERVICE, copy.graph_id)

    result = daily_reconcile.reconcile_mailbox(SERVICE, tasks.enqueue_sync, tasks.reconcile_later)

    assert result is not None and result.differing == 1
    check_deleted_copy_noticed(outlook, event, copy)
    # The next day compares only the copies Outlook still has.
    again = daily_reconcile.reconcile_mailbox(SERVICE, tasks.enqueue_sync, tasks.reconcile_later)
    assert again == daily_reconcile.MailboxResult(SERVICE, 1, 1, 0)
    check_published_again(outlook, event, copy, SERVICE, "Main hall")


def test_an_overflow_copy_found_deleted_by_a_push(outlook: OutlookWorld) -> None:
    """No notification, no delta read yet: the next change finds the copy gone. That is no
    failure (the own copy's people get the change), and the copy is marked as deleted."""
    event, _ = made(outlook, False, "Copy deleted, found by a push")
    copy = overflow(event)
    delete_in_outlook(outlook, ADA, copy.graph_id)

    update(event, location="Pushed hall")
    link = outlook.wait_synced(event.pk, timeout=60)

    assert link.state == LinkState.SYNCED
    check_deleted_copy_noticed(outlook, event, copy)
    check_published_again(outlook, event, copy, ADA, "Pushed hall")


def test_someone_added_in_outlook_to_an_overflow_copy_stays_on_it(
    outlook: OutlookWorld, platform: bool
) -> None:
    event, guests = made(outlook, platform, "Forwarded on a copy")
    copy = overflow(event)
    mailbox = owner(platform)
    # As the organizer forwards it: the copy's people as Convene sent them, and one more.
    forwarded = [
        *copy.last_pushed["attendees"],
        {
            "emailAddress": {"address": "barbara@fabrikam.test", "name": "Barbara"},
            "type": "required",
        },
    ]
    outlook.emulator.control(
        "PATCH", f"/mailboxes/{mailbox}/events/{copy.graph_id}", {"attendees": forwarded}
    ).raise_for_status()
    outlook.wait_until(lambda: reconcile(mailbox, copy.graph_id, tasks.enqueue_sync))
    entry = SyncLogEntry.objects.get(event=event, action="outlook_only_attendees")
    assert entry.details == {"copy": 1, "addresses": ["barbara@fabrikam.test"]}

    # A newcomer takes a seat on the overflow copy: its attendee list is sent again.
    newcomer = guests[PEOPLE]
    services.enroll(event, newcomer, actor=None)
    outlook.wait_synced(event.pk, timeout=60)

    assert newcomer.email in on_copy(event, copy.part)
    (shown,) = [e for e in live_copies(outlook, event.title) if e["id"] == copy.graph_id]
    assert "barbara@fabrikam.test" in shown["attendees"]
    assert newcomer.email in shown["attendees"]
    assert not SyncLogEntry.objects.filter(event=event, action="drift_overwritten").exists()
    page = outlook.browser(ADA).get(event.get_absolute_url()).content.decode()
    assert "On the meeting in Outlook only" in page and "barbara@fabrikam.test" in page


def test_drift_that_keeps_coming_back_on_an_overflow_copy_is_stopped(
    outlook: OutlookWorld, platform: bool
) -> None:
    event, _ = made(outlook, platform, "Fought over copy")
    copy = overflow(event)
    mailbox = owner(platform)

    for round_number in range(4):
        outlook.emulator.control(
            "PATCH",
            f"/mailboxes/{mailbox}/events/{copy.graph_id}",
            {"location": {"displayName": f"Rule says no ({round_number})"}},
        ).raise_for_status()
        outlook.wait_until(lambda: reconcile(mailbox, copy.graph_id, tasks.enqueue_sync))
        outlook.wait_until(
            lambda: (
                CalendarLink.objects.get(event=event).state == LinkState.FAILING
                or not CalendarLink.objects.get(event=event).is_behind
            ),
            timeout=30,
        )
        outlook.wait_idle()

    drifts = SyncLogEntry.objects.filter(event=event, action="drift_overwritten")
    assert [e.details["copy"] for e in drifts] == [1, 1, 1]
    repeating = SyncLogEntry.objects.get(event=event, action="drift_repeating")
    assert repeating.details["copy"] == 1
    link = CalendarLink.objects.get(event=event)
    assert link.state == LinkState.FAILING
    assert "Outlook keeps changing location of overflow copy 1" in link.last_error
    (shown,) = [e for e in live_copies(outlook, event.title) if e["id"] == copy.graph_id]
    assert shown["location"] == "Rule says no (3)", "not pushed back a fourth time"


def test_someone_joining_while_an_overflow_copy_is_deleted_is_invited_on_another(
    outlook: OutlookWorld, platform: bool
) -> None:
    """Nothing is sent to a copy deleted in Outlook until it is published again, so a newcomer
    is not seated on it: they take a seat on another copy (a new one here) and are invited."""
    event, guests = made(outlook, platform, "Joined meanwhile")
    copy = overflow(event)
    mailbox = owner(platform)
    delta_round(outlook, mailbox)
    delete_in_outlook(outlook, mailbox, copy.graph_id)
    delta_round(outlook, mailbox)
    check_deleted_copy_noticed(outlook, event, copy)

    newcomer = guests[PEOPLE]
    services.enroll(event, newcomer, actor=None)
    outlook.wait_synced(event.pk, timeout=60)

    assert newcomer.email not in on_copy(event, copy.part)
    holding = [
        e
        for e in census(outlook, event.title)["events"]
        if e["mailbox"] == newcomer.email and not e["isOrganizer"] and not e["isCancelled"]
    ]
    assert len(holding) == 1, "the newcomer has exactly one live copy"
    copy.refresh_from_db()
    assert copy.deleted_in_outlook_at is not None, "the deleted copy is still not remade"
