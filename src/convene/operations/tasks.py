"""Periodic operations work: alerts every minute, retention every night."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from convene.operations import alerts, heartbeat, retention


@db_periodic_task(crontab(minute="*"))
def evaluate_alerts_task() -> None:
    heartbeat.beat(heartbeat.PERIODIC_TASKS)
    alerts.evaluate()


@db_periodic_task(crontab(hour="3", minute="17"))
def retention_task() -> None:
    retention.prune()
    heartbeat.forget_gone_workers()
