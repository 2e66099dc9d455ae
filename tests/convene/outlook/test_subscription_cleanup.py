"""Every subscription Convene stops using is deleted at Microsoft, whatever made it unneeded
(a mode switch, a deactivated organizer, switching off, a disconnect), through the authorization
it was made with; a deletion Microsoft refuses is retried and shown on the sync dashboard."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from convene.accounts.services import set_active
from convene.events import services
from convene.events.models import Event
from convene.outlook import tasks
from convene.outlook.inbound import subscriptions
from convene.outlook.mailboxes.platform import _app_tokens as app_tokens_cache
from convene.outlook.models import OutlookSettings, Subscription

from .conftest import OutlookWorld
from .test_connect_and_sync import ADA, GRACE
from .test_mode_switch import confirm, preview, wait_for_job
from .test_platform import ADMIN, SERVICE, platform_seed

ORGANIZERS = (ADA, GRACE)
DELETES_FAIL = {
    "rules": [
        {"action": "respond", "status": 503, "method": "DELETE", "path": "^/v1.0/subscriptions/"}
    ]
}


@pytest.fixture
def listening(outlook: OutlookWorld, live_server: Any, settings: Any) -> Iterator[OutlookWorld]:
    """Ada and Grace connected, each with an upcoming event in Outlook and a subscription on
    their mailbox; the platform's tenant consented, for a switch."""
    app_tokens_cache.clear()
    outlook.emulator.reset(platform_seed(consented=True))
    for email in ORGANIZERS:
        outlook.connect(email)
    settings.OUTLOOK = {**settings.OUTLOOK, "public_url": live_server.url}
    for email in ORGANIZERS:
        outlook.wait_synced(event_of(outlook, email).pk)
    subscriptions.maintain(tasks.enqueue_delta)
    assert sorted(s["resource"] for s in at_microsoft(outlook)) == ["me/events", "me/events"]
    yield outlook
    outlook.emulator.control("POST", "/reset").raise_for_status()  # no delivery left running
    time.sleep(0.2)


def event_of(world: OutlookWorld, email: str) -> Event:
    start = timezone.now() + timedelta(days=5)
    return services.create_event(
        services.EventDetails(
            title=f"{email} talk",
            start=start,
            end=start + timedelta(hours=1),
            timezone="Europe/Berlin",
        ),
        creator=world.people[email],
    )


def at_microsoft(world: OutlookWorld) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = world.emulator.control("GET", "/subscriptions").json()["value"]
    return found


def deletes(world: OutlookWorld) -> int:
    counts: dict[str, int] = world.stats()["requests"]["byOperation"]
    return counts.get("subscriptions.delete", 0)


def states(*emails: str) -> set[str]:
    return set(Subscription.objects.filter(mailbox__in=emails).values_list("state", flat=True))


def test_a_switch_to_the_platform_calendar_deletes_every_organizers_subscription(
    listening: OutlookWorld,
) -> None:
    response = confirm(listening, preview(listening, mode="platform", service_mailbox=SERVICE))
    wait_for_job(listening, int(response["Location"].rstrip("/").rsplit("/", 1)[1]))

    subscriptions.maintain(tasks.enqueue_delta)

    assert [s["resource"] for s in at_microsoft(listening)] == [f"users/{SERVICE}/events"]
    assert deletes(listening) == 2
    assert states(*ORGANIZERS) == {Subscription.State.REMOVED}


def test_a_deactivated_organizers_subscription_is_deleted(listening: OutlookWorld) -> None:
    set_active(listening.people[GRACE], False, actor=listening.people[ADMIN])

    subscriptions.maintain(tasks.enqueue_delta)

    assert len(at_microsoft(listening)) == 1
    assert deletes(listening) == 1
    assert states(GRACE) == {Subscription.State.REMOVED}
    assert states(ADA) == {Subscription.State.ACTIVE}


def test_a_deletion_microsoft_refuses_is_shown_and_retried_until_it_succeeds(
    listening: OutlookWorld,
) -> None:
    listening.emulator.control("POST", "/faults", DELETES_FAIL).raise_for_status()
    OutlookSettings.objects.filter(pk=1).update(enabled=False)

    subscriptions.maintain(tasks.enqueue_delta)

    assert len(at_microsoft(listening)) == 2
    assert states(*ORGANIZERS) == {Subscription.State.REMOVING}
    page = listening.browser(ADMIN).get("/outlook/admin/sync/").content.decode()
    assert "Subscriptions not deleted at Microsoft yet" in page
    assert ADA in page and "503" in page

    listening.emulator.control("DELETE", "/faults").raise_for_status()
    subscriptions.maintain(tasks.enqueue_delta)

    assert at_microsoft(listening) == []
    assert states(*ORGANIZERS) == {Subscription.State.REMOVED}
    page = listening.browser(ADMIN).get("/outlook/admin/sync/").content.decode()
    assert "Subscriptions not deleted at Microsoft yet" not in page


def test_a_disconnect_whose_deletion_fails_stays_on_the_dashboard_until_it_expires(
    listening: OutlookWorld,
) -> None:
    listening.emulator.control("POST", "/faults", DELETES_FAIL).raise_for_status()

    listening.browser(ADA).post("/outlook/disconnect/")

    (left,) = Subscription.objects.filter(mailbox=ADA)
    assert left.state == Subscription.State.REMOVING and left.connection is None
    assert ADA in listening.browser(ADMIN).get("/outlook/admin/sync/").content.decode()
    subscriptions.maintain(tasks.enqueue_delta, now=left.expires_at + timedelta(seconds=1))
    assert states(ADA) == {Subscription.State.REMOVED}
