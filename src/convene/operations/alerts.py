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
NO_PERIODIC_TASKS = "operations.no_periodic_tasks"


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


def no_periodic_tasks_condition() -> AlertCondition:
    return AlertCondition(
        key=NO_PERIODIC_TASKS,
        title="Convene's periodic tasks have stopped",
        fix=(
            "Workers run, but nothing queues the periodic tasks (the sweep that re-sends "
            "changes, subscriptions, delta reads, alerts, retention). Start the scheduler "
            "(systemctl start convene-scheduler, see docs/deploy.md) and check its log."
        ),
    )


def worker_conditions() -> list[AlertCondition]:
    """No worker at all; or workers but no periodic tasks (the scheduler is down)."""
    if not heartbeat.workers_seen():
        return [no_worker_condition()]
    return [] if heartbeat.periodic_tasks_seen() else [no_periodic_tasks_condition()]


def check_workers() -> int:
    """For the web side (/readyz, /metrics): what a dead worker or scheduler cannot raise
    itself. Returns the workers seen."""
    seen = heartbeat.workers_seen()
    if not seen:
        raise_alert(no_worker_condition())
    elif not heartbeat.periodic_tasks_seen():
        raise_alert(no_periodic_tasks_condition())
    return seen


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
