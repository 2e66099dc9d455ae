"""Background work of the Outlook integration. Thin: each task calls into ``sync``.

Tasks carry ids only, never tokens or payloads: the worker always reads the latest state.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from convene.outlook import sync


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
