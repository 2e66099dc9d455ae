"""Background work of the Outlook integration. Thin: each task calls into ``sync``.

Tasks carry ids only, never tokens or payloads: the worker always reads the latest state.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from convene.outlook import delta, inbound, subscriptions, sync


@db_task()
def sync_event_task(event_id: int) -> None:
    sync.sync_event(event_id, enqueue_sync)


@db_task()
def track_all_events_task() -> None:
    sync.track_all_events(enqueue_sync)


@db_periodic_task(crontab(minute="*"))
def sweep_task() -> None:
    sync.sweep(enqueue_sync)


def enqueue_sync(event_id: int, delay: float) -> None:
    """Queue a sync of one event, ``delay`` seconds from now (0: as soon as a worker is free)."""
    if delay > 0:
        sync_event_task.schedule((event_id,), delay=delay)
    else:
        sync_event_task(event_id)


# --- replies flowing back (notifications, delta reads, subscriptions) ----------------------

# A busy event (being pushed right now) is looked at again this much later.
RECONCILE_AGAIN_SECONDS = 2.0


@db_task(retries=3, retry_delay=10)
def reconcile_event_task(mailbox: str, graph_id: str) -> None:
    inbound.handle_change(mailbox, graph_id, enqueue_sync, reconcile_later)


@db_task(retries=3, retry_delay=10)
def lifecycle_task(subscription_id: int, lifecycle_event: str) -> None:
    subscriptions.on_lifecycle(subscription_id, lifecycle_event, enqueue_delta)


@db_task(retries=3, retry_delay=30)
def delta_task(mailbox: str) -> None:
    delta.read(mailbox, enqueue_sync, reconcile_later)


@db_periodic_task(crontab(minute="*"))
def maintain_subscriptions_task() -> None:
    subscriptions.maintain(enqueue_delta)


@db_periodic_task(crontab(minute="*/5"))
def delta_read_task() -> None:
    """The safety net under notifications: every owner mailbox read by delta."""
    for mailbox in delta.mailboxes():
        delta_task(mailbox)


def reconcile_later(mailbox: str, graph_id: str) -> None:
    reconcile_event_task.schedule((mailbox, graph_id), delay=RECONCILE_AGAIN_SECONDS)


def enqueue_delta(mailbox: str) -> None:
    delta_task(mailbox)


# --- moving events (mode switches, handovers) ---------------------------------------------


@db_task()
def move_job_task(job_id: int) -> None:
    from convene.outlook import moves  # moves -> sync -> ... -> this module

    moves.run(job_id, enqueue_sync, enqueue_move_job)


@db_periodic_task(crontab(minute="*"))
def resume_move_jobs_task() -> None:
    """A mode switch or handover whose worker died continues where it stopped."""
    from convene.outlook import moves

    moves.resume_stalled(enqueue_move_job)


def enqueue_move_job(job_id: int, delay: float = 0) -> None:
    if delay > 0:
        move_job_task.schedule((job_id,), delay=delay)
    else:
        move_job_task(job_id)
