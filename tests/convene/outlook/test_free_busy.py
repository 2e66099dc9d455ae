"""Double-booking warnings from Outlook's free/busy, over HTTP against the emulator: a busy
presenter, a busy room, a mailbox that shares no free/busy, a series clashing in some sessions,
a slow answer, and the gentle note for a person about to enroll."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone
from tests.world import PASSWORD, SERVICE_MAILBOX, world_seed

from convene.events import services
from convene.events.models import EnrollmentRole, Event
from convene.outlook import free_busy
from convene.outlook.models import Mode, OutlookSettings, Room

from .conftest import PUBLIC_URL, OutlookWorld
from .test_connect_and_sync import ADA, GRACE
from .test_rooms import ROOM, book, rooms_seed

PRIVATE_SUBJECT = "Dentist appointment"


def ada_event(outlook: OutlookWorld, start: Any = None, title: str = "Compilers night") -> Event:
    start = start or (timezone.now() + timedelta(days=7)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    event = services.create_event(
        services.EventDetails(
            title=title, start=start, end=start + timedelta(hours=1), timezone="UTC"
        ),
        creator=outlook.people[ADA],
    )
    return event


def busy(outlook: OutlookWorld, email: str, event: Event, **extra: Any) -> None:
    """Something else in ``email``'s own calendar at the event's time."""
    outlook.emulator.control(
        "POST",
        f"/mailboxes/{email}/events",
        {
            "subject": PRIVATE_SUBJECT,
            "start": {"dateTime": event.start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": event.end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            **extra,
        },
    ).raise_for_status()


def ask(client: Client, event: Event, **typed: str) -> str:
    response = client.post("/outlook/free-busy/", {"event": str(event.pk), **typed})
    assert response.status_code == 200
    return response.content.decode()


def test_a_busy_presenter_is_warned_about_without_private_details(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = ada_event(outlook)
    services.add_person(event, outlook.people[GRACE], EnrollmentRole.PRESENTER, actor=None)
    busy(outlook, GRACE, event)

    warning = ask(outlook.browser(ADA), event)

    assert "Grace Hopper is busy then" in warning
    assert PRIVATE_SUBJECT not in warning


def test_a_presenter_free_at_the_typed_time_is_not_flagged(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = ada_event(outlook)
    services.add_person(event, outlook.people[GRACE], EnrollmentRole.PRESENTER, actor=None)
    busy(outlook, GRACE, event)
    later = event.start + timedelta(hours=3)

    warning = ask(
        outlook.browser(ADA),
        event,
        start=later.strftime("%Y-%m-%dT%H:%M"),
        end=(later + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        timezone="UTC",
    )

    assert "Grace Hopper" not in warning


def test_the_events_own_invitation_is_not_a_clash(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = ada_event(outlook)
    services.add_person(event, outlook.people[GRACE], EnrollmentRole.PRESENTER, actor=None)
    outlook.wait_synced(event.pk)
    assert outlook.mailbox(GRACE), "Grace has the invitation"

    assert "Grace Hopper" not in ask(outlook.browser(ADA), event)


def test_only_the_events_editors_may_ask_about_its_people(outlook: OutlookWorld) -> None:
    outlook.connect(GRACE)
    event = ada_event(outlook)

    answer = outlook.browser(GRACE).post("/outlook/free-busy/", {"event": str(event.pk)})

    assert answer.status_code == 403


def test_out_of_office_is_named_as_such(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = ada_event(outlook)
    services.add_person(event, outlook.people[GRACE], EnrollmentRole.ORGANIZER, actor=None)
    busy(outlook, GRACE, event, showAs="oof")

    assert "Grace Hopper is out of office then" in ask(outlook.browser(ADA), event)


def test_a_mailbox_that_shares_no_free_busy_is_named(outlook: OutlookWorld) -> None:
    seed = world_seed(PUBLIC_URL)
    (contoso,) = [t for t in seed["tenants"] if t["domain"] == "contoso.test"]
    contoso.pop("apps")
    contoso["users"] = [
        {
            "userPrincipalName": GRACE,
            "displayName": "Grace Hopper",
            "password": PASSWORD,
            "sharesFreeBusy": False,
        }
    ]
    outlook.emulator.control("POST", "/seed", {"tenants": [contoso]}).raise_for_status()
    outlook.connect(ADA)
    event = ada_event(outlook)
    services.add_person(event, outlook.people[GRACE], EnrollmentRole.PRESENTER, actor=None)

    warning = ask(outlook.browser(ADA), event)

    assert "does not share the free/busy of Grace Hopper" in warning


def test_a_slow_answer_says_the_check_could_not_be_made(
    outlook: OutlookWorld, monkeypatch: Any
) -> None:
    monkeypatch.setattr(free_busy, "FREE_BUSY_SECONDS", 0.3)
    outlook.connect(ADA)
    event = ada_event(outlook)
    services.add_person(event, outlook.people[GRACE], EnrollmentRole.PRESENTER, actor=None)
    outlook.emulator.control(
        "POST",
        "/faults",
        {"action": "delay", "delayMs": 3000, "path": "getSchedule", "count": 1},
    ).raise_for_status()
    started = timezone.now()

    warning = ask(outlook.browser(ADA), event)

    assert "could not be made" in warning
    assert timezone.now() - started < timedelta(seconds=2.5), "the form is not held up"
    # The abandoned request finishes in the background; let it end before the test's data go.
    outlook.wait_until(
        lambda: not any(t.name == "free-busy" for t in threading.enumerate()), timeout=10
    )


def test_a_series_clashing_in_two_of_ten_sessions_names_those_sessions(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    first = (timezone.now() + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    sessions = [(first + timedelta(days=d), first + timedelta(days=d, hours=1)) for d in range(10)]
    for number in (2, 7):
        start, end = sessions[number]
        outlook.emulator.control(
            "POST",
            f"/mailboxes/{GRACE}/events",
            {
                "subject": PRIVATE_SUBJECT,
                "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            },
        ).raise_for_status()
    client = free_busy.client_for(outlook.people[ADA], OutlookSettings.load())
    assert client is not None

    found = free_busy.check(client, [free_busy.Attendee(GRACE, "Grace Hopper")], sessions)

    assert not found.failed
    assert found.sessions_of("Grace Hopper") == [2, 7]


def test_a_busy_room_is_warned_about(outlook: OutlookWorld) -> None:
    outlook.emulator.reset(rooms_seed())
    OutlookSettings.objects.filter(pk=1).update(mode=Mode.PLATFORM, service_mailbox=SERVICE_MAILBOX)
    admin = outlook.browser("admin@contoso.test")
    admin.post("/outlook/admin/rooms/", {"read": "1"})
    admin.post(
        "/outlook/admin/rooms/",
        {"offered": [str(r) for r in Room.objects.values_list("pk", flat=True)]},
    )
    first = book(outlook, ROOM)
    outlook.wait_synced(first.pk)
    second = ada_event(outlook, start=first.start, title="Another talk")
    second_end = first.end

    warning = ask(
        outlook.browser(ADA),
        second,
        room=str(Room.objects.get(email=ROOM).pk),
        start=first.start.strftime("%Y-%m-%dT%H:%M"),
        end=second_end.strftime("%Y-%m-%dT%H:%M"),
        timezone="UTC",
    )

    assert "Room A is busy then" in warning


def test_a_person_about_to_enroll_gets_a_gentle_note(outlook: OutlookWorld) -> None:
    outlook.connect(GRACE)
    event = ada_event(outlook)
    busy(outlook, GRACE, event)
    grace = outlook.browser(GRACE)

    page = grace.get(event.get_absolute_url()).content.decode()
    note = grace.get(f"/outlook/events/{event.pk}/my-free-busy/").content.decode()

    assert f"/outlook/events/{event.pk}/my-free-busy/" in page
    assert "your Outlook calendar shows you busy" in note
    assert PRIVATE_SUBJECT not in note


def test_no_note_when_the_own_calendar_is_free(outlook: OutlookWorld) -> None:
    outlook.connect(GRACE)
    event = ada_event(outlook)

    note = outlook.browser(GRACE).get(f"/outlook/events/{event.pk}/my-free-busy/")

    assert "busy" not in note.content.decode()
