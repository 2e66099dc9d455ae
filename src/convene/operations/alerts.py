"""Admin alerts: a condition that needs an admin is told to every admin once, in the app and
by email, with what to do about it; it stays open (and silent) until the condition clears.

Conditions come from the sources registered in ``convene.core.extensions`` (this module's own
is "no worker"). ``evaluate`` runs every minute in the worker; the "no worker" alert is also
raised by ``/readyz`` and ``/metrics``, since a dead worker cannot raise it itself.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from convene.accounts.models import Role, User
from convene.core import extensions
from convene.core.extensions import AlertCondition
from convene.core.notices import notify
from convene.operations import heartbeat
from convene.operations.models import AdminAlert

log = logging.getLogger(__name__)

NO_WORKER = "operations.no_worker"


def no_worker_condition() -> AlertCondition:
    minutes = max(1, round(settings.CONVENE_WORKER_STALE_SECONDS / 60))
    return AlertCondition(
        key=NO_WORKER,
        title=f"No Convene worker has been seen for {minutes} minute{'s' * (minutes != 1)}",
        fix=(
            "Nothing is being sent to Outlook or read back until a worker runs. Start it "
            "(systemctl start 'convene-worker@*', see docs/deploy.md) and check its log "
            "(journalctl -u 'convene-worker@*')."
        ),
    )


def worker_conditions() -> list[AlertCondition]:
    return [] if heartbeat.workers_seen() else [no_worker_condition()]


def evaluate() -> list[AdminAlert]:
    """Ask every source; alert on new conditions, clear those gone. Returns the alerts raised."""
    raised: list[AdminAlert] = []
    holding: set[str] = set()
    answered: list[str] = []
    for name, source in extensions.alert_sources().items():
        try:
            conditions = source()
        except Exception:
            # One broken source must not silence the others, nor clear its own alerts.
            log.exception("Alert source %s failed", name)
            continue
        answered.append(name)
        for condition in conditions:
            holding.add(condition.key)
            alert = raise_alert(condition)
            if alert is not None:
                raised.append(alert)
    for alert in AdminAlert.objects.filter(cleared_at__isnull=True):
        from_source = alert.key.split(".", 1)[0]
        if from_source in answered and alert.key not in holding:
            clear(alert.key)
    return raised


def raise_alert(condition: AlertCondition) -> AdminAlert | None:
    """Open the alert and tell the admins, unless it is open already (then None)."""
    if AdminAlert.objects.filter(key=condition.key, cleared_at__isnull=True).exists():
        return None
    try:
        with transaction.atomic():
            alert = AdminAlert.objects.create(
                key=condition.key,
                title=condition.title[:300],
                fix=condition.fix,
                url=condition.url or reverse("operations:alerts"),
            )
            for admin in User.objects.filter(role=Role.ADMIN, is_active=True):
                notify(
                    admin,
                    f"{condition.title}. {condition.fix}",
                    url=alert.url,
                    email_subject=condition.title,
                )
    except IntegrityError:
        return None  # another process raised it at the same moment: admins are told once
    log.warning("Admin alert: %s", condition.title)
    return alert


def clear(key: str) -> int:
    return AdminAlert.objects.filter(key=key, cleared_at__isnull=True).update(
        cleared_at=timezone.now()
    )


def open_alerts() -> list[AdminAlert]:
    return list(AdminAlert.objects.filter(cleared_at__isnull=True))
