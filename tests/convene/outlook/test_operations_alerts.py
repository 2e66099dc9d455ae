"""Admin alerts raised by the Outlook integration's faults, each sent once with its fix:
a subscription that cannot be renewed, notifications Microsoft stopped (delta only), a
throttling storm, an organizer who must reconnect, and changes waiting too long."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from convene.core.models import Notice
from convene.operations import alerts, heartbeat
from convene.operations.models import AdminAlert
from convene.outlook import tasks
from convene.outlook.inbound import subscriptions
from convene.outlook.models import (
    CalendarLink,
    ConnectionStatus,
    LinkState,
    MailboxPause,
    OutlookConnection,
    Subscription,
)
from convene.outlook.operations import keepalive

from .conftest import OutlookWorld
from .test_replies_world import ADA, ALAN, create_event, live, subscribe

__all__ = ["live"]

ADMIN = "admin@contoso.test"


def alert_twice() -> list[AdminAlert]:
    """The minute check, run twice: what was raised the first time stays open and silent."""
    heartbeat.beat(heartbeat.PERIODIC_TASKS)  # as the periodic task does before evaluating
    raised = alerts.evaluate()
    assert alerts.evaluate() == []
    return raised


def told(world: OutlookWorld) -> list[str]:
    return list(Notice.objects.filter(user=world.people[ADMIN]).values_list("text", flat=True))


def fault(world: OutlookWorld, **rule: Any) -> None:
    world.emulator.control("POST", "/faults", rule).raise_for_status()


def test_a_subscription_that_cannot_be_renewed_alerts_the_admins_once(
    live: OutlookWorld, mailoutbox: list[Any]
) -> None:
    create_event(live, ALAN)
    subscription = subscribe(live)
    Subscription.objects.filter(pk=subscription.pk).update(
        expires_at=timezone.now() + timedelta(hours=2)
    )
    fault(live, method="PATCH", path="/subscriptions/", status=403, code="ExtensionError")

    subscriptions.maintain(tasks.enqueue_delta)
    (raised,) = alert_twice()

    assert raised.key == f"outlook.subscription:{ADA}"
    (text,) = told(live)
    assert "cannot be renewed" in text and "CONVENE_PUBLIC_URL" in text
    assert [m.subject for m in mailoutbox if ADMIN in m.to] == [f"Convene: {raised.title}"]


def test_notifications_removed_by_microsoft_and_not_restored_alert_delta_only(
    live: OutlookWorld,
) -> None:
    create_event(live, ALAN)
    subscription = subscribe(live)
    fault(live, method="POST", path="/subscriptions$", status=403, code="ExtensionError")

    subscriptions.on_lifecycle(subscription.pk, "subscriptionRemoved", tasks.enqueue_delta)
    (raised,) = alert_twice()

    assert raised.key == f"outlook.delta_only:{ADA}"
    assert "delta every 5 minutes" in told(live)[0]


def test_a_throttling_storm_longer_than_the_threshold_alerts_once_and_loses_nothing(
    outlook: OutlookWorld, settings: Any, client: Client
) -> None:
    settings.CONVENE_ALERT_THROTTLED_SECONDS = 2
    settings.CONVENE_METRICS_TOKEN = "token"
    outlook.connect(ADA)
    fault(
        outlook,
        endpoint="graph",
        mailbox=ADA,
        status=429,
        headers={"Retry-After": "1"},
        count=4,
    )

    (event,) = outlook.make_events(ADA, 1, [ALAN])
    outlook.wait_synced(event.pk, timeout=30)
    (raised,) = [a for a in alert_twice() if a.key.startswith("outlook.throttled")]

    assert raised.key == f"outlook.throttled:{ADA}"
    assert len([t for t in told(outlook) if "throttled" in t]) == 1
    pause = MailboxPause.objects.get(mailbox=ADA)
    assert (pause.throttled_answers, pause.throttled_seconds) == (4, 4.0)
    scraped = client.get("/metrics", HTTP_AUTHORIZATION="Bearer token").content.decode()
    assert "convene_outlook_throttled_answers_total 4.0" in scraped


def test_an_organizer_who_must_reconnect_alerts_the_admins_once(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    (event,) = outlook.make_events(ADA, 1, [ALAN])
    outlook.wait_synced(event.pk)
    OutlookConnection.objects.update(tokens_refreshed_at=timezone.now() - timedelta(days=20))
    outlook.emulator.control("POST", f"/users/{ADA}/revoke").raise_for_status()

    assert keepalive.refresh_idle_connections() == 0
    (raised,) = alert_twice()

    assert OutlookConnection.objects.get().status == ConnectionStatus.NEEDS_AUTHORIZATION
    assert raised.key == f"outlook.reconnect:{ADA}"
    assert "must connect Outlook again" in told(outlook)[0]


def test_changes_waiting_longer_than_the_threshold_alert_and_clear_when_synced(
    outlook: OutlookWorld, settings: Any
) -> None:
    settings.CONVENE_ALERT_SYNC_LAG_SECONDS = 60
    outlook.connect(ADA)
    (event,) = outlook.make_events(ADA, 1, [ALAN])
    outlook.wait_synced(event.pk)
    CalendarLink.objects.filter(event=event).update(
        desired_version=9,
        state=LinkState.FAILING,
        behind_since=timezone.now() - timedelta(minutes=5),
    )

    (raised,) = alert_twice()
    CalendarLink.objects.filter(event=event).update(synced_version=9, state=LinkState.SYNCED)
    alerts.evaluate()

    assert raised.key == "outlook.sync_lag"
    assert AdminAlert.objects.get(key="outlook.sync_lag").cleared_at is not None
