"""The one world Convene's tests meet Microsoft in: the Outlook tests (tests/convene/outlook), the
browser tests (tests/e2e) and the benchmarks' checks build it from here.

- Two customer tenants, Contoso (where Convene's app is registered, multi-tenant) and Fabrikam,
  and the platform's own tenant with its service mailbox, where an administrator has not
  consented to Convene yet unless a test says so (``world_seed(platform_consented=True)``).
- The same people in the emulator (a mailbox each) and in Convene (``create_people``).
- ``event_details``: the details of an event in Berlin, as the tests make them.
- ``World``: what every test asks of it (a mailbox's events, the emulator's counters) and how
  it waits: for a condition, for an event to be in sync, or for everything to be idle.

Importable before Django is set up (the benchmarks' processes read the tenants first): what
needs Django is imported where it is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet

from convene.outlook.emulator_setup import PLATFORM_DOMAIN, SERVICE_MAILBOX
from m365_emulator.testing import EmulatorHandle

if TYPE_CHECKING:
    from convene.accounts.models import User
    from convene.events.services import EventDetails
    from convene.outlook.models import CalendarLink
    from m365_emulator.server import RunningEmulator

__all__ = ["PLATFORM_DOMAIN", "SERVICE_MAILBOX"]

PASSWORD = "Passw0rd!"
CLIENT_ID = "3d1f6a52-8c3e-4a8b-9d21-5b7e0c4f9a10"
CLIENT_SECRET = "convene-test-secret"
CUSTOMER = "contoso.test"
PARTNER = "fabrikam.test"
PLATFORM_ADMIN = f"admin@{PLATFORM_DOMAIN}"

ADMIN = f"admin@{CUSTOMER}"
ADA = f"ada@{CUSTOMER}"
GRACE = f"grace@{CUSTOMER}"
ALAN = f"alan@{CUSTOMER}"
EDSGER = f"edsger@{CUSTOMER}"
BARBARA = f"barbara@{PARTNER}"

PEOPLE: Mapping[str, tuple[str, str]] = {
    # email: (display name, role in Convene: accounts.models.Role's values)
    ADA: ("Ada Lovelace", "organizer"),
    GRACE: ("Grace Hopper", "organizer"),
    ALAN: ("Alan Turing", "regular"),
    EDSGER: ("Edsger Dijkstra", "regular"),
    BARBARA: ("Barbara Liskov", "regular"),
    ADMIN: ("Contoso Admin", "admin"),
}


def world_seed(
    public_url: str, *, platform_consented: bool = False, mail_read: bool = False
) -> dict[str, Any]:
    """The emulator's seed: the tenants, their mailboxes and Convene's app registration
    (``mail_read``: registered with Mail.Read too, delegated and application, as an admin who
    wants decline comments shown registers it)."""
    mail = ["Mail.Read"] if mail_read else []

    def users(domain: str) -> list[dict[str, Any]]:
        return [
            {
                "userPrincipalName": email,
                "displayName": name,
                "password": PASSWORD,
                "isAdmin": role == "admin",
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
                        "redirectUris": [
                            f"{public_url}/outlook/callback/",
                            f"{public_url}/outlook/admin-consent/",
                        ],
                        # Place.Read.All delegated: an admin reads their organization's rooms
                        # in organizer mode (asked of that admin alone)
                        "delegatedScopes": [
                            "Calendars.ReadWrite",
                            "User.Read",
                            "Place.Read.All",
                            *mail,
                        ],
                        "applicationPermissions": ["Calendars.ReadWrite", "Place.Read.All", *mail],
                    }
                ],
            },
            {
                "domain": PARTNER,
                "displayName": "Fabrikam",
                "userConsent": True,
                "users": users(PARTNER),
            },
            {
                "domain": PLATFORM_DOMAIN,
                "displayName": "Convene Platform",
                "userConsent": True,
                "consentedApps": [CLIENT_ID] if platform_consented else [],
                "users": [
                    {
                        "userPrincipalName": SERVICE_MAILBOX,
                        "displayName": "Convene Events",
                        "password": PASSWORD,
                    },
                    {
                        "userPrincipalName": PLATFORM_ADMIN,
                        "displayName": "Platform Admin",
                        "password": PASSWORD,
                        "isAdmin": True,
                    },
                ],
            },
        ]
    }


def enter_world(handle: EmulatorHandle, settings: Any, public_url: str, **seed: Any) -> None:
    """Reset the emulator to the world's seed and point Convene at it (``settings``: the
    pytest-django fixture, so every change is undone after the test)."""
    from convene.outlook.mailboxes import connections
    from convene.outlook.mailboxes.platform import _app_tokens as app_tokens_cache

    handle.reset(world_seed(public_url, **seed))
    # Tokens the emulator issued before its reset are void; this test must not reuse them.
    connections.forget_access_tokens()
    app_tokens_cache.clear()
    emulator: RunningEmulator = handle.emulator
    settings.OUTLOOK = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "client_certificate_path": "",
        "authority_host": emulator.authority,
        "tenant": "organizations",
        "graph_url": emulator.graph_url,
        "ca_bundle": str(emulator.ca_path),
        "public_url": public_url,
    }
    settings.OUTLOOK_TOKEN_KEYS = [Fernet.generate_key().decode()]
    settings.OUTLOOK_COALESCE_SECONDS = 0.0


def create_people() -> dict[str, User]:
    """The world's people in Convene, with the passwords of their mailboxes."""
    from convene.accounts.models import User

    return {
        email: User.objects.create_user(email, PASSWORD, display_name=name, role=role)
        for email, (name, role) in PEOPLE.items()
    }


def event_details(title: str, start: datetime, *, hours: float = 1, **details: Any) -> EventDetails:
    """An event's details as the tests make them: ``title`` for ``hours`` from ``start``, in
    Berlin; ``details`` add the other fields."""
    from convene.events.services import EventDetails

    return EventDetails(
        title=title,
        start=start,
        end=start + timedelta(hours=hours),
        timezone="Europe/Berlin",
        **details,
    )


@dataclass
class World:
    emulator: EmulatorHandle
    people: dict[str, User]

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
        return wait_until(condition, timeout)

    def wait_synced(self, event_id: int, timeout: float = 15.0) -> CalendarLink:
        from convene.outlook.models import CalendarLink

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

    def wait_idle(
        self, quiet: float = 0.3, timeout: float = 15.0, *, scheduled: bool = True
    ) -> None:
        """Wait until nothing is going on: the worker's queue holds no task, and neither the
        emulator's counters (requests, notifications) nor Convene's audit log moved for
        ``quiet`` seconds. What a test asserts after that did not happen would not happen
        later either, short of a timer (a retry's backoff) that the test sets itself.
        ``scheduled=False`` lets tasks queued for later (a retry's backoff) wait."""
        from huey.contrib.djhuey import HUEY

        from convene.outlook.models import SyncLogEntry

        def activity() -> tuple[Any, ...]:
            stats = self.stats()
            queued = (HUEY.pending_count(), HUEY.scheduled_count() if scheduled else 0)
            return (
                queued,
                stats["requests"]["total"],
                stats["notifications"],
                SyncLogEntry.objects.count(),
            )

        deadline = time.monotonic() + timeout
        last, since = activity(), time.monotonic()
        while True:
            time.sleep(0.05)
            now = activity()
            if now != last or now[0] != (0, 0):
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"still busy after {timeout}s: {now}")


def wait_until(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout}s: {condition}")
        time.sleep(0.05)
