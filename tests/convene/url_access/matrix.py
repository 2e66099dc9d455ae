"""The vocabulary of the URL access tables: who visits, what each row says, the world the rows
are played in, and the walk over Convene's URL resolver that the tables must cover.

Each app's table (``*_table.py``) lists its URLs; ``test_permission_matrix`` plays every row for
every visitor, ``test_csrf`` posts every row without a token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from convene.accounts.models import Role, User
from convene.core.models import SiteSettings
from convene.events import services
from convene.events.models import EnrollmentRole, Event
from convene.operations.heartbeat import PERIODIC_TASKS
from convene.operations.models import WorkerHeartbeat
from convene.outlook.models import CalendarLink, Job, LinkState, Mode, OutlookSettings

VISITORS = (
    "anonymous",
    "regular",
    "regular_when_allowed",  # the same regular user, on a site that lets regulars create events
    "organizer_of_another_event",
    "co_organizer",  # a regular user the creator made an organizer of this event
    "organizer_of_this_event",  # its creator
    "admin",
)

# Answers besides HTTP status codes:
LOGIN = "login"  # 302 to the sign-in page
SHOWN = "shown"  # 200, and the page shows the row's ``marker``
HIDDEN = "hidden"  # 200, and the page does not show it

Expected = tuple[str | int, ...]  # one answer per visitor, in VISITORS order

EVERYONE = (LOGIN, 200, 200, 200, 200, 200, 200)
EVERYONE_ACTS = (LOGIN, 302, 302, 302, 302, 302, 302)
MAY_CREATE = (LOGIN, 403, 200, 200, 403, 200, 200)
MANAGERS = (LOGIN, 403, 403, 403, 200, 200, 200)
MANAGERS_ACT = (LOGIN, 403, 403, 403, 302, 302, 302)
# Edit and cancel: managers whose role lets them author events (not a regular co-organizer).
EDITORS = (LOGIN, 403, 403, 403, 403, 200, 200)
EDITORS_ACT = (LOGIN, 403, 403, 403, 403, 302, 302)
ADMINS = (LOGIN, 403, 403, 403, 403, 403, 200)
ADMINS_ACT = (LOGIN, 403, 403, 403, 403, 403, 302)
NOT_FOUND = (LOGIN, 404, 404, 404, 404, 404, 404)
ADMINS_NOT_FOUND = (LOGIN, 403, 403, 403, 403, 403, 404)
NOT_ALLOWED = (405,) * 7  # the method is refused before anyone is asked who they are

MISSING = 999_999
SYNC_ERROR = "Graph refused the write: quota exceeded"  # what the sync status panel shows


@dataclass
class World:
    event: Event
    attendee: User
    people: dict[str, User]
    link: CalendarLink
    job: Job


@dataclass(frozen=True)
class Case:
    """One URL asked one way; ``expected`` says what each visitor gets."""

    name: str
    method: str  # "get" or "post"
    route: str  # the URL's name, e.g. "events:edit"
    expected: Expected
    args: Callable[[World], list[object]] = field(default=lambda world: [])
    data: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None  # sent as application/json instead of a form
    query: dict[str, str] = field(default_factory=dict)
    marker: str = ""  # for SHOWN / HIDDEN

    def url(self, world: World) -> str:
        path = reverse(self.route, args=self.args(world))
        return f"{path}?{urlencode(self.query)}" if self.query else path

    def send(self, client: Any, world: World) -> Any:
        if self.method == "get":
            return client.get(self.url(world))
        if self.json is not None:
            return client.post(self.url(world), self.json, content_type="application/json")
        return client.post(self.url(world), self.data)


def this_event(world: World) -> list[object]:
    return [world.event.pk]


def missing_event(world: World) -> list[object]:
    return [MISSING]


def attendee_of_this_event(world: World) -> list[object]:
    return [world.event.pk, world.attendee.pk]


def attendee_of_missing_event(world: World) -> list[object]:
    return [MISSING, world.attendee.pk]


def build_world(make_user: Callable[..., User]) -> World:
    # Settings rows are made on first read; make them now so a read is not a change.
    SiteSettings.load()
    OutlookSettings.load()
    owner = make_user(Role.ORGANIZER, email="owner@example.test")
    other = make_user(Role.ORGANIZER, email="other@example.test")
    co_organizer = make_user(Role.REGULAR, email="co-organizer@example.test")
    attendee = make_user(Role.REGULAR, email="attendee@example.test")
    make_user(Role.REGULAR, email="newcomer@example.test")
    event = services.create_event(_details("This event"), creator=owner)
    services.create_event(_details("Another event"), creator=other)
    services.enroll(event, attendee, actor=attendee)
    services.add_person_by_email(event, co_organizer.email, EnrollmentRole.ORGANIZER, actor=owner)
    link = CalendarLink.objects.create(
        event=event,
        mode=Mode.ORGANIZER,
        owner_mailbox=owner.email,
        state=LinkState.FAILING,
        last_error=SYNC_ERROR,
        attempts=3,
    )
    here = {"mode": Mode.ORGANIZER, "service_mailbox": "", "platform_tenant": ""}
    job = Job.objects.create(
        kind=Job.Kind.MODE_SWITCH,
        state=Job.State.DONE,
        params={"from": {**here, "mode": Mode.PLATFORM}, "to": here},
    )
    regular = make_user(Role.REGULAR, email="regular@example.test")
    # A worker is alive and periodic tasks run, so the readiness probe answers 200 (and raises
    # no alert).
    WorkerHeartbeat.objects.create(worker="worker-of-the-matrix")
    WorkerHeartbeat.objects.create(worker=PERIODIC_TASKS)
    people = {
        "regular": regular,
        "regular_when_allowed": regular,
        "organizer_of_another_event": other,
        "co_organizer": co_organizer,
        "organizer_of_this_event": owner,
        "admin": make_user(Role.ADMIN, email="admin@example.test"),
    }
    return World(event=event, attendee=attendee, people=people, link=link, job=job)


def _details(title: str) -> services.EventDetails:
    start = timezone.now() + timedelta(days=3)
    return services.EventDetails(
        title=title, start=start, end=start + timedelta(hours=1), timezone="UTC"
    )


# --- what exists -----------------------------------------------------------------------------

# The Django admin decides its own access (staff only); it is not Convene's table.
NOT_CONVENES = frozenset({"admin"})


def named_routes() -> tuple[dict[str, URLPattern], list[str]]:
    """Every URL pattern of the project: {``namespace:name``: pattern}, and the unnamed ones."""
    named: dict[str, URLPattern] = {}
    unnamed: list[str] = []

    def walk(patterns: list[Any], namespace: str, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace in NOT_CONVENES:
                    continue
                inner = entry.namespace or ""
                joined = f"{namespace}:{inner}" if namespace and inner else namespace or inner
                walk(entry.url_patterns, joined, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                if entry.name:
                    named[f"{namespace}:{entry.name}" if namespace else entry.name] = entry
                else:
                    unnamed.append(prefix + str(entry.pattern))

    walk(get_resolver().url_patterns, "", "/")
    return named, unnamed


# --- what changed ----------------------------------------------------------------------------

# Sessions change on every request that signs someone in or out; nothing else may change
# when a request is refused.
NOT_STATE = frozenset({"sessions"})


def database_state() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (the test database is small), to compare before and after."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.app_label not in NOT_STATE
    }


def changed_tables(
    before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]
) -> list[str]:
    return sorted(label for label in before if before[label] != after[label])


def all_cases() -> Iterator[Case]:
    from url_access import (
        accounts_table,
        core_table,
        events_table,
        operations_table,
        outlook_table,
    )

    for table in (accounts_table, core_table, events_table, operations_table, outlook_table):
        yield from table.CASES
