"""Change notifications: validation handshake, deliveries, retries, lifecycle, expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, timedelta
from typing import Any

import pytest

from m365_emulator.graph.testkit import WebhookReceiver, event_body, webhook_receiver
from m365_emulator.testing import EmulatorHandle

SERVICE = "events@convene-platform.test"
ADA = "ada@contoso.test"


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def restore_config(emulator: EmulatorHandle) -> Iterator[None]:
    saved = asdict(emulator.backend.config)
    yield
    emulator.backend.config.update(saved)


@pytest.fixture
def app(emulator: EmulatorHandle) -> str:
    return emulator.app_token()


def expires_in(emulator: EmulatorHandle, minutes: float) -> str:
    now = emulator.backend.clock.now()
    return (now + timedelta(minutes=minutes)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def subscribe(
    emulator: EmulatorHandle, token: str, hook: WebhookReceiver, **extra: Any
) -> dict[str, Any]:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": hook.url,
        "resource": f"users/{SERVICE}/events",
        "expirationDateTime": expires_in(emulator, 60),
        "clientState": "s3cret",
        **extra,
    }
    response = emulator.graph("POST", "/subscriptions", token, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_runs_the_validation_handshake(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    subscription = subscribe(emulator, app, hook, lifecycleNotificationUrl=hook.url)
    assert len(hook.validations) == 2
    assert subscription["clientState"] == "s3cret"
    assert subscription["applicationId"] == emulator.client_id
    listed = emulator.graph("GET", "/subscriptions", app).json()["value"]
    assert [s["id"] for s in listed] == [subscription["id"]]


def test_plain_http_notification_url_is_refused_unless_allowed(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    emulator.control("POST", "/config", {"allow_http_notification_urls": False})
    body = {
        "changeType": "updated",
        "notificationUrl": hook.url,
        "resource": f"users/{SERVICE}/events",
        "expirationDateTime": expires_in(emulator, 60),
    }
    assert hook.url.startswith("http://")
    response = emulator.graph("POST", "/subscriptions", app, json=body)
    assert response.status_code == 400
    assert "https" in response.json()["error"]["message"]
    assert hook.validations == []


def test_wrong_echo_fails_creation(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    hook.echo_validation = False
    response = emulator.graph(
        "POST",
        "/subscriptions",
        app,
        json={
            "changeType": "updated",
            "notificationUrl": hook.url,
            "resource": f"users/{SERVICE}/events",
            "expirationDateTime": expires_in(emulator, 60),
        },
    )
    assert response.status_code == 400
    assert "validation" in response.json()["error"]["message"].lower()


def test_slow_validation_fails_creation(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver, restore_config: None
) -> None:
    emulator.control("POST", "/config", {"validation_timeout_seconds": 0.2})
    hook.validation_delay = 0.6
    response = emulator.graph(
        "POST",
        "/subscriptions",
        app,
        json={
            "changeType": "updated",
            "notificationUrl": hook.url,
            "resource": f"users/{SERVICE}/events",
            "expirationDateTime": expires_in(emulator, 60),
        },
    )
    assert response.status_code == 400


def test_expiration_beyond_the_maximum_is_refused(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    response = emulator.graph(
        "POST",
        "/subscriptions",
        app,
        json={
            "changeType": "updated",
            "notificationUrl": hook.url,
            "resource": f"users/{SERVICE}/events",
            "expirationDateTime": expires_in(emulator, 10_081),
        },
    )
    assert response.status_code == 400
    assert "10080 minutes" in response.json()["error"]["message"]


def test_unsupported_resource_is_refused(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    response = emulator.graph(
        "POST",
        "/subscriptions",
        app,
        json={
            "changeType": "updated",
            "notificationUrl": hook.url,
            "resource": f"users/{SERVICE}/contacts",
            "expirationDateTime": expires_in(emulator, 60),
        },
    )
    assert response.status_code == 400


def test_delegated_subscription_on_another_mailbox_is_denied(
    emulator: EmulatorHandle, hook: WebhookReceiver
) -> None:
    token = emulator.token_for(ADA)
    response = emulator.graph(
        "POST",
        "/subscriptions",
        token,
        json={
            "changeType": "updated",
            "notificationUrl": hook.url,
            "resource": "users/grace@contoso.test/events",
            "expirationDateTime": expires_in(emulator, 60),
        },
    )
    assert response.status_code == 403


def test_changes_are_delivered_with_client_state(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    subscription = subscribe(emulator, app, hook)
    created = emulator.graph("POST", f"/users/{SERVICE}/events", app, json=event_body()).json()
    emulator.graph("PATCH", f"/users/{SERVICE}/events/{created['id']}", app, json={"subject": "x"})
    emulator.graph("DELETE", f"/users/{SERVICE}/events/{created['id']}", app)
    received = hook.wait_for(3)
    # Each notification is its own delivery, so they may arrive in any order (as from Graph).
    assert sorted(n["changeType"] for n in received) == ["created", "deleted", "updated"]
    (first,) = [n for n in received if n["changeType"] == "created"]
    assert first["subscriptionId"] == subscription["id"]
    assert first["clientState"] == "s3cret"
    assert first["tenantId"] == emulator.platform_tenant_id
    assert first["resourceData"]["id"] == created["id"]
    assert first["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"


def test_a_watched_change_is_not_counted_as_unmatched(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    subscribe(emulator, app, hook)
    unmatched = emulator.control("GET", "/stats").json()["notifications"]["unmatched"]
    emulator.graph("POST", f"/users/{SERVICE}/events", app, json=event_body())
    hook.wait_for(1)
    assert emulator.control("GET", "/stats").json()["notifications"]["unmatched"] == unmatched


def test_attendee_response_notifies_the_organizer_subscription(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    event = emulator.graph(
        "POST", f"/users/{SERVICE}/events", app, json=event_body(attendees=(ADA,))
    ).json()
    subscribe(emulator, app, hook, changeType="updated")
    copy = emulator.control("GET", f"/mailboxes/{ADA}/events").json()["value"][0]
    emulator.control(
        "POST", f"/mailboxes/{ADA}/events/{copy['id']}/respond", {"response": "decline"}
    )
    (notification,) = hook.wait_for(1)
    assert notification["resourceData"]["id"] == event["id"]


def test_failed_delivery_is_retried(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    emulator.control("POST", "/notifications", {"retryDelaysSeconds": [0.05, 0.05]})
    subscribe(emulator, app, hook)
    hook.fail_next = 1
    emulator.graph("POST", f"/users/{SERVICE}/events", app, json=event_body())
    assert len(hook.wait_for(1)) == 1
    assert hook.attempts == 2
    # The receiver has it before the emulator has read its answer and counted the delivery.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        stats = emulator.control("GET", "/stats").json()["notifications"]
        if stats["delivered"]:
            break
        time.sleep(0.05)
    assert stats["delivered"] == 1 and stats["retried"] == 1


def test_slow_receiver_is_retried_then_dropped(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    emulator.control(
        "POST", "/notifications", {"timeoutSeconds": 0.1, "retryDelaysSeconds": [0.05]}
    )
    subscribe(emulator, app, hook)
    hook.delay = 0.4
    emulator.graph("POST", f"/users/{SERVICE}/events", app, json=event_body())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if emulator.control("GET", "/stats").json()["notifications"]["failed"] == 1:
            break
        time.sleep(0.05)
    assert emulator.control("GET", "/stats").json()["notifications"]["failed"] == 1
    assert hook.attempts == 2


def test_delivery_can_be_switched_off(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    subscribe(emulator, app, hook)
    assert emulator.control("POST", "/notifications", {"enabled": False}).json()["enabled"] is False
    emulator.graph("POST", f"/users/{SERVICE}/events", app, json=event_body())

    # Counted once the emulator decided not to deliver it: nothing can arrive after that.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if emulator.control("GET", "/stats").json()["notifications"]["suppressed"] == 1:
            break
        time.sleep(0.05)
    assert emulator.control("GET", "/stats").json()["notifications"]["suppressed"] == 1
    assert hook.notifications() == []


@pytest.mark.parametrize(
    "lifecycle_event", ["reauthorizationRequired", "missed", "subscriptionRemoved"]
)
def test_lifecycle_events_can_be_triggered(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver, lifecycle_event: str
) -> None:
    subscription = subscribe(emulator, app, hook, lifecycleNotificationUrl=hook.url)
    response = emulator.control(
        "POST",
        f"/subscriptions/{subscription['id']}/lifecycle",
        {"lifecycleEvent": lifecycle_event},
    )
    assert response.status_code == 200
    (notification,) = hook.wait_for(1)
    assert notification["lifecycleEvent"] == lifecycle_event
    assert notification["clientState"] == "s3cret"
    still_there = emulator.graph("GET", f"/subscriptions/{subscription['id']}", app).status_code
    assert still_there == (404 if lifecycle_event == "subscriptionRemoved" else 200)


def test_renew_reauthorize_and_delete(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    subscription = subscribe(emulator, app, hook)
    path = f"/subscriptions/{subscription['id']}"
    new_expiry = expires_in(emulator, 120)
    renewed = emulator.graph("PATCH", path, app, json={"expirationDateTime": new_expiry})
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"][:19] == new_expiry[:19]
    assert emulator.graph("POST", f"{path}/reauthorize", app).status_code == 204
    assert emulator.graph("DELETE", path, app).status_code == 204
    assert emulator.graph("GET", path, app).status_code == 404


def test_expired_subscription_disappears_and_stops_delivering(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    subscription = subscribe(emulator, app, hook)
    emulator.advance_clock(61 * 60)
    app = emulator.app_token()
    assert emulator.graph("GET", f"/subscriptions/{subscription['id']}", app).status_code == 404
    unmatched = emulator.control("GET", "/stats").json()["notifications"]["unmatched"]
    emulator.graph("POST", f"/users/{SERVICE}/events", app, json=event_body())
    # Counted before the create was answered: no delivery was started, none can arrive later.
    assert emulator.control("GET", "/stats").json()["notifications"]["unmatched"] == unmatched + 1
    assert hook.notifications() == []


def test_reauthorization_is_asked_shortly_before_expiry(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    subscribe(emulator, app, hook, lifecycleNotificationUrl=hook.url)
    emulator.advance_clock(55 * 60)
    emulator.graph("GET", "/subscriptions", emulator.app_token())
    (notification,) = hook.wait_for(1)
    assert notification["lifecycleEvent"] == "reauthorizationRequired"


def test_subscriptions_of_another_app_are_invisible(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    subscription = subscribe(emulator, app, hook)
    ada = emulator.token_for(ADA)
    assert emulator.graph("GET", f"/subscriptions/{subscription['id']}", ada).status_code == 404


def test_delegated_subscription_on_me(emulator: EmulatorHandle, hook: WebhookReceiver) -> None:
    ada = emulator.token_for(ADA)
    response = emulator.graph(
        "POST",
        "/subscriptions",
        ada,
        json={
            "changeType": "created",
            "notificationUrl": hook.url,
            "resource": "me/events",
            "expirationDateTime": expires_in(emulator, 60),
        },
    )
    assert response.status_code == 201
    emulator.graph("POST", "/me/events", ada, json=event_body())
    assert len(hook.wait_for(1)) == 1
