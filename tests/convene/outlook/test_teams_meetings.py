"""Teams meetings: checked against the calendar, read back after the push, kept across
updates, and never silently missing (Convene, the emulator over HTTPS, MSAL, the worker)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from tests.world import ADA, ALAN, CUSTOMER, PASSWORD, SERVICE_MAILBOX, world_seed

from convene.core.models import Notice
from convene.events import services
from convene.events.models import Event, OnlineKind
from convene.outlook.models import (
    CalendarLink,
    LinkState,
    Mode,
    OnlineMeeting,
    OutlookSettings,
)

from .conftest import PUBLIC_URL, OutlookWorld, teams_event
from .test_connect_and_sync import event_form


def update(event: Event, **changes: Any) -> None:
    event.refresh_from_db()
    details = services.EventDetails.of(event)
    services.update_event(
        event, services.EventDetails(**{**details.__dict__, **changes}), actor=None
    )


def reseed_ada(outlook: OutlookWorld, **settings: Any) -> None:
    """Change Ada's mailbox settings in the emulator (same user, same mailbox)."""
    seed = world_seed(PUBLIC_URL)
    (contoso,) = [t for t in seed["tenants"] if t["domain"] == CUSTOMER]
    contoso["users"] = [
        {"userPrincipalName": ADA, "displayName": "Ada Lovelace", "password": PASSWORD, **settings}
    ]
    contoso.pop("apps")
    outlook.emulator.control("POST", "/seed", {"tenants": [contoso]}).raise_for_status()


def meeting_of(event: Event) -> OnlineMeeting | None:
    return OnlineMeeting.objects.filter(event=event).first()


