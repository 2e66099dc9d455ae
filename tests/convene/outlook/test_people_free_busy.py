"""The double-booking warning on Manage people, over HTTP against the emulator: adding a
presenter or co-organizer who is busy in Outlook at the event's time (for a series, in which
sessions) is warned about before adding, without private details; attendees are not asked
about; only the event's managers may ask."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from convene.events import series, services
from convene.events.models import EnrollmentRole, Event
from convene.events.recurrence import Frequency, Rule

from .conftest import OutlookWorld
from .test_connect_and_sync import ADA, ALAN, GRACE
from .test_free_busy import PRIVATE_SUBJECT, ada_event, busy


def ask(world: OutlookWorld, who: str, event: Event, email: str, role: str) -> str:
    response = world.browser(who).post(
        f"/outlook/events/{event.pk}/people-free-busy/", {"email": email, "role": role}
    )
    assert response.status_code == 200
    return response.content.decode()


def test_adding_a_busy_presenter_warns_before_adding(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = ada_event(outlook)
    busy(outlook, GRACE, event)

    page = outlook.browser(ADA).get(f"/events/{event.pk}/people/").content.decode()
    assert f'hx-post="/outlook/events/{event.pk}/people-free-busy/"' in page
    warning = ask(outlook, ADA, event, GRACE.upper(), EnrollmentRole.PRESENTER)

    assert "Grace Hopper is busy then" in warning
    assert "you can still add them" in warning
    assert PRIVATE_SUBJECT not in warning
    assert "Grace Hopper is busy then" in ask(outlook, ADA, event, GRACE, EnrollmentRole.ORGANIZER)


def test_attendees_free_people_and_bad_addresses_are_not_flagged(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = ada_event(outlook)
    busy(outlook, GRACE, event)

    assert ask(outlook, ADA, event, GRACE, EnrollmentRole.ATTENDEE).strip() == ""
    assert ask(outlook, ADA, event, "not an address", EnrollmentRole.PRESENTER).strip() == ""
    assert "busy" not in ask(outlook, ADA, event, ALAN, EnrollmentRole.PRESENTER)
    services.add_person(event, outlook.people[GRACE], EnrollmentRole.PRESENTER, actor=None)
    assert ask(outlook, ADA, event, GRACE, EnrollmentRole.PRESENTER).strip() == ""


def test_only_the_events_managers_may_ask(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = ada_event(outlook)
    answer = outlook.browser(ALAN).post(
        f"/outlook/events/{event.pk}/people-free-busy/",
        {"email": GRACE, "role": EnrollmentRole.PRESENTER},
    )
    assert answer.status_code == 403
    page = outlook.browser(ALAN).get(f"/events/{event.pk}/people/")
    assert page.status_code in (302, 403)


def test_for_a_series_the_warning_names_the_sessions_that_clash(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    first = (timezone.now() + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    with transaction.atomic():
        event = series.create_series(
            services.EventDetails(
                title="Daily stand-up",
                start=first,
                end=first + timedelta(hours=1),
                timezone="UTC",
            ),
            Rule(Frequency.DAILY, count=10),
            creator=outlook.people[ADA],
        )
    sessions = series.sessions(event)
    for number in (2, 7):
        clash = Event(title="x", start=sessions[number].start, end=sessions[number].end)
        busy(outlook, GRACE, clash)

    warning = ask(outlook, ADA, event, GRACE, EnrollmentRole.PRESENTER)

    assert "Grace Hopper is busy then in sessions 3, 8 of 10" in warning
