"""Subscriptions on owner mailboxes: created, renewed, recreated and deleted as needed, with the
emulator's clock moved forward and each lifecycle notification."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.utils import timezone

from convene.outlook import tasks
from convene.outlook.inbound import subscriptions
from convene.outlook.models import DeltaCursor, OutlookSettings, Subscription

from .conftest import OutlookWorld
from .test_replies_world import (
    ADA,
    ALAN,
    create_event,
    is_enrolled,
    live,
    respond,
    subscribe,
)

__all__ = ["live"]


def at_microsoft(world: OutlookWorld) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = world.emulator.control("GET", "/subscriptions").json()["value"]
    return found


def operations(world: OutlookWorld) -> dict[str, int]:
    counts: dict[str, int] = world.stats()["requests"]["byOperation"]
    return counts


def lifecycle(world: OutlookWorld, subscription: Subscription, event: str) -> None:
    world.emulator.control(
        "POST", f"/subscriptions/{subscription.graph_id}/lifecycle", {"lifecycleEvent": event}
    ).raise_for_status()


def test_a_mailbox_in_use_gets_one_subscription_with_a_secret_kept_only_as_a_hash(
    live: OutlookWorld, live_server: Any
) -> None:
    create_event(live, ALAN)

    subscription = subscribe(live)
    subscriptions.maintain(tasks.enqueue_delta)  # nothing more to do

    (remote,) = at_microsoft(live)
    assert remote["id"] == subscription.graph_id
    assert remote["resource"] == "me/events"
    assert remote["changeType"] == "created,updated,deleted"
    assert remote["notificationUrl"] == f"{live_server.url}/outlook/webhook/"
    assert remote["lifecycleNotificationUrl"] == f"{live_server.url}/outlook/webhook/lifecycle/"
    secret = remote["clientState"]
    assert len(secret) >= 32
    assert subscription.client_state_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(Subscription.objects.values().get())
    assert operations(live)["subscriptions.create"] == 1


def test_a_mailbox_without_convene_events_gets_none(live: OutlookWorld) -> None:
    subscriptions.maintain(tasks.enqueue_delta)
    assert at_microsoft(live) == []


def test_each_subscription_has_its_own_secret(live: OutlookWorld) -> None:
    create_event(live, ALAN)
    first = subscribe(live)
    lifecycle(live, first, "subscriptionRemoved")
    live.wait_until(
        lambda: Subscription.objects.filter(state="active").exclude(pk=first.pk).exists()
    )
    second = Subscription.objects.get(state="active")
    assert second.client_state_hash != first.client_state_hash


def test_it_is_renewed_well_before_it_expires(live: OutlookWorld) -> None:
    create_event(live, ALAN)
    subscription = subscribe(live)
    live.emulator.advance_clock(30 * 3600)

    subscriptions.maintain(tasks.enqueue_delta, now=timezone.now() + timedelta(hours=30))

    (remote,) = at_microsoft(live)
    assert remote["id"] == subscription.graph_id
    renewed = Subscription.objects.get(pk=subscription.pk)
    assert renewed.renewed_at is not None
    assert renewed.expires_at > subscription.expires_at + timedelta(hours=29)
    assert operations(live)["subscriptions.update"] == 1


def test_not_renewed_while_plenty_of_time_is_left(live: OutlookWorld) -> None:
    create_event(live, ALAN)
    subscribe(live)
    subscriptions.maintain(tasks.enqueue_delta, now=timezone.now() + timedelta(hours=12))
    assert "subscriptions.update" not in operations(live)


def test_an_expired_subscription_is_created_again_and_the_mailbox_read(
    live: OutlookWorld,
) -> None:
    event = create_event(live, ALAN)
    old = subscribe(live)
    live.emulator.advance_clock(49 * 3600)
    assert at_microsoft(live) == []

    subscriptions.maintain(tasks.enqueue_delta, now=timezone.now() + timedelta(hours=49))

    (remote,) = at_microsoft(live)
    assert remote["id"] != old.graph_id
    assert Subscription.objects.get(pk=old.pk).state == Subscription.State.REMOVED
    live.wait_until(lambda: DeltaCursor.objects.filter(mailbox=ADA, last_run_at__isnull=False))
    # ... and it works: a decline is notified again.
    respond(live, ALAN, event, "decline")
    live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)


def test_reauthorization_required_renews_it(live: OutlookWorld) -> None:
    create_event(live, ALAN)
    subscription = subscribe(live)

    lifecycle(live, subscription, "reauthorizationRequired")

    live.wait_until(lambda: Subscription.objects.get(pk=subscription.pk).renewed_at, timeout=10)
    assert operations(live)["subscriptions.update"] == 1


def test_time_running_out_makes_microsoft_ask_for_reauthorization_which_renews_it(
    live: OutlookWorld,
) -> None:
    create_event(live, ALAN)
    subscription = subscribe(live)

    # Outlook asks ten minutes before expiry; the emulator checks every second.
    remaining = (subscription.expires_at - timezone.now()).total_seconds()
    live.emulator.advance_clock(remaining - 300)

    live.wait_until(lambda: Subscription.objects.get(pk=subscription.pk).renewed_at, timeout=10)
    assert live.stats()["notifications"]["lifecycleDelivered"] >= 1


def test_a_removed_subscription_is_recreated_and_the_mailbox_read(live: OutlookWorld) -> None:
    create_event(live, ALAN)
    subscription = subscribe(live)

    lifecycle(live, subscription, "subscriptionRemoved")

    live.wait_until(
        lambda: Subscription.objects.filter(state="active").exclude(pk=subscription.pk).exists(),
        timeout=10,
    )
    (remote,) = at_microsoft(live)
    assert remote["id"] != subscription.graph_id
    live.wait_until(lambda: DeltaCursor.objects.filter(mailbox=ADA, last_run_at__isnull=False))


def test_missed_notifications_make_convene_read_the_mailbox(live: OutlookWorld) -> None:
    event = create_event(live, ALAN)
    subscription = subscribe(live)
    live.emulator.control("POST", "/notifications", {"enabled": False})
    respond(live, ALAN, event, "decline")
    live.emulator.control("POST", "/notifications", {"enabled": True})

    lifecycle(live, subscription, "missed")

    live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)


def test_switching_the_integration_off_deletes_subscriptions(live: OutlookWorld) -> None:
    create_event(live, ALAN)
    subscription = subscribe(live)
    OutlookSettings.objects.filter(pk=1).update(enabled=False)

    subscriptions.maintain(tasks.enqueue_delta)

    assert at_microsoft(live) == []
    assert Subscription.objects.get(pk=subscription.pk).state == Subscription.State.REMOVED


def test_disconnecting_outlook_deletes_the_persons_subscription(live: OutlookWorld) -> None:
    create_event(live, ALAN)
    subscribe(live)

    response = live.browser(ADA).post("/outlook/disconnect/")

    assert response.status_code == 302
    assert at_microsoft(live) == []
    assert not Subscription.objects.filter(state="active").exists()


def test_a_subscription_microsoft_cannot_validate_is_tried_again_with_growing_pauses(
    outlook: OutlookWorld,
) -> None:
    # CONVENE_PUBLIC_URL (http://testserver) is not reachable: Microsoft's validation fails.
    outlook.connect(ADA)
    [event] = outlook.make_events(ADA, 1, attendees=[])
    outlook.wait_synced(event.pk)
    start = timezone.now()

    def attempts_after(seconds: float) -> int:
        subscriptions.maintain(tasks.enqueue_delta, now=start + timedelta(seconds=seconds))
        return operations(outlook).get("subscriptions.create", 0)

    assert attempts_after(0) == 1
    assert attempts_after(30) == 1, "not every minute"
    assert attempts_after(61) == 2
    assert attempts_after(61 + 90) == 2, "the pause doubles"
    assert attempts_after(61 + 121) == 3
    assert not Subscription.objects.exists()
