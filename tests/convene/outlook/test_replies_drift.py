"""Changes made in Outlook to a synced event: drift is overwritten and logged; a deletion is
respected until the organizer publishes the event again."""

from __future__ import annotations

from datetime import timedelta

from convene.core.models import Notice
from convene.events import services
from convene.events.models import Event
from convene.outlook import tasks
from convene.outlook.models import CalendarLink, LinkState, LogKind, SyncLogEntry
from convene.outlook.outbound import queueing

from .conftest import OutlookWorld
from .test_replies_world import (
    ADA,
    ALAN,
    copy_of,
    create_event,
    live,
    organizer_copy,
    settle,
    subscribe,
)

__all__ = ["live"]


def edit_in_outlook(world: OutlookWorld, graph_id: str, changes: dict[str, object]) -> None:
    response = world.emulator.control("PATCH", f"/mailboxes/{ADA}/events/{graph_id}", changes)
    response.raise_for_status()


def drift_entries(event_id: int) -> list[SyncLogEntry]:
    return list(
        SyncLogEntry.objects.filter(
            kind=LogKind.DECISION, action="drift_overwritten", event_id=event_id
        )
    )


def test_edits_in_outlook_to_what_convene_owns_are_overwritten_and_logged(
    live: OutlookWorld,
) -> None:
    event = create_event(live, ALAN)
    link = CalendarLink.objects.get(event=event)
    subscribe(live)

    edit_in_outlook(
        live,
        link.graph_id,
        {
            "subject": "Renamed in Outlook",
            "location": {"displayName": "Somewhere else"},
            "start": {"dateTime": "2031-01-01T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2031-01-01T11:00:00", "timeZone": "UTC"},
        },
    )

    live.wait_until(lambda: drift_entries(event.pk), timeout=10)
    live.wait_until(lambda: organizer_copy(live, event)["subject"] == event.title, timeout=10)
    settle(live, event)
    restored = organizer_copy(live, event)
    assert restored["location"]["displayName"] == "Room 1"
    assert restored["start"]["dateTime"].startswith(event.start.strftime("%Y-%m-%dT%H:%M")), (
        "start is back (Graph answers in UTC)"
    )
    (entry,) = drift_entries(event.pk)
    assert set(entry.details["properties"]) == {"subject", "location", "start", "end"}
    assert copy_of(live, ALAN, event)["subject"] == event.title


