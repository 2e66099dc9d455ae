"""Answers given in Outlook come back to Convene: through real notifications to the webhook, with
the worker running, against the emulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from convene.core.models import Notice
from convene.events import services
from convene.events.models import EnrollmentRole
from convene.outlook.models import AttendeeReply, LogKind, SyncLogEntry

from .conftest import OutlookWorld
from .test_replies_world import (
    ADA,
    ALAN,
    BARBARA,
    EDSGER,
    GRACE,
    copy_of,
    create_event,
    is_enrolled,
    live,
    organizer_copy,
    respond,
    set_unenroll_on_decline,
    settle,
    subscribe,
)

__all__ = ["live"]


def test_a_decline_in_outlook_unenrolls_within_seconds(
    live: OutlookWorld, mailoutbox: list[Any]
) -> None:
    event = create_event(live, ALAN, EDSGER)
    subscribe(live)

    respond(live, ALAN, event, "decline", comment="Sorry, travelling")

    live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)
    reply = AttendeeReply.objects.get(event=event, email=ALAN)
    assert reply.response == "declined"
    assert reply.user == live.people[ALAN]
    assert reply.responded_at is not None
    entry = live.wait_until(
        lambda: SyncLogEntry.objects.filter(kind=LogKind.REPLY, event=event).first(), timeout=5
    )
    assert entry.user == live.people[ALAN]
    assert entry.status == "unenrolled"
    assert "declined in Outlook" in entry.message
    assert is_enrolled(event, EDSGER)
    # Unenrolling is a normal change: Outlook's attendee list follows, nobody is re-invited.
    settle(live, event)
    attendees = {a["emailAddress"]["address"] for a in organizer_copy(live, event)["attendees"]}
    assert attendees == {EDSGER}
    assert copy_of(live, ALAN, event)["isCancelled"] is True
    assert live.stats()["notifications"]["delivered"] >= 1


def test_the_organizer_is_told_in_the_app_and_by_email(
    live: OutlookWorld, mailoutbox: list[Any]
) -> None:
    event = create_event(live, ALAN)
    subscribe(live)

    respond(live, ALAN, event, "decline")

    live.wait_until(lambda: Notice.objects.filter(user=live.people[ADA]).exists(), timeout=10)
    notice = Notice.objects.get(user=live.people[ADA])
    assert "Alan Turing declined" in notice.text and event.title in notice.text
    assert notice.url.endswith(event.get_absolute_url())
    live.wait_until(lambda: any(ADA in m.to for m in mailoutbox), timeout=5)
    (mail,) = [m for m in mailoutbox if ADA in m.to]
    assert "Declined" in mail.subject and "Alan Turing declined" in mail.body
    page = live.browser(ADA).get("/")
    assert b"Notices" in live.browser(ADA).get("/notices/").content
    assert page.context["nav_unread_notices"] == 1
    assert b'1<span class="visually-hidden"> unread</span>' in page.content
    assert live.browser(ADA).get("/").context["nav_unread_notices"] == 0


def test_accepted_and_tentative_answers_are_shown_to_the_organizer(live: OutlookWorld) -> None:
    event = create_event(live, ALAN, EDSGER, BARBARA)
    subscribe(live)

    respond(live, EDSGER, event, "accept")
    respond(live, BARBARA, event, "tentativelyAccept")
    respond(live, ALAN, event, "decline")

    live.wait_until(lambda: AttendeeReply.objects.filter(event=event).count() == 3, timeout=10)
    assert is_enrolled(event, EDSGER) and is_enrolled(event, BARBARA)
    page = live.browser(ADA).get(event.get_absolute_url()).content.decode()
    panel = page[page.index("Answers in Outlook") :]
    assert panel.index("Accepted (1)") < panel.index("Edsger Dijkstra")
    assert panel.index("Tentative (1)") < panel.index("Barbara Liskov")
    assert panel.index("Declined (1)") < panel.index("Alan Turing")
    # Attendees do not see the organizer's view of who answered what.
    assert (
        "Answers in Outlook"
        not in live.browser(EDSGER).get(event.get_absolute_url()).content.decode()
    )


def test_with_the_setting_off_a_decline_is_recorded_but_nobody_is_unenrolled(
    live: OutlookWorld,
) -> None:
    set_unenroll_on_decline(False)
    event = create_event(live, ALAN)
    subscribe(live)

    respond(live, ALAN, event, "decline")

    entry = live.wait_until(
        lambda: SyncLogEntry.objects.filter(kind=LogKind.REPLY, event=event).first(), timeout=10
    )
    assert entry.status == "kept_setting_off"
    assert AttendeeReply.objects.get(event=event, email=ALAN).response == "declined"
    assert is_enrolled(event, ALAN)


def test_an_organizer_who_declines_is_never_unenrolled(live: OutlookWorld) -> None:
    event = create_event(live)
    services.add_person(event, live.people[GRACE], EnrollmentRole.ORGANIZER, actor=None)
    live.wait_synced(event.pk)
    subscribe(live)

    respond(live, GRACE, event, "decline")

    entry = live.wait_until(
        lambda: SyncLogEntry.objects.filter(kind=LogKind.REPLY, event=event).first(), timeout=10
    )
    assert entry.status == "kept_organizer"
    assert is_enrolled(event, GRACE)


def test_a_decline_for_an_event_that_has_begun_changes_nothing(live: OutlookWorld) -> None:
    event = create_event(live, ALAN, starts_in=-timedelta(minutes=30))
    subscribe(live)

    respond(live, ALAN, event, "decline")

    entry = live.wait_until(
        lambda: SyncLogEntry.objects.filter(kind=LogKind.REPLY, event=event).first(), timeout=10
    )
    assert entry.status == "kept_started"
    assert is_enrolled(event, ALAN)


def test_someone_unenrolled_after_declining_can_enroll_again_and_is_invited_again(
    live: OutlookWorld,
) -> None:
    event = create_event(live, ALAN)
    subscribe(live)
    respond(live, ALAN, event, "decline")
    live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)
    settle(live, event)
    assert copy_of(live, ALAN, event)["isCancelled"] is True

    services.enroll(event, live.people[ALAN], actor=None)

    settle(live, event)
    invitation = copy_of(live, ALAN, event)
    assert invitation["isCancelled"] is False
    assert invitation["responseStatus"]["response"] == "notResponded"
    messages = live.emulator.control("GET", f"/mailboxes/{ALAN}/messages").json()["value"]
    assert messages[-1]["meetingMessageType"] == "meetingRequest"
    attendees = {a["emailAddress"]["address"] for a in organizer_copy(live, event)["attendees"]}
    assert attendees == {ALAN}
    # The old decline is history: it does not unenroll them a second time.
    live.wait_until(
        lambda: AttendeeReply.objects.get(event=event, email=ALAN).response == "none", timeout=10
    )
    assert is_enrolled(event, ALAN)
    # ... and a new one does.
    respond(live, ALAN, event, "decline")
    live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)
