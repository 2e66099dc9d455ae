"""What the Outlook integration alerts admins to (each once, with the fix), as conditions for
``convene.operations.alerts``: sync lag over a threshold, a subscription that cannot be renewed,
a mailbox whose notifications stopped (read by delta only), Microsoft throttling a mailbox for
longer than a threshold, and connections that need their organizer to reconnect."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F, Min
from django.urls import reverse
from django.utils import timezone

from convene.core.extensions import AlertCondition
from convene.outlook.inbound.subscriptions import needed_mailboxes
from convene.outlook.models import (
    CalendarLink,
    ConnectionStatus,
    MailboxPause,
    OutlookConnection,
    OutlookSettings,
    Subscription,
    SyncLogEntry,
)
from convene.outlook.operations.metrics import WORKING_STATES

# How far back a failed attempt to subscribe counts as "notifications stopped".
SUBSCRIBE_FAILURE_WINDOW = timedelta(hours=1)


def conditions() -> list[AlertCondition]:
    outlook = OutlookSettings.load()
    if not outlook.enabled:
        return []
    dashboard = reverse("outlook:dashboard")
    return [
        *_sync_lag(dashboard),
        *_subscriptions(outlook, dashboard),
        *_throttling(dashboard),
        *_reconnect(dashboard),
    ]


def _sync_lag(url: str) -> list[AlertCondition]:
    threshold = settings.CONVENE_ALERT_SYNC_LAG_SECONDS
    oldest = CalendarLink.objects.filter(
        synced_version__lt=F("desired_version"), state__in=WORKING_STATES
    ).aggregate(oldest=Min("behind_since"))["oldest"]
    if oldest is None or (timezone.now() - oldest).total_seconds() <= threshold:
        return []
    return [
        AlertCondition(
            key="outlook.sync_lag",
            title=f"Changes have waited more than {round(threshold / 60)} minutes for Outlook",
            fix=(
                "Check that the workers run (/readyz), then the sync dashboard's failing events "
                "and the audit log for Microsoft's answers (throttling, outages)."
            ),
            url=url,
        )
    ]


def _subscriptions(outlook: OutlookSettings, url: str) -> list[AlertCondition]:
    found = []
    failing = Subscription.objects.filter(state=Subscription.State.ACTIVE).exclude(last_error="")
    for subscription in failing:
        found.append(
            AlertCondition(
                key=f"outlook.subscription:{subscription.mailbox}",
                title=f"The notification subscription of {subscription.mailbox} cannot be renewed",
                fix=(
                    f"Microsoft answered: {subscription.last_error[:300]} Check that "
                    "CONVENE_PUBLIC_URL is reachable from the internet over HTTPS and that the "
                    "app still has Calendars.ReadWrite; until then the mailbox is read by delta "
                    "every 5 minutes."
                ),
                url=url,
            )
        )
    needed = needed_mailboxes(outlook, timezone.now())
    listening = set(
        Subscription.objects.filter(state=Subscription.State.ACTIVE).values_list(
            "mailbox", flat=True
        )
    )
    recent_failures = set(
        SyncLogEntry.objects.filter(
            action="subscription_ensure",
            created_at__gte=timezone.now() - SUBSCRIBE_FAILURE_WINDOW,
        ).values_list("mailbox", flat=True)
    )
    dropped = set(
        Subscription.objects.filter(state=Subscription.State.REMOVED).values_list(
            "mailbox", flat=True
        )
    )
    for mailbox in sorted(needed - listening):
        if mailbox in recent_failures or mailbox in dropped:
            found.append(
                AlertCondition(
                    key=f"outlook.delta_only:{mailbox}",
                    title=f"Microsoft stopped sending notifications for {mailbox}",
                    fix=(
                        "Convene reads the mailbox by delta every 5 minutes instead, so replies "
                        "arrive late. The tenant may block notifications to this address: "
                        "check CONVENE_PUBLIC_URL, the proxy and the tenant's policies; "
                        "Convene subscribes again every minute."
                    ),
                    url=url,
                )
            )
    return found


def _throttling(url: str) -> list[AlertCondition]:
    now = timezone.now()
    threshold = timedelta(seconds=settings.CONVENE_ALERT_THROTTLED_SECONDS)
    throttled = MailboxPause.objects.filter(
        until__gt=now - timedelta(minutes=1), throttled_since__lt=now - threshold
    )
    return [
        AlertCondition(
            key=f"outlook.throttled:{pause.mailbox}",
            title=(
                f"Microsoft has throttled {pause.mailbox} for more than "
                f"{round(threshold.total_seconds() / 60)} minutes"
            ),
            fix=(
                "Convene waits as Microsoft asks, so changes reach Outlook late. Look for "
                "another app using the same mailbox heavily, or spread events over more "
                "mailboxes; convene_outlook_throttled_answers on /metrics shows the rate."
            ),
            url=url,
        )
        for pause in throttled
    ]


def _reconnect(url: str) -> list[AlertCondition]:
    lost = OutlookConnection.objects.filter(
        status=ConnectionStatus.NEEDS_AUTHORIZATION, user__is_active=True
    ).select_related("user")
    return [
        AlertCondition(
            key=f"outlook.reconnect:{connection.mailbox}",
            title=f"{connection.user.name} must connect Outlook again",
            fix=(
                f"Microsoft refused Convene's authorization for {connection.account_username} "
                f"({connection.last_error[:200]}). They were told; their events wait until they "
                "open Convene and connect Outlook again (or hand their events over)."
            ),
            url=url,
        )
        for connection in lost
    ]
