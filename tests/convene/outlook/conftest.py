"""Convene against the Microsoft 365 emulator, over real HTTPS, with the real MSAL library and a
real Huey worker.

- ``m365``: one emulator for the session (per test worker), reset to the test world
  (tests/world.py) for each test that uses ``outlook``.
- ``outlook``: the integration switched on and pointed at the emulator; the world's people in
  Convene; helpers to connect an organizer and wait for the worker.
- ``worker``: a Huey consumer (threads) on a queue file of the test's own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from tests.huey_worker import running_worker
from tests.world import (
    ADA,
    ALAN,
    BARBARA,
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    World,
    create_people,
    enter_world,
    event_details,
    world_seed,
)

from convene.events import series, services
from convene.events.models import EnrollmentRole, Event, OnlineKind
from convene.events.recurrence import Frequency, Rule
from convene.events.timezones import localize
from convene.outlook.inbound.subscriptions import forget_verified
from convene.outlook.models import OutlookSettings
from m365_emulator.config import EmulatorConfig
from m365_emulator.server import RunningEmulator, start_emulator
from m365_emulator.testing import EmulatorHandle, ca_context

PUBLIC_URL = "http://testserver"
__all__ = ["CLIENT_ID", "CLIENT_SECRET", "PASSWORD", "PUBLIC_URL", "OutlookWorld", "world_seed"]


@pytest.fixture(autouse=True)
def webhook_remembers_nothing_from_another_test() -> None:
    """A test's rolled-back subscriptions send no signal: forget what the webhook remembered."""
    forget_verified()


@pytest.fixture(scope="session")
def m365() -> Iterator[RunningEmulator]:
    # Convene's test webhook is plain HTTP (Graph itself requires https).
    with start_emulator(config=EmulatorConfig(allow_http_notification_urls=True)) as emulator:
        yield emulator


@pytest.fixture
def worker(transactional_db: None, tmp_path: Path) -> Iterator[None]:
    """A real Huey consumer: tasks go through a queue and run on worker threads."""
    with running_worker(tmp_path / "queue.sqlite3", threads=4):
        yield


def sign_in_problem(page: bytes) -> str:
    """What Convene's sign-in problem page says (its title and Microsoft's details)."""
    text = page.decode()
    parts = re.findall(r"<h1[^>]*>(.*?)</h1>|<pre[^>]*>(.*?)</pre>", text, re.DOTALL)
    return " / ".join(html.unescape(a or b).strip() for a, b in parts) or text[:500]


@dataclass
class OutlookWorld(World):
    clients: dict[str, Client] = field(default_factory=dict)

    def browser(self, email: str) -> Client:
        """A signed-in Django test client for that person (one per person)."""
        if email not in self.clients:
            client = Client()
            client.force_login(self.people[email])
            self.clients[email] = client
        return self.clients[email]

    def connect(self, email: str, *, next_url: str = "/outlook/") -> str:
        """Play the whole connect flow in the browser; returns where Convene sent them back."""
        client = self.browser(email)
        start = client.get("/outlook/connect/", {"next": next_url})
        assert start.status_code == 302, start.content
        back = self.emulator.sign_in(start["Location"], email)
        finished = self.return_from_microsoft(client, back)
        assert finished.status_code == 302, sign_in_problem(finished.content)
        return str(finished["Location"])

    @staticmethod
    def return_from_microsoft(client: Client, back: str) -> Any:
        """What the browser does with Microsoft's answer: POST it (form_post), follow the 303."""
        parts = urlsplit(back)
        posted = client.post(parts.path, dict(parse_qsl(parts.query)))
        assert posted.status_code == 303, posted.content
        return client.get(posted["Location"])

    def make_events(self, organizer: str, count: int, attendees: Iterable[str]) -> list[Event]:
        """``count`` upcoming events by ``organizer``, an hour apart, each with ``attendees``."""
        start = timezone.now() + timedelta(days=2)
        events = []
        for number in range(count):
            event = services.create_event(
                services.EventDetails(
                    title=f"{organizer} session {number}",
                    start=start + timedelta(hours=number),
                    end=start + timedelta(hours=number, minutes=45),
                    timezone="Europe/Berlin",
                ),
                creator=self.people[organizer],
            )
            for email in attendees:
                services.enroll(event, self.people[email], actor=None)
            events.append(event)
        return events


