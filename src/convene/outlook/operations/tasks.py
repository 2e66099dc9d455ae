"""Periodic self-repair of the Outlook integration (thin: see keepalive, daily_reconcile)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from convene.outlook import tasks as outlook_tasks
from convene.outlook.operations import daily_reconcile, keepalive


@db_periodic_task(crontab(hour="4", minute="7"))
def keep_connections_alive_task() -> None:
    keepalive.refresh_idle_connections()


@db_periodic_task(crontab(hour="4", minute="37"))
def daily_reconcile_task() -> None:
    """One task per mailbox, so a throttled or failing mailbox is retried on its own."""
    for mailbox in daily_reconcile.mailboxes():
        reconcile_mailbox_task(mailbox)


@db_task(retries=5, retry_delay=120)
def reconcile_mailbox_task(mailbox: str) -> None:
    daily_reconcile.reconcile_mailbox(
        mailbox, outlook_tasks.enqueue_sync, outlook_tasks.reconcile_later
    )
