"""Convene against the Microsoft 365 emulator, over real HTTPS, with the real MSAL library and a
real Huey worker.

- ``m365``: one emulator for the session, reset and seeded for each test that uses ``outlook``.
- ``outlook``: the integration switched on and pointed at the emulator; people in Convene whose
  addresses are mailboxes there; helpers to connect an organizer and wait for the worker.
- ``worker``: a Huey consumer (threads) on a queue file of the test's own.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from django.test import Client
from django.utils import timezone
from tests.huey_worker import running_worker

from convene.accounts.models import Role, User
from convene.events import services
from convene.events.models import Event
from convene.outlook.mailboxes import connections
from convene.outlook.models import CalendarLink, OutlookSettings
from m365_emulator.config import EmulatorConfig
from m365_emulator.server import RunningEmulator, start_emulator
from m365_emulator.testing import EmulatorHandle, ca_context

PASSWORD = "Passw0rd!"
CLIENT_ID = "3d1f6a52-8c3e-4a8b-9d21-5b7e0c4f9a10"
CLIENT_SECRET = "convene-test-secret"
PUBLIC_URL = "http://testserver"
CUSTOMER = "contoso.test"
PARTNER = "fabrikam.test"

PEOPLE = {
    # email: (display name, role in Convene)
    f"ada@{CUSTOMER}": ("Ada Lovelace", Role.ORGANIZER),
    f"grace@{CUSTOMER}": ("Grace Hopper", Role.ORGANIZER),
    f"alan@{CUSTOMER}": ("Alan Turing", Role.REGULAR),
    f"edsger@{CUSTOMER}": ("Edsger Dijkstra", Role.REGULAR),
    f"barbara@{PARTNER}": ("Barbara Liskov", Role.REGULAR),
    f"admin@{CUSTOMER}": ("Contoso Admin", Role.ADMIN),
}


def world_seed() -> dict[str, Any]:
    def users(domain: str) -> list[dict[str, Any]]:
        return [
            {
                "userPrincipalName": email,
                "displayName": name,
                "password": PASSWORD,
                "isAdmin": role == Role.ADMIN,
            }
            for email, (name, role) in PEOPLE.items()
            if email.endswith("@" + domain)
        ]

    return {
        "tenants": [
            {
                "domain": CUSTOMER,
                "displayName": "Contoso",
                "userConsent": True,
                "users": users(CUSTOMER),
                "apps": [
                    {
                        "clientId": CLIENT_ID,
                        "clientSecret": CLIENT_SECRET,
                        "displayName": "Convene",
                        "redirectUris": [f"{PUBLIC_URL}/outlook/callback/"],
                        "delegatedScopes": ["Calendars.ReadWrite", "User.Read"],
                        "applicationPermissions": ["Calendars.ReadWrite"],
                    }
                ],
            },
            {
                "domain": PARTNER,
                "displayName": "Fabrikam",
                "userConsent": True,
                "users": users(PARTNER),
            },
        ]
    }


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
class OutlookWorld:
    emulator: EmulatorHandle
    people: dict[str, User]
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

    def mailbox(self, email: str) -> list[dict[str, Any]]:
        """Every event in that person's Outlook calendar, as the emulator holds it."""
        response = self.emulator.control("GET", f"/mailboxes/{email}/events")
        response.raise_for_status()
        events: list[dict[str, Any]] = response.json()["value"]
        return events

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.emulator.control("GET", "/stats").json()
        return stats

    def wait_until(self, condition: Callable[[], Any], timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"still not true after {timeout}s: {condition}")
            time.sleep(0.05)

    def wait_synced(self, event_id: int, timeout: float = 15.0) -> CalendarLink:
        def synced() -> CalendarLink | None:
            link = CalendarLink.objects.filter(event_id=event_id).first()
            if link and link.state == "synced" and not link.is_behind and not link.queued_at:
                return link
            return None

        try:
            link: CalendarLink = self.wait_until(synced, timeout)
        except AssertionError:
            row = CalendarLink.objects.filter(event_id=event_id).values().first()
            raise AssertionError(f"event {event_id} not in sync after {timeout}s: {row}") from None
        return link


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
    handle.reset(world_seed())
    # Tokens the emulator issued before its reset are void; the next test must not reuse them.
    connections.forget_access_tokens()
    settings.OUTLOOK = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "client_certificate_path": "",
        "authority_host": m365.authority,
        "tenant": "organizations",
        "graph_url": m365.graph_url,
        "ca_bundle": str(m365.ca_path),
        "public_url": PUBLIC_URL,
    }
    settings.OUTLOOK_TOKEN_KEYS = [Fernet.generate_key().decode()]
    settings.OUTLOOK_COALESCE_SECONDS = 0.0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    people = {
        email: User.objects.create_user(email, PASSWORD, display_name=name, role=role)
        for email, (name, role) in PEOPLE.items()
    }
    OutlookSettings.objects.update_or_create(pk=1, defaults={"enabled": True})
    try:
        yield OutlookWorld(emulator=handle, people=people)
    finally:
        http.close()
