"""The world for replies flowing back: ``outlook`` with Convene's webhook served over real HTTP.

The emulator delivers notifications to ``CONVENE_PUBLIC_URL``, so that must be a live server
(pytest-django's ``live_server``) rather than ``http://testserver``. The organizer connects first,
while the public URL is still the one the emulator has as the app's redirect URI.

Fixtures and helpers only; the tests live in the other ``test_replies*`` / ``test_webhook*`` /
``test_subscriptions*`` / ``test_delta*`` modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from tests.world import event_details

from convene.events import services
from convene.events.models import Event
from convene.outlook import tasks
from convene.outlook.inbound import subscriptions
from convene.outlook.models import CalendarLink, OutlookSettings, Subscription

from .conftest import OutlookWorld

ADA = "ada@contoso.test"
GRACE = "grace@contoso.test"
ALAN = "alan@contoso.test"
EDSGER = "edsger@contoso.test"
BARBARA = "barbara@fabrikam.test"


@pytest.fixture
def live(outlook: OutlookWorld, live_server: Any, settings: Any) -> Iterator[OutlookWorld]:
    """``outlook`` with Ada connected and Convene reachable by the emulator's notifications."""
    outlook.connect(ADA)
    settings.OUTLOOK = {**settings.OUTLOOK, "public_url": live_server.url}
    yield outlook
    # The live server outlives the test: a notification still being delivered (or retried)
    # would otherwise land after this test's tables are emptied, and mark Ada's mailbox as
    # having a task queued, in the next test, on a queue nobody reads any more. Resetting the
    # emulator cancels its deliveries; one already received finishes before the test ends.
    outlook.emulator.control("POST", "/reset").raise_for_status()
    outlook.wait_idle(quiet=0.2, scheduled=False)


def create_event(
    world: OutlookWorld, *people: str, starts_in: timedelta = timedelta(days=7)
) -> Event:
    """Ada's event with these people enrolled as attendees, synced to Outlook."""
    start = timezone.now() + starts_in
    event = services.create_event(
        event_details(
            "Compilers night",
            start,
            hours=2,
            description="Parsing, then pizza.",
            location="Room 1",
        ),
        creator=world.people[ADA],
        allow_past=starts_in < timedelta(0),  # a scene may start with an event under way
    )
    for email in people:
        services.enroll(event, world.people[email], actor=None)
    world.wait_synced(event.pk)
    return event


def subscribe(world: OutlookWorld) -> Subscription:
    """What the periodic task does: Ada's mailbox gets its subscription (handshake included)."""
    subscriptions.maintain(tasks.enqueue_delta)
    subscription = Subscription.objects.get(mailbox=ADA, state=Subscription.State.ACTIVE)
    return subscription


def copy_of(world: OutlookWorld, email: str, event: Event) -> dict[str, Any]:
    """That person's copy of the event in their Outlook calendar."""
    link = CalendarLink.objects.get(event=event)
    (found,) = [e for e in world.mailbox(email) if e["iCalUId"] == link.ical_uid]
    return found


def organizer_copy(world: OutlookWorld, event: Event) -> dict[str, Any]:
    link = CalendarLink.objects.get(event=event)
    response = world.emulator.control("GET", f"/mailboxes/{ADA}/events/{link.graph_id}")
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def respond(world: OutlookWorld, email: str, event: Event, answer: str, comment: str = "") -> None:
    """The person answers the invitation in Outlook."""
    copy = copy_of(world, email, event)
    response = world.emulator.control(
        "POST",
        f"/mailboxes/{email}/events/{copy['id']}/respond",
        {"response": answer, "comment": comment},
    )
    response.raise_for_status()


def is_enrolled(event: Event, email: str) -> bool:
    return event.enrollments.filter(user__email=email).exists()


def notifications(world: OutlookWorld, enabled: bool) -> None:
    world.emulator.control("POST", "/notifications", {"enabled": enabled}).raise_for_status()


def set_unenroll_on_decline(enabled: bool) -> None:
    OutlookSettings.objects.filter(pk=1).update(unenroll_on_decline=enabled)


def settle(world: OutlookWorld, event: Event) -> None:
    """Wait for the worker to finish what the last change set off (sync and notifications)."""
    world.wait_synced(event.pk)
    world.wait_idle()
