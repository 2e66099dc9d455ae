"""The worker's heartbeat: each worker process writes "still here" every few seconds.

``/readyz`` and the "no worker" alert read it. A thread in the worker process beats, rather than
a queued task: a task would wait behind a long queue and make a busy worker look dead.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from convene.operations.models import WorkerHeartbeat

log = logging.getLogger(__name__)

# Rows of workers gone this long are removed (a restarted worker has a new pid).
FORGET_AFTER = timedelta(days=1)
# Not a process: written by a periodic task each minute, so it shows the scheduler is queueing
# periodic tasks and a worker is running them (``periodic_tasks_seen``).
PERIODIC_TASKS = "periodic-tasks"

_lock = threading.Lock()
_stop = threading.Event()
_thread: threading.Thread | None = None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(worker: str | None = None) -> None:
    now = timezone.now()
    name = worker or worker_name()
    updated = WorkerHeartbeat.objects.filter(worker=name).update(seen_at=now)
    if not updated:
        WorkerHeartbeat.objects.update_or_create(
            worker=name, defaults={"seen_at": now, "started_at": now}
        )


def workers_seen(within_seconds: float | None = None) -> int:
    """How many worker processes beat within the last ``within_seconds`` (default
    ``CONVENE_WORKER_STALE_SECONDS``)."""
    seconds = settings.CONVENE_WORKER_STALE_SECONDS if within_seconds is None else within_seconds
    window = timedelta(seconds=seconds)
    return (
        WorkerHeartbeat.objects.filter(seen_at__gte=timezone.now() - window)
        .exclude(worker=PERIODIC_TASKS)
        .count()
    )


def periodic_tasks_seen(within_seconds: float | None = None) -> bool:
    """Whether a periodic task ran within ``CONVENE_PERIODIC_STALE_SECONDS`` (default 180)."""
    seconds = settings.CONVENE_PERIODIC_STALE_SECONDS if within_seconds is None else within_seconds
    since = timezone.now() - timedelta(seconds=seconds)
    return WorkerHeartbeat.objects.filter(worker=PERIODIC_TASKS, seen_at__gte=since).exists()


def forget_gone_workers() -> int:
    deleted, _ = (
        WorkerHeartbeat.objects.filter(seen_at__lt=timezone.now() - FORGET_AFTER)
        .exclude(worker=PERIODIC_TASKS)
        .delete()
    )
    return deleted


def start() -> None:
    """Huey startup hook (runs once per worker thread): one beating thread per process."""
    global _thread
    interval = float(settings.CONVENE_HEARTBEAT_SECONDS)
    with _lock:
        if interval <= 0 or (_thread is not None and _thread.is_alive()):
            return
        _stop.clear()
        _thread = threading.Thread(
            target=_run, args=(interval,), name="convene-heartbeat", daemon=True
        )
        _thread.start()


def stop() -> None:
    """Huey shutdown hook: a worker stopping on purpose stops beating at once."""
    global _thread
    with _lock:
        _stop.set()
        thread, _thread = _thread, None
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout=5)


def _run(interval: float) -> None:
    worker = worker_name()
    while True:
        try:
            beat(worker)
        except DatabaseError:
            # The database being away is what /readyz reports; keep trying.
            log.warning("Could not write the worker heartbeat", exc_info=True)
        finally:
            connection.close()  # this thread's own connection; do not hold it between beats
        if _stop.wait(interval):
            return