def test_an_attendee_removed_in_outlook_is_put_back(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    link = CalendarLink.objects.get(event=event)
    subscribe(live)

    edit_in_outlook(live, link.graph_id, {"attendees": []})

    live.wait_until(lambda: organizer_copy(live, event)["attendees"], timeout=10)
    assert drift_entries(event.pk)[0].details["properties"] == ["attendees"]
    assert copy_of(live, ALAN, event)["isCancelled"] is False


def test_convenes_own_changes_and_outlooks_formatting_are_not_drift(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    subscribe(live)

    details = services.EventDetails.of(event)
    services.update_event(
        event,
        services.EventDetails(
            **{
                **details.__dict__,
                "title": "New title",
                "description": "Line one\n\nLine <two> & more",
                "start": event.start + timedelta(hours=1),
                "end": event.end + timedelta(hours=1),
            }
        ),
        actor=None,
    )
    settle(live, event)
    # Our own PATCH is notified too; comparing with what Outlook returns finds nothing.
    queueing.retry_now(
        CalendarLink.objects.get(event=event), tasks.enqueue_sync, compare_again=True
    )
    settle(live, event)
    live.wait_idle()

    assert drift_entries(event.pk) == []


def test_an_event_deleted_in_outlook_is_marked_and_never_recreated_on_its_own(
    live: OutlookWorld,
) -> None:
    event = create_event(live, ALAN)
    link = CalendarLink.objects.get(event=event)
    subscribe(live)

    live.emulator.control("DELETE", f"/mailboxes/{ADA}/events/{link.graph_id}").raise_for_status()

    live.wait_until(
        lambda: CalendarLink.objects.get(event=event).state == LinkState.DELETED_IN_OUTLOOK,
        timeout=10,
    )
    notice = live.wait_until(lambda: Notice.objects.filter(user=live.people[ADA]).first())
    assert "deleted from Outlook" in notice.text
    # Later changes and the sweep leave it alone: re-creating would invite everyone again.
    services.enroll(event, live.people["edsger@contoso.test"], actor=None)
    queueing.sweep(tasks.enqueue_sync)
    live.wait_idle()
    assert live.mailbox(ADA) == []
    page = live.browser(ADA).get(event.get_absolute_url()).content.decode()
    assert "Deleted in Outlook" in page and "Publish again" in page


def test_publish_again_makes_a_new_outlook_copy_and_invites_everyone_again(
    live: OutlookWorld,
) -> None:
    event = create_event(live, ALAN)
    old = CalendarLink.objects.get(event=event)
    subscribe(live)
    live.emulator.control("DELETE", f"/mailboxes/{ADA}/events/{old.graph_id}").raise_for_status()
    live.wait_until(
        lambda: CalendarLink.objects.get(event=event).state == LinkState.DELETED_IN_OUTLOOK,
        timeout=10,
    )

    response = live.browser(ADA).post(f"/outlook/events/{event.pk}/publish-again/")

    assert response.status_code == 302
    link = live.wait_synced(event.pk)
    assert link.generation == old.generation + 1
    assert link.graph_id != old.graph_id and link.ical_uid != old.ical_uid
    (copy,) = live.mailbox(ADA)
    assert copy["id"] == link.graph_id
    invitation = copy_of(live, ALAN, event)
    assert invitation["isCancelled"] is False
    assert SyncLogEntry.objects.filter(action="publish_again", event=event).count() == 1


def test_only_the_events_managers_may_publish_again(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    CalendarLink.objects.filter(event=event).update(state=LinkState.DELETED_IN_OUTLOOK)

    response = live.browser(ALAN).post(f"/outlook/events/{event.pk}/publish-again/")

    assert response.status_code == 403
    assert CalendarLink.objects.get(event=event).state == LinkState.DELETED_IN_OUTLOOK


def test_convenes_own_late_write_is_not_taken_for_an_edit_in_outlook(live: OutlookWorld) -> None:
    # A PATCH that timed out here but ran in Outlook: the copy shows what Convene wants, and
    # Convene never learned its changeKey. That is Convene's own write, not drift to repair.
    event = create_event(live, ALAN)
    subscribe(live)
    link = CalendarLink.objects.get(event=event)
    # Saved without a signal: the push that would follow is the one that "timed out".
    Event.objects.filter(pk=event.pk).update(title="Renamed by Convene")

    edit_in_outlook(live, link.graph_id, {"subject": "Renamed by Convene"})
    live.wait_idle()

    assert drift_entries(event.pk) == []


def test_someone_added_in_outlook_stays_on_the_meeting_and_is_shown(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    link = CalendarLink.objects.get(event=event)
    subscribe(live)
    alan_and_forwarded = [
        *organizer_copy(live, event)["attendees"],
        {
            "emailAddress": {"address": "barbara@fabrikam.test", "name": "Barbara"},
            "type": "required",
        },
    ]

    edit_in_outlook(live, link.graph_id, {"attendees": alan_and_forwarded})
    live.wait_until(
        lambda: SyncLogEntry.objects.filter(action="outlook_only_attendees", event=event).exists(),
        timeout=10,
    )
    services.enroll(event, live.people["edsger@contoso.test"], actor=None)
    settle(live, event)

    addresses = sorted(
        a["emailAddress"]["address"] for a in organizer_copy(live, event)["attendees"]
    )
    assert addresses == [ALAN, "barbara@fabrikam.test", "edsger@contoso.test"]
    assert drift_entries(event.pk) == []
    page = live.browser(ADA).get(event.get_absolute_url()).content.decode()
    assert "On the meeting in Outlook only" in page
    assert "barbara@fabrikam.test" in page


def test_drift_that_keeps_coming_back_is_stopped_and_flagged(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    link = CalendarLink.objects.get(event=event)
    subscribe(live)

    for round_number in range(4):
        edit_in_outlook(live, link.graph_id, {"subject": f"Rule says no ({round_number})"})
        live.wait_until(
            lambda n=round_number: (
                len(drift_entries(event.pk)) > n
                or SyncLogEntry.objects.filter(action="drift_repeating", event=event).exists()
            ),
            timeout=10,
        )
        settle_or_failing(live, event)

    link.refresh_from_db()
    assert len(drift_entries(event.pk)) == 3
    assert link.state == LinkState.FAILING
    assert "Outlook keeps changing subject" in link.last_error
    assert organizer_copy(live, event)["subject"] == "Rule says no (3)", "not pushed back again"


def settle_or_failing(world: OutlookWorld, event: object) -> None:
    def quiet() -> bool:
        link = CalendarLink.objects.get(event=event)
        return link.state == LinkState.FAILING or (
            link.state == LinkState.SYNCED and not link.is_behind and not link.queued_at
        )

    world.wait_until(quiet, timeout=15)
    world.wait_idle()
