"""Demo people and events, so a fresh Convene has something to show. Loading twice changes
nothing: people are matched by email, events by title and organizer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from convene.accounts.models import Role, User
from convene.core import extensions
from convene.events import services, waitlist
from convene.events.models import EnrollmentRole, Event
from convene.events.timezones import localize

# Demo data only: documented in the README and printed by `make run`.
DEMO_PASSWORD = "convene-demo"


@dataclass(frozen=True)
class DemoPerson:
    email: str
    name: str
    role: Role


PEOPLE = (
    DemoPerson("admin@convene.test", "Convene Admin", Role.ADMIN),
    DemoPerson("ada@contoso.test", "Ada Lovelace", Role.ORGANIZER),
    DemoPerson("grace@contoso.test", "Grace Hopper", Role.ORGANIZER),
    DemoPerson("alan@contoso.test", "Alan Turing", Role.REGULAR),
    DemoPerson("edsger@contoso.test", "Edsger Dijkstra", Role.REGULAR),
    DemoPerson("barbara@contoso.test", "Barbara Liskov", Role.REGULAR),
    DemoPerson("ken@contoso.test", "Ken Thompson", Role.REGULAR),
    DemoPerson("margaret@contoso.test", "Margaret Hamilton", Role.REGULAR),
)


@dataclass(frozen=True)
class DemoEvent:
    title: str
    organizer: str
    days_ahead: int
    local_start: time
    hours: float
    zone: str
    location: str = ""
    is_online: bool = False
    capacity: int | None = None
    description: str = ""
    presenters: tuple[str, ...] = ()
    attendees: tuple[str, ...] = ()
    co_organizers: tuple[str, ...] = field(default_factory=tuple)
    # A full event may have a waitlist, with these people on it in this order.
    waitlist_enabled: bool = False
    waiting: tuple[str, ...] = ()


EVENTS = (
    DemoEvent(
        "Analytical Engine: a hands-on tour",
        "ada@contoso.test",
        3,
        time(10),
        2,
        "Europe/London",
        "London, Room Babbage",
        capacity=20,
        description="Punch cards, a mill and a store.\nBring curiosity.",
        presenters=("alan@contoso.test",),
        attendees=("edsger@contoso.test", "barbara@contoso.test"),
    ),
    DemoEvent(
        "Compilers for everyone",
        "grace@contoso.test",
        5,
        time(14),
        1.5,
        "America/New_York",
        "Arlington, Hall A",
        capacity=3,
        description="From COBOL to today's compilers, in plain words.",
        attendees=("ken@contoso.test", "margaret@contoso.test", "alan@contoso.test"),
        waitlist_enabled=True,
        waiting=("barbara@contoso.test",),
    ),
    DemoEvent(
        "Structured programming clinic",
        "ada@contoso.test",
        7,
        time(9, 30),
        3,
        "Europe/Amsterdam",
        "Eindhoven, Lab 2",
        presenters=("edsger@contoso.test",),
        attendees=("barbara@contoso.test",),
    ),
    DemoEvent(
        "Abstraction and substitution",
        "grace@contoso.test",
        9,
        time(16),
        1,
        "America/Los_Angeles",
        is_online=True,
        description="An online talk on data abstraction.",
        presenters=("barbara@contoso.test",),
        attendees=("alan@contoso.test", "ken@contoso.test"),
    ),
    DemoEvent(
        "Unix philosophy meetup",
        "ada@contoso.test",
        12,
        time(18),
        2,
        "America/Chicago",
        "Murray Hill Cafe",
        capacity=30,
        presenters=("ken@contoso.test",),
        attendees=("edsger@contoso.test",),
    ),
    DemoEvent(
        "Apollo guidance software retrospective",
        "grace@contoso.test",
        14,
        time(11),
        2,
        "America/New_York",
        "Cambridge, MIT Building 33",
        presenters=("margaret@contoso.test",),
        attendees=("ada@contoso.test", "alan@contoso.test", "barbara@contoso.test"),
        co_organizers=("ada@contoso.test",),
    ),
    DemoEvent(
        "Codebreaking workshop",
        "ada@contoso.test",
        16,
        time(13),
        4,
        "Europe/London",
        "Bletchley Park, Hut 8",
        capacity=12,
        presenters=("alan@contoso.test",),
        attendees=("margaret@contoso.test", "ken@contoso.test"),
    ),
    DemoEvent(
        "Shortest paths over lunch",
        "grace@contoso.test",
        18,
        time(12),
        1,
        "Europe/Berlin",
        "Berlin, Kantine",
        is_online=True,
        attendees=("edsger@contoso.test",),
    ),
    DemoEvent(
        "Formal methods reading group",
        "ada@contoso.test",
        21,
        time(17),
        1.5,
        "Asia/Tokyo",
        is_online=True,
        attendees=("barbara@contoso.test", "edsger@contoso.test"),
    ),
    DemoEvent(
        "Women in computing history",
        "grace@contoso.test",
        24,
        time(10),
        2,
        "Australia/Sydney",
        "Sydney, Town Hall",
        capacity=100,
        presenters=("ada@contoso.test", "margaret@contoso.test"),
        attendees=("alan@contoso.test", "ken@contoso.test", "barbara@contoso.test"),
    ),
    DemoEvent(
        "Debugging stories",
        "ada@contoso.test",
        28,
        time(15),
        1,
        "Asia/Kolkata",
        is_online=True,
        presenters=("grace@contoso.test",),
        attendees=("edsger@contoso.test",),
    ),
    DemoEvent(
        "Year-end demo day",
        "grace@contoso.test",
        35,
        time(9),
        8,
        "Europe/Paris",
        "Paris, Station F",
        capacity=50,
        attendees=tuple(p.email for p in PEOPLE if p.role == Role.REGULAR),
    ),
)


def dev_setup(start: extensions.DevStart) -> extensions.DevSetup:
    """``manage.py rundev`` shows who can sign in."""
    return extensions.DevSetup(lines=["Demo sign-ins:", *sign_in_lines()])


def sign_in_lines() -> list[str]:
    return [f"  {p.role.label:<13} {p.email:<24} password: {DEMO_PASSWORD}" for p in PEOPLE]


def _person(spec: DemoPerson) -> User:
    user = User.objects.filter(email=spec.email).first()
    if user is None:
        return User.objects.create_user(
            spec.email, DEMO_PASSWORD, display_name=spec.name, role=spec.role
        )
    return user


def _local_start(spec: DemoEvent, today: date) -> datetime:
    return localize(
        datetime.combine(today + timedelta(days=spec.days_ahead), spec.local_start), spec.zone
    )


@transaction.atomic
def load() -> tuple[int, int]:
    """Create whatever demo people and events are missing; returns how many of each were new."""
    before_people = User.objects.count()
    people = {spec.email: _person(spec) for spec in PEOPLE}
    today = timezone.now().date()
    new_events = 0
    for spec in EVENTS:
        organizer = people[spec.organizer]
        if Event.objects.filter(title=spec.title, created_by=organizer).exists():
            continue
        start = _local_start(spec, today)
        event = services.create_event(
            services.EventDetails(
                title=spec.title,
                description=spec.description,
                start=start,
                end=start + timedelta(hours=spec.hours),
                timezone=spec.zone,
                location=spec.location,
                is_online=spec.is_online,
                capacity=spec.capacity,
                waitlist_enabled=spec.waitlist_enabled,
            ),
            creator=organizer,
            allow_past=True,  # an event of today may have started by the time demo data loads
        )
        for role, emails in (
            (EnrollmentRole.ORGANIZER, spec.co_organizers),
            (EnrollmentRole.PRESENTER, spec.presenters),
            (EnrollmentRole.ATTENDEE, spec.attendees),
        ):
            for email in emails:
                if event.enrollment_of(people[email]) is None:
                    services.add_person(event, people[email], role, actor=None)
        for email in spec.waiting:
            waitlist.join(event, people[email], actor=None)
        new_events += 1
    return User.objects.count() - before_people, new_events