def next_local(zone: str, weekday: int, hour: int, days_ahead: int = 7) -> datetime:
    """A naive local time ``days_ahead`` or more from now, on ``weekday``, at ``hour``."""
    day = (timezone.now() + timedelta(days=days_ahead)).astimezone(ZoneInfo(zone)).date()
    day += timedelta(days=(weekday - day.weekday()) % 7)
    return datetime(day.year, day.month, day.day, hour)


# Whom ``event_with_attendees`` enrolls: one person in the organizer's tenant, one in another.
EVENT_ATTENDEES = (ALAN, BARBARA)


def event_with_attendees(
    world: OutlookWorld,
    title: str,
    *,
    days: float,
    creator: str = ADA,
    co_organizer: str | None = None,
) -> Event:
    """An hour in Room 1 ``days`` from now (in the past when negative) by ``creator``, with
    ``co_organizer`` and ``EVENT_ATTENDEES`` added one by one, as people would."""
    start = timezone.now() + timedelta(days=days)
    event = services.create_event(
        event_details(title, start, location="Room 1"),
        creator=world.people[creator],
        allow_past=days < 0,
    )
    if co_organizer:
        services.add_person(event, world.people[co_organizer], EnrollmentRole.ORGANIZER, actor=None)
    for email in EVENT_ATTENDEES:
        services.enroll(event, world.people[email], actor=None)
    return event


# An event whose online meeting Outlook creates (Teams) rather than a link the organizer gives.
TEAMS: dict[str, Any] = {"is_online": True, "online_kind": OnlineKind.TEAMS}


def teams_event(world: OutlookWorld, *, attendees: Iterable[str] = (), **details: Any) -> Event:
    """Ada's "Compilers night" a week from now with a Teams meeting. The ``attendees`` are
    enrolled in the same transaction, so the worker's first push has them."""
    start = timezone.now() + timedelta(days=7)
    with transaction.atomic():
        event = services.create_event(
            event_details("Compilers night", start, hours=2, **TEAMS, **details),
            creator=world.people[ADA],
        )
        for email in attendees:
            services.enroll(event, world.people[email], actor=None)
    return event


def teams_series(
    world: OutlookWorld, sessions: int, *, attendees: Iterable[str] = (), **details: Any
) -> Event:
    """Ada's weekly "Weekly design review" with a Teams meeting: ``sessions`` hour-long
    sessions on Wednesdays at 10:00 in Berlin, from a week ahead. The ``attendees`` are enrolled
    in the same transaction, so the worker's first push has them."""
    local = next_local("Europe/Berlin", 2, 10)
    start = localize(local, "Europe/Berlin")
    with transaction.atomic():
        event = series.create_series(
            event_details("Weekly design review", start, **TEAMS, **details),
            Rule(Frequency.WEEKLY, weekdays=(local.weekday(),), count=sessions),
            creator=world.people[ADA],
        )
        for email in attendees:
            services.enroll(event, world.people[email], actor=None)
    return event


@pytest.fixture
def outlook(outlook_without_worker: OutlookWorld, worker: None) -> OutlookWorld:
    return outlook_without_worker


@pytest.fixture
def outlook_without_worker(
    m365: RunningEmulator, transactional_db: None, settings: Any
) -> Iterator[OutlookWorld]:
    """The world of ``outlook``; the test brings its own worker (e.g. a subprocess)."""
    http = httpx.Client(verify=ca_context(str(m365.ca_path)), timeout=30)
    handle = EmulatorHandle(
        emulator=m365, http=http, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    enter_world(handle, settings, PUBLIC_URL)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    people = create_people()
    OutlookSettings.objects.update_or_create(pk=1, defaults={"enabled": True})
    try:
        yield OutlookWorld(emulator=handle, people=people)
    finally:
        http.close()
