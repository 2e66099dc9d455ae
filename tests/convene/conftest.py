"""Fixtures for Convene's tests: people of every role and events made through the services."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from convene.accounts.models import Role, User
from convene.core.models import SiteSettings
from convene.events import services
from convene.events.changes import EventChange, event_change_committed, event_change_recorded
from convene.events.models import Event


@pytest.fixture(autouse=True)
def huey_runs_tasks_immediately() -> Iterator[None]:
    """Tasks run in-process, in memory, unless a test says otherwise."""
    previous = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = previous


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # The real hasher is slow on purpose; tests create many people.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The event form (events:create) filled in validly: a test changes a field to see it refused.
VALID_EVENT = {
    "title": "Planning day",
    "timezone": "Europe/Berlin",
    "start": "2030-05-06T09:00",
    "end": "2030-05-06T17:00",
    "location": "Berlin",
    "capacity": "",
    "online_url": "",
    "description": "",
}

MakeUser = Callable[..., User]


@pytest.fixture
def make_user(db: None) -> MakeUser:
    counter = iter(range(1, 10_000))

    def make(role: Role = Role.REGULAR, email: str | None = None, **fields: Any) -> User:
        number = next(counter)
        return User.objects.create_user(
            email or f"{role}{number}@example.test",
            "pw-for-tests",
            display_name=fields.pop("display_name", f"{role.label} {number}"),
            role=role,
            **fields,
        )

    return make


@pytest.fixture
def admin_user(make_user: MakeUser) -> User:
    return make_user(Role.ADMIN, email="admin@example.test")


@pytest.fixture
def organizer(make_user: MakeUser) -> User:
    return make_user(Role.ORGANIZER, email="organizer@example.test")


@pytest.fixture
def other_organizer(make_user: MakeUser) -> User:
    return make_user(Role.ORGANIZER, email="other-organizer@example.test")


@pytest.fixture
def regular(make_user: MakeUser) -> User:
    return make_user(Role.REGULAR, email="regular@example.test")


@pytest.fixture
def regulars_may_create(db: None) -> SiteSettings:
    site = SiteSettings.load()
    site.regular_users_may_create_events = True
    site.save()
    return site


def event_details(**overrides: Any) -> services.EventDetails:
    """Valid details for an event a week from now; ``overrides`` replace any field."""
    start = overrides.pop("start", timezone.now() + timedelta(days=7))
    fields: dict[str, Any] = {
        "title": "Team offsite",
        "start": start,
        "end": overrides.pop("end", start + timedelta(hours=2)),
        "timezone": "Europe/Berlin",
        "description": "Plans for next year.",
        "location": "Berlin",
    }
    fields.update(overrides)
    return services.EventDetails(**fields)


MakeEvent = Callable[..., Event]


@pytest.fixture
def make_event(organizer: User) -> MakeEvent:
    def make(creator: User | None = None, **overrides: Any) -> Event:
        """An event as a scene needs it; scenes may put one in the past (a person may not)."""
        return services.create_event(
            event_details(**overrides), creator=creator or organizer, allow_past=True
        )

    return make


@pytest.fixture
def event(make_event: MakeEvent) -> Event:
    return make_event()


class ChangeLog:
    """Collects the changes both signals announce."""

    def __init__(self) -> None:
        self.recorded: list[EventChange] = []
        self.committed: list[EventChange] = []

    def on_recorded(self, sender: object, change: EventChange, **kwargs: object) -> None:
        self.recorded.append(change)

    def on_committed(self, sender: object, change: EventChange, **kwargs: object) -> None:
        self.committed.append(change)


@pytest.fixture
def changes() -> Iterator[ChangeLog]:
    log = ChangeLog()
    event_change_recorded.connect(log.on_recorded)
    event_change_committed.connect(log.on_committed)
    yield log
    event_change_recorded.disconnect(log.on_recorded)
    event_change_committed.disconnect(log.on_committed)


@pytest.fixture
def details() -> Callable[..., services.EventDetails]:
    return event_details
