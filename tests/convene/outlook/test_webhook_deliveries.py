"""At-least-once and out of order: notifications delivered twice, late or forged, over real HTTP
to the live webhook, with the worker running."""

from __future__ import annotations

from typing import Any

import httpx

from convene.core.models import Notice
from convene.events import services
from convene.outlook.models import AttendeeReply, CalendarLink, LogKind, SyncLogEntry

from .conftest import OutlookWorld
from .test_replies_world import (
    ADA,
    ALAN,
    create_event,
    is_enrolled,
    live,
    respond,
    settle,
    subscribe,
)

__all__ = ["live"]


def notification_for(world: OutlookWorld, event_id: int, client_state: str = "") -> dict[str, Any]:
    """A change notification exactly as Graph sends it for this event."""
    (subscription,) = world.emulator.control("GET", "/subscriptions").json()["value"]
    graph_id = CalendarLink.objects.get(event_id=event_id).graph_id
    return {
        "value": [
            {
                "subscriptionId": subscription["id"],
                "clientState": client_state or subscription["clientState"],
                "changeType": "updated",
                "resource": f"Users/x/Events/{graph_id}",
                "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": graph_id},
            }
        ]
    }


def deliver(world: OutlookWorld, body: dict[str, Any]) -> int:
    from django.conf import settings

    url = settings.OUTLOOK["public_url"] + "/outlook/webhook/"
    return httpx.post(url, json=body, timeout=5).status_code


def replies_logged(event_id: int) -> int:
    return SyncLogEntry.objects.filter(kind=LogKind.REPLY, event_id=event_id).count()


def test_a_notification_delivered_again_changes_nothing(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    subscribe(live)
    respond(live, ALAN, event, "decline")
    live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)
    settle(live, event)
    before = (replies_logged(event.pk), Notice.objects.count(), live.mailbox(ALAN))

    for _ in range(3):
        assert deliver(live, notification_for(live, event.pk)) == 202
    live.wait_idle()
    settle(live, event)

    assert (replies_logged(event.pk), Notice.objects.count(), live.mailbox(ALAN)) == before


def test_a_late_decline_notification_does_not_unenroll_someone_who_came_back(
    live: OutlookWorld,
) -> None:
    event = create_event(live, ALAN)
    subscribe(live)
    respond(live, ALAN, event, "decline")
    live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)
    stale = notification_for(live, event.pk)  # the decline's notification, kept for later
    settle(live, event)  # Outlook has taken them off the event
    services.enroll(event, live.people[ALAN], actor=None)
    settle(live, event)
    live.wait_until(
        lambda: AttendeeReply.objects.get(event=event, email=ALAN).response == "none", timeout=10
    )

    assert deliver(live, stale) == 202
    live.wait_idle()
    settle(live, event)

    assert is_enrolled(event, ALAN)


def test_a_forged_notification_is_refused_and_changes_nothing(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    subscribe(live)
    before = SyncLogEntry.objects.count()

    status = deliver(live, notification_for(live, event.pk, client_state="forged"))

    assert status == 403
    live.wait_idle()
    assert SyncLogEntry.objects.count() == before
    assert not Notice.objects.filter(user=live.people[ADA]).exists()
