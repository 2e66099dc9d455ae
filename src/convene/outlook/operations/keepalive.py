"""Keeping organizers' authorizations alive while they are away.

Microsoft Entra expires a refresh token left unused for 90 days (its inactivity lifetime). An
organizer who publishes events and then goes quiet for three months would find Convene asking
them to sign in again, and their events stuck meanwhile. So once a day, every connection with
upcoming Convene events in its calendar whose refresh token has not been redeemed for
``REFRESH_EVERY`` is refreshed now (Microsoft rotates it: a new 90 days start). A refresh
Microsoft refuses is an authorization lost, handled as the sync engine handles it (the person
is told once; the admins' "needs reconnect" alert lists them).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from convene.outlook.inbound.subscriptions import needed_mailboxes
from convene.outlook.mailboxes import connections
from convene.outlook.microsoft.errors import AuthorizationLost, MicrosoftError
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import (
    ConnectionStatus,
    LogKind,
    OutlookConnection,
    OutlookSettings,
    record,
)

# Well inside Entra's 90 days, so a few failed days (an outage, a worker down) do no harm.
REFRESH_EVERY = timedelta(days=14)


def due_connections(now: datetime) -> list[OutlookConnection]:
    """Connected organizers with upcoming synced events, not refreshed for REFRESH_EVERY."""
    mailboxes = needed_mailboxes(OutlookSettings.load(), now)
    if not mailboxes:
        return []
    stale = now - REFRESH_EVERY
    candidates = OutlookConnection.objects.filter(status=ConnectionStatus.CONNECTED).filter(
        Q(tokens_refreshed_at__lt=stale)
        | Q(tokens_refreshed_at__isnull=True, connected_at__lt=stale)
    )
    return [connection for connection in candidates if connection.mailbox in mailboxes]


def refresh_idle_connections(now: datetime | None = None) -> int:
    """Refresh every due connection; returns how many Microsoft refreshed."""
    now = now or timezone.now()
    registration = AppRegistration.from_settings()
    refreshed = 0
    for connection in due_connections(now):
        try:
            connections.access_token(registration, connection.pk, force_refresh=True)
        except AuthorizationLost:
            continue  # recorded, and the person told, by access_token
        except MicrosoftError as exc:
            record(
                LogKind.AUTHORIZATION,
                "authorization_refresh_failed",
                status=str(exc.status or type(exc).__name__),
                message=f"Will try again tomorrow: {exc}",
                user_id=connection.user_id,
                mailbox=connection.mailbox,
            )
            continue
        # access_token stored the rotated token; make sure the date moves even if Microsoft
        # handed back the same cache (it never should, but the next run must not loop).
        OutlookConnection.objects.filter(pk=connection.pk).update(tokens_refreshed_at=now)
        record(
            LogKind.AUTHORIZATION,
            "authorization_refreshed",
            status="ok",
            message=(
                "Refreshed the Outlook authorization ahead of Microsoft's inactivity expiry "
                "(upcoming events need it)."
            ),
            user_id=connection.user_id,
            mailbox=connection.mailbox,
        )
        refreshed += 1
    return refreshed
