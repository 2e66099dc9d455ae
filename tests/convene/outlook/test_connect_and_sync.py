"""The organizer-calendar flow end to end: Convene, the emulator over HTTPS, MSAL, the worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.utils import timezone

from convene.events import services
from convene.events.models import EnrollmentRole, Event, OnlineKind
from convene.outlook.microsoft import crypto
from convene.outlook.models import CalendarLink, ConnectionStatus, OutlookConnection
from convene.outlook.outbound import queueing

from .conftest import OutlookWorld

ADA = "ada@contoso.test"
GRACE = "grace@contoso.test"
ALAN = "alan@contoso.test"
EDSGER = "edsger@contoso.test"
BARBARA = "barbara@fabrikam.test"


def event_form(**overrides: Any) -> dict[str, Any]:
    start = (timezone.now() + timedelta(days=10)).replace(second=0, microsecond=0)
    fields = {
        "title": "Distributed systems reading group",
        "description": "Chapter 3.\nBring questions.",
        "start": start.strftime("%Y-%m-%dT18:00"),
        "end": start.strftime("%Y-%m-%dT20:00"),
        "timezone": "Europe/Berlin",
        "location": "Room 101",
        "capacity": "",
    }
    return {**fields, **overrides}


def test_saving_without_a_connection_goes_through_microsoft_and_back_to_the_form(
    outlook: OutlookWorld,
) -> None:
    ada = outlook.browser(ADA)
    typed = event_form(title="Typed before signing in")

    response = ada.post("/events/new/", typed)

    assert response.status_code == 302
    assert response["Location"].startswith("/outlook/connect/?next=")
    assert not Event.objects.exists(), "nothing is saved before Outlook is connected"
    next_url = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    assert next_url.startswith("/events/new/?draft=")

    back = outlook.connect(ADA, next_url=next_url)

    assert back == next_url
    form_again = ada.get(back)
    assert b"Typed before signing in" in form_again.content
    connection = OutlookConnection.objects.get(user=outlook.people[ADA])
    assert connection.account_username == ADA
    assert connection.status == ConnectionStatus.CONNECTED

    saved = ada.post("/events/new/", typed)

    assert saved.status_code == 302
    event = Event.objects.get(title="Typed before signing in")
    outlook.wait_synced(event.pk)
    (copy,) = outlook.mailbox(ADA)
    assert copy["subject"] == "Typed before signing in"
    assert copy["originalStartTimeZone"] in ("Europe/Berlin", "W. Europe Standard Time")


def test_the_token_cache_is_stored_encrypted(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    connection = OutlookConnection.objects.get(user=outlook.people[ADA])
    assert "refresh_token" not in connection.encrypted_token_cache.lower()
    assert "RefreshToken" in crypto.decrypt(connection.encrypted_token_cache)


def test_an_event_reaches_the_organizer_and_every_attendee_in_any_tenant(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    services.add_person(event, outlook.people[GRACE], EnrollmentRole.ORGANIZER, actor=None)
    services.add_person(event, outlook.people[EDSGER], EnrollmentRole.PRESENTER, actor=None)
    services.enroll(event, outlook.people[ALAN], actor=None)
    services.enroll(event, outlook.people[BARBARA], actor=None)

    link = outlook.wait_synced(event.pk)

    (organizer_copy,) = outlook.mailbox(ADA)
    attendees = {a["emailAddress"]["address"] for a in organizer_copy["attendees"]}
    assert attendees == {GRACE, EDSGER, ALAN, BARBARA}
    for email in (GRACE, EDSGER, ALAN, BARBARA):
        (invitation,) = outlook.mailbox(email)
        assert invitation["iCalUId"] == link.ical_uid
        assert invitation["subject"] == event.title


def test_each_kind_of_change_is_one_request_and_no_change_is_none(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    services.enroll(event, outlook.people[ALAN], actor=None)
    outlook.wait_synced(event.pk)

    def writes() -> int:
        requests = outlook.stats()["requests"]["byOperation"]
        return sum(n for op, n in requests.items() if op.split(".")[-1] in WRITE_OPERATIONS)

    changes = [
        ("title", lambda: update(event, title="Renamed")),
        ("description", lambda: update(event, description="New notes")),
        (
            "start/end",
            lambda: update(
                event, start=event.start + timedelta(hours=1), end=event.end + timedelta(hours=1)
            ),
        ),
        ("time zone", lambda: update(event, timezone="America/New_York")),
        ("location", lambda: update(event, location="Room 202")),
        ("online", lambda: update(event, is_online=True, online_kind=OnlineKind.TEAMS)),
        ("enroll", lambda: services.enroll(event, outlook.people[EDSGER], actor=None)),
        ("unenroll", lambda: services.unenroll(event, outlook.people[ALAN], actor=None)),
        (
            "role",
            lambda: services.change_role(
                event, outlook.people[EDSGER], EnrollmentRole.PRESENTER, actor=None
            ),
        ),
    ]
    for name, change in changes:
        before = writes()
        change()
        outlook.wait_synced(event.pk)
        assert writes() - before == 1, f"{name}: expected exactly one Graph write"

    before = writes()
    update(event, capacity=50)  # not part of the Outlook copy
    services.update_event(event, services.EventDetails.of(event), actor=None)  # no change
    CalendarLink.objects.filter(event=event).update(
        desired_version=event.calendar_link.desired_version + 1
    )
    from convene.outlook import tasks
    from convene.outlook.outbound import queueing

    queueing.sweep(tasks.enqueue_sync)
    outlook.wait_synced(event.pk)
    assert writes() == before, "nothing changed, so nothing was sent"

    (copy,) = outlook.mailbox(ADA)
    assert copy["subject"] == "Renamed"
    assert copy["location"]["displayName"] == "Room 202"
    assert copy["isOnlineMeeting"] is True
    assert copy["onlineMeeting"]["joinUrl"]
    assert {a["emailAddress"]["address"] for a in copy["attendees"]} == {EDSGER}
    assert [a["type"] for a in copy["attendees"]] == ["required"]
    (removed,) = outlook.mailbox(ALAN)
    assert removed["isCancelled"] is True


def test_cancelling_cancels_in_outlook_with_the_reason(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    services.enroll(event, outlook.people[ALAN], actor=None)
    outlook.wait_synced(event.pk)

    services.cancel_event(event, actor=None, reason="Speaker is ill")

    outlook.wait_synced(event.pk)
    (invitation,) = outlook.mailbox(ALAN)
    assert invitation["isCancelled"] is True
    messages = outlook.emulator.control("GET", f"/mailboxes/{ALAN}/messages").json()["value"]
    cancellation = [m for m in messages if m.get("meetingMessageType") == "meetingCancelled"]
    assert cancellation and "Speaker is ill" in str(cancellation[-1])


def test_no_event_is_ever_created_twice(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    link = outlook.wait_synced(event.pk)
    # As if the worker crashed after Outlook created the event but before Convene noted it.
    CalendarLink.objects.filter(pk=link.pk).update(
        graph_id="", synced_version=0, state="pending", last_pushed={}
    )
    from convene.outlook import tasks

    queueing.sweep(tasks.enqueue_sync)
    outlook.wait_synced(event.pk)

    copies = outlook.mailbox(ADA)
    assert len({c["iCalUId"] for c in copies}) == 1
    assert len(copies) == 1


# --- helpers ------------------------------------------------------------------------------

WRITE_OPERATIONS = {"create", "update", "cancel", "delete"}


def create_event(outlook: OutlookWorld) -> Event:
    start = timezone.now() + timedelta(days=7)
    return services.create_event(
        services.EventDetails(
            title="Compilers night",
            start=start,
            end=start + timedelta(hours=2),
            timezone="Europe/Berlin",
            location="Room 1",
        ),
        creator=outlook.people[ADA],
    )


def update(event: Event, **changes: Any) -> None:
    event.refresh_from_db()
    details = services.EventDetails.of(event)
    services.update_event(
        event, services.EventDetails(**{**details.__dict__, **changes}), actor=None
    )
