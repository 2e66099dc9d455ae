"""Every URL for every kind of visitor, from one table: who gets the page (200), who is sent
elsewhere (302), who is sent to sign in (LOGIN), who is refused (403), and what is missing (404)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from convene.accounts.models import Role, User
from convene.core.models import SiteSettings
from convene.events import services
from convene.events.models import Event

LOGIN = "login"  # 302 to the sign-in page
MISSING = 999_999

VISITORS = (
    "anonymous",
    "regular",
    "regular_when_allowed",
    "organizer_of_another_event",
    "organizer_of_this_event",
    "admin",
)


@dataclass
class World:
    event: Event
    attendee: User
    people: dict[str, User]


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: Callable[[World], str]
    expected: tuple[str | int, ...]  # one per visitor, in VISITORS order
    data: dict[str, str] | None = None


def event_url(name: str, *, missing: bool = False) -> Callable[[World], str]:
    return lambda world: reverse(name, args=[MISSING if missing else world.event.pk])


def person_url(name: str, *, missing: bool = False) -> Callable[[World], str]:
    return lambda world: reverse(
        name, args=[MISSING if missing else world.event.pk, world.attendee.pk]
    )


def fixed(name: str) -> Callable[[World], str]:
    return lambda world: reverse(name)


EVERYONE = (LOGIN, 200, 200, 200, 200, 200)
MANAGERS = (LOGIN, 403, 403, 403, 200, 200)
ADMINS = (LOGIN, 403, 403, 403, 403, 200)
NOT_FOUND = (LOGIN, 404, 404, 404, 404, 404)

CASES = (
    Case("upcoming events", "get", fixed("events:list"), EVERYONE),
    Case("my events", "get", fixed("events:mine"), EVERYONE),
    Case("profile", "get", fixed("accounts:profile"), EVERYONE),
    Case("event detail", "get", event_url("events:detail"), EVERYONE),
    Case("missing event detail", "get", event_url("events:detail", missing=True), NOT_FOUND),
    Case("new event", "get", fixed("events:create"), (LOGIN, 403, 200, 200, 200, 200)),
    Case("edit event", "get", event_url("events:edit"), MANAGERS),
    Case("edit missing event", "get", event_url("events:edit", missing=True), NOT_FOUND),
    Case("cancel event", "get", event_url("events:cancel"), MANAGERS),
    Case("cancel missing event", "get", event_url("events:cancel", missing=True), NOT_FOUND),
    Case("manage people", "get", event_url("events:people"), MANAGERS),
    Case("people of missing event", "get", event_url("events:people", missing=True), NOT_FOUND),
    Case(
        "add person",
        "post",
        event_url("events:people"),
        (LOGIN, 403, 403, 403, 302, 302),
        data={"email": "newcomer@example.test", "role": "attendee"},
    ),
    Case("enroll", "post", event_url("events:enroll"), (LOGIN, 302, 302, 302, 302, 302)),
    Case("enroll in missing event", "post", event_url("events:enroll", missing=True), NOT_FOUND),
    Case("unenroll", "post", event_url("events:unenroll"), (LOGIN, 302, 302, 302, 302, 302)),
    Case(
        "unenroll from missing event",
        "post",
        event_url("events:unenroll", missing=True),
        NOT_FOUND,
    ),
    Case(
        "remove person",
        "post",
        person_url("events:remove_person"),
        (LOGIN, 403, 403, 403, 302, 302),
    ),
    Case(
        "remove person from missing event",
        "post",
        person_url("events:remove_person", missing=True),
        NOT_FOUND,
    ),
    Case(
        "change person's role",
        "post",
        person_url("events:change_role"),
        (LOGIN, 403, 403, 403, 302, 302),
        data={"role": "presenter"},
    ),
    Case(
        "change role on missing event",
        "post",
        person_url("events:change_role", missing=True),
        NOT_FOUND,
        data={"role": "presenter"},
    ),
    Case("users and roles", "get", fixed("accounts:users"), ADMINS),
    Case(
        "change a user's role",
        "post",
        lambda world: reverse("accounts:change_role", args=[world.attendee.pk]),
        (LOGIN, 403, 403, 403, 403, 302),
        data={"role": "organizer"},
    ),
    Case(
        "change role of missing user",
        "post",
        lambda world: reverse("accounts:change_role", args=[MISSING]),
        (LOGIN, 403, 403, 403, 403, 404),
        data={"role": "organizer"},
    ),
    Case(
        "deactivate a user",
        "post",
        lambda world: reverse("accounts:change_active", args=[world.attendee.pk]),
        (LOGIN, 403, 403, 403, 403, 302),
        data={"active": "0"},
    ),
    Case(
        "deactivate a missing user",
        "post",
        lambda world: reverse("accounts:change_active", args=[MISSING]),
        (LOGIN, 403, 403, 403, 403, 404),
        data={"active": "0"},
    ),
    Case("site settings", "get", fixed("core:site_settings"), ADMINS),
    Case("sign in", "get", fixed("accounts:login"), (200, 302, 302, 302, 302, 302)),
    Case("sign out", "post", fixed("accounts:logout"), (LOGIN,) * 6),
    Case("django admin", "get", fixed("admin:index"), (302, 302, 302, 302, 302, 200)),
)


@pytest.fixture
def world(make_user) -> World:
    owner = make_user(Role.ORGANIZER, email="owner@example.test")
    other = make_user(Role.ORGANIZER, email="other@example.test")
    attendee = make_user(Role.REGULAR, email="attendee@example.test")
    make_user(Role.REGULAR, email="newcomer@example.test")
    event = services.create_event(_details("This event"), creator=owner)
    services.create_event(_details("Another event"), creator=other)
    services.enroll(event, attendee, actor=attendee)
    people = {
        "regular": make_user(Role.REGULAR, email="regular@example.test"),
        "organizer_of_another_event": other,
        "organizer_of_this_event": owner,
        "admin": make_user(Role.ADMIN, email="admin@example.test"),
    }
    people["regular_when_allowed"] = people["regular"]
    return World(event=event, attendee=attendee, people=people)


def _details(title: str) -> services.EventDetails:
    start = timezone.now() + timedelta(days=3)
    return services.EventDetails(
        title=title, start=start, end=start + timedelta(hours=1), timezone="UTC"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "visitor", "expected"),
    [
        pytest.param(case, visitor, expected, id=f"{case.name} as {visitor}")
        for case in CASES
        for visitor, expected in zip(VISITORS, case.expected, strict=True)
    ],
)
def test_access(client: Client, world: World, case: Case, visitor: str, expected: str | int):
    if visitor == "regular_when_allowed":
        SiteSettings.objects.update_or_create(
            pk=1, defaults={"regular_users_may_create_events": True}
        )
    if visitor != "anonymous":
        client.force_login(world.people[visitor])
    url = case.url(world)
    response = client.get(url) if case.method == "get" else client.post(url, case.data or {})
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    else:
        assert response.status_code == expected
        if expected == 302 and visitor != "anonymous":
            assert not response["Location"].startswith(reverse("accounts:login"))
