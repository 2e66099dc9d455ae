"""Background work of the Outlook integration. Thin: each task calls into the package that does
the work (``outbound``, ``inbound``, ``moves``), handing it the ``enqueue_*`` functions below.

Tasks carry ids only, never tokens or payloads: the worker always reads the latest state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from huey import crontab
from huey.api import Task
from huey.contrib.djhuey import db_periodic_task, db_task

from convene.outlook import links
from convene.outlook.inbound import delta, noted_changes, subscriptions
from convene.outlook.microsoft.errors import Transient
from convene.outlook.models import LogKind, record
from convene.outlook.moves import engine
from convene.outlook.outbound import batches, push, queueing


@db_task()
def sync_event_task(event_id: int) -> None:
    push.sync_event(event_id, enqueue_sync)


@db_task()
def track_all_events_task() -> None:
    queueing.track_all_events(enqueue_sync)


@db_periodic_task(crontab(minute="*"))
def sweep_task() -> None:
    """The safety net, every ``OUTLOOK_SWEEP_SECONDS`` (the schedule has minutes; the rest of
    the minute is queued from here): work a dead worker held is taken over as soon as its
    lease runs out, not up to a minute later."""
    takeover_sweep_task()
    every = max(1.0, float(settings.OUTLOOK_SWEEP_SECONDS))
    for number in range(1, int(60 / every)):
        takeover_sweep_task.schedule(delay=number * every)


@db_task()
def takeover_sweep_task() -> None:
    queueing.sweep(enqueue_sync)
    noted_changes.sweep(enqueue_reconcile)


@db_task()
def sync_events_task(event_ids: list[int], ordered: bool = False) -> None:
    batches.sync_events(event_ids, enqueue_sync, ordered=ordered)


class SyncQueue:
    """Queues syncs: ``enqueue_sync(event_id, delay)`` for one event, ``delay`` seconds from
    now (0: as soon as a worker is free); ``enqueue_sync.many(event_ids, ordered)`` for a
    batch of events of one mailbox, in one task."""

    def __call__(self, event_id: int, delay: float) -> None:
        if delay > 0:
            sync_event_task.schedule((event_id,), delay=delay)
        else:
            sync_event_task(event_id)

    def many(self, event_ids: list[int], ordered: bool = False) -> None:
        sync_events_task(event_ids, ordered)


enqueue_sync = SyncQueue()


# --- replies flowing back (notifications, delta reads, subscriptions) ----------------------


@db_task()
def reconcile_mailbox_task(mailbox: str) -> None:
    """Read every change noted for the mailbox (by the webhook or a delta read) once."""
    noted_changes.reconcile_noted(mailbox, enqueue_sync, enqueue_reconcile)


def enqueue_reconcile(mailbox: str, delay: float) -> None:
    if delay > 0:
        reconcile_mailbox_task.schedule((mailbox,), delay=delay)
    else:
        reconcile_mailbox_task(mailbox)


RETRIES = 3


@contextmanager
def retry_as_microsoft_asks(task: Task | None) -> Iterator[None]:
    """A transient failure is retried (Huey's ``retries``) after the server's Retry-After, or
    after an exponential backoff when it named none: never after a fixed delay. (``task`` is
    None when called in-process, ``call_local``: nothing is retried then.)"""
    try:
        yield
    except Transient as exc:
        if task is None:
            raise
        attempt = RETRIES - int(task.retries) + 1
        task.retry_delay = links.backoff(attempt, exc.retry_after)
        raise


@db_task(retries=RETRIES, context=True)
def lifecycle_task(subscription_id: int, lifecycle_event: str, task: Task | None = None) -> None:
    with retry_as_microsoft_asks(task):
        subscriptions.on_lifecycle(subscription_id, lifecycle_event, enqueue_delta)


@db_task(retries=RETRIES, context=True)
def delta_task(mailbox: str, task: Task | None = None) -> None:
    with retry_as_microsoft_asks(task):
        caught = delta.read(mailbox, enqueue_sync, reconcile_later)
    if caught:
        # Changes no notification announced: what the metrics call "caught by delta".
        record(
            LogKind.NOTIFICATION,
            "caught_by_delta",
            message=f"The delta read found {caught} changed event{'s' * (caught != 1)}.",
            mailbox=mailbox,
            events=caught,
        )


@db_periodic_task(crontab(minute="*"))
def maintain_subscriptions_task() -> None:
    subscriptions.maintain(enqueue_delta)


@db_periodic_task(crontab(minute="*/5"))
def delta_read_task() -> None:
    """The safety net under notifications: every owner mailbox read by delta."""
    for mailbox in delta.mailboxes():
        delta_task(mailbox)


def reconcile_later(mailbox: str, graph_id: str) -> None:
    """An event that could not be reconciled now (it was being pushed): read it shortly."""
    noted_changes.note(mailbox, [graph_id], enqueue_reconcile)


def enqueue_delta(mailbox: str) -> None:
    delta_task(mailbox)


# --- moving events (mode switches, handovers) ---------------------------------------------


@db_task()
def move_job_task(job_id: int) -> None:
    engine.run(job_id, enqueue_sync, enqueue_move_job)


@db_periodic_task(crontab(minute="*"))
def resume_move_jobs_task() -> None:
    """A mode switch or handover whose worker died continues where it stopped."""
    engine.resume_stalled(enqueue_move_job)


def enqueue_move_job(job_id: int, delay: float = 0) -> None:
    if delay > 0:
        move_job_task.schedule((job_id,), delay=delay)
    else:
        move_job_task(job_id)