def test_the_join_url_reaches_convene_and_survives_updates(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = teams_event(outlook)
    services.enroll(event, outlook.people[ALAN], actor=None)
    outlook.wait_synced(event.pk)
    (copy,) = outlook.mailbox(ADA)
    meeting = meeting_of(event)
    assert meeting is not None and meeting.is_ready
    assert meeting.join_url == copy["onlineMeeting"]["joinUrl"]
    assert meeting.conference_id == copy["onlineMeeting"]["conferenceId"]

    update(event, title="Compilers night, part 2")
    outlook.wait_synced(event.pk)

    meeting.refresh_from_db()
    (copy,) = outlook.mailbox(ADA)
    assert copy["subject"] == "Compilers night, part 2"
    assert meeting.join_url == copy["onlineMeeting"]["joinUrl"], "the same meeting"


def test_enrolled_people_see_the_join_link_and_get_it_by_notice(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = teams_event(outlook)
    services.enroll(event, outlook.people[ALAN], actor=None)
    outlook.wait_synced(event.pk)
    meeting = meeting_of(event)
    assert meeting is not None

    page = outlook.browser(ALAN).get(event.get_absolute_url())

    assert meeting.join_url.encode() in page.content
    assert Notice.objects.filter(user=outlook.people[ALAN], text__contains=meeting.join_url)


def test_people_not_on_the_event_do_not_see_the_join_link(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = teams_event(outlook)
    outlook.wait_synced(event.pk)
    meeting = meeting_of(event)
    assert meeting is not None

    page = outlook.browser(ALAN).get(event.get_absolute_url())

    assert meeting.join_url.encode() not in page.content


def test_a_calendar_without_teams_says_so_plainly(outlook: OutlookWorld) -> None:
    reseed_ada(outlook, allowedOnlineMeetingProviders=[], defaultOnlineMeetingProvider="unknown")
    outlook.connect(ADA)
    event = teams_event(outlook)

    link = outlook.wait_synced(event.pk)

    meeting = meeting_of(event)
    assert meeting is not None
    assert meeting.state == OnlineMeeting.State.NOT_ALLOWED
    assert "not allowed" in meeting.problem
    (copy,) = outlook.mailbox(ADA)
    assert copy["isOnlineMeeting"] is False, "the event still reaches Outlook"
    assert link.state == LinkState.SYNCED
    assert Notice.objects.filter(user=outlook.people[ADA], text__contains="not allowed")
    page = outlook.browser(ADA).get(event.get_absolute_url())
    assert b"Teams meetings are not allowed" in page.content


def test_a_create_answered_without_a_meeting_is_retried_until_it_has_one(
    outlook: OutlookWorld,
) -> None:
    reseed_ada(outlook, teamsMeetingDelaySeconds=60)
    outlook.connect(ADA)
    event = teams_event(outlook)

    def asking_again() -> OnlineMeeting | None:
        # The push saves what Outlook answered, then queues the next ask.
        found = meeting_of(event)
        behind = CalendarLink.objects.get(event=event).is_behind
        missing = found is not None and found.state == OnlineMeeting.State.MISSING
        return found if missing and behind else None

    meeting = outlook.wait_until(asking_again)
    assert "has not made its Teams meeting" in meeting.problem
    assert Notice.objects.filter(user=outlook.people[ADA], text__contains="Teams meeting")
    link = CalendarLink.objects.get(event=event)

    outlook.emulator.advance_clock(61)
    CalendarLink.objects.filter(pk=link.pk).update(next_attempt_at=timezone.now())
    from convene.outlook import tasks
    from convene.outlook.outbound import queueing

    queueing.sweep(tasks.enqueue_sync)

    def ready() -> OnlineMeeting | None:
        found = meeting_of(event)
        return found if found is not None and found.is_ready else None

    meeting = outlook.wait_until(ready)
    (copy,) = outlook.mailbox(ADA)
    assert meeting.join_url == copy["onlineMeeting"]["joinUrl"]
    assert len(outlook.mailbox(ADA)) == 1, "still one event in Outlook"


def test_my_own_link_makes_no_teams_meeting(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    start = timezone.now() + timedelta(days=7)
    event = services.create_event(
        services.EventDetails(
            title="Own link",
            start=start,
            end=start + timedelta(hours=1),
            timezone="Europe/Berlin",
            is_online=True,
            online_url="https://meet.example.org/room",
            online_kind=OnlineKind.LINK,
        ),
        creator=outlook.people[ADA],
    )
    outlook.wait_synced(event.pk)
    (copy,) = outlook.mailbox(ADA)
    assert copy["isOnlineMeeting"] is False
    assert "https://meet.example.org/room" in copy["body"]["content"]
    assert meeting_of(event) is None


def test_the_form_offers_a_teams_meeting_and_drops_a_typed_link_for_it(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    ada = outlook.browser(ADA)
    assert b"Teams meeting" in ada.get("/events/new/").content
    typed = event_form(
        title="Teams from the form",
        is_online="on",
        online_kind="teams",
        online_url="https://meet.example.org/ignored",
    )

    assert ada.post("/events/new/", typed).status_code == 302

    event = Event.objects.get(title="Teams from the form")
    assert (event.online_kind, event.online_url) == (OnlineKind.TEAMS, "")
    outlook.wait_synced(event.pk)
    (copy,) = outlook.mailbox(ADA)
    assert copy["onlineMeeting"]["joinUrl"]


def test_in_platform_mode_the_service_mailbox_makes_the_teams_meeting(
    outlook: OutlookWorld,
) -> None:
    outlook.emulator.reset(world_seed(PUBLIC_URL, platform_consented=True))
    OutlookSettings.objects.filter(pk=1).update(mode=Mode.PLATFORM, service_mailbox=SERVICE_MAILBOX)
    event = teams_event(outlook)

    outlook.wait_synced(event.pk)

    (copy,) = outlook.mailbox(SERVICE_MAILBOX)
    meeting = meeting_of(event)
    assert meeting is not None and meeting.join_url == copy["onlineMeeting"]["joinUrl"]


def test_a_meeting_outlook_makes_late_arrives_with_the_next_read(outlook: OutlookWorld) -> None:
    reseed_ada(outlook, teamsMeetingDelaySeconds=60)
    outlook.connect(ADA)
    event = teams_event(outlook)
    outlook.wait_until(lambda: meeting_of(event))
    outlook.emulator.advance_clock(61)
    link = outlook.wait_until(
        lambda: CalendarLink.objects.exclude(graph_id="").filter(event=event).first()
    )
    from convene.outlook import tasks
    from convene.outlook.inbound import reconcile

    # What the worker does when Outlook's notification of the change arrives (False while the
    # push that met the missing meeting still holds the event's lease: then again).
    outlook.wait_until(lambda: reconcile.reconcile(ADA, link.graph_id, tasks.enqueue_sync))

    meeting = meeting_of(event)
    assert meeting is not None and meeting.is_ready
