"""Leases kept alive while their work runs, so a worker that dies gives them up in seconds.

A lease (a link being pushed, a mailbox's request slot, a claim on noted changes) is a time in
a row: whoever holds it is the only one at work there until that time. It is short
(``OUTLOOK_LEASE_SECONDS``, 6 s by default) and renewed every ``OUTLOOK_LEASE_RENEW_SECONDS``
by one thread per process for as long as the work runs (``kept``). A worker killed mid-work
stops renewing, so others take its work over within one lease, however long the work itself
would have taken; no heartbeat table or clock agreement between workers is needed beyond the
database's rows.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections
from django.utils import timezone

log = logging.getLogger(__name__)

Renew = Callable[[datetime], object]
"""Extends the held rows' lease to the given time (and only rows still held)."""

_held: dict[int, Renew] = {}
_lock = threading.Lock()
_numbers = itertools.count()
_renewer: threading.Thread | None = None


def length() -> timedelta:
    """How long a lease lasts unless renewed: how soon a dead worker's work is taken over."""
    return timedelta(seconds=settings.OUTLOOK_LEASE_SECONDS)


def until() -> datetime:
    return timezone.now() + length()


def queue_patience() -> timedelta:
    """How long a queued task may wait before it counts as lost (the sweep queues another).
    Not a lease: a task waiting behind a long queue is not dead."""
    return timedelta(seconds=settings.OUTLOOK_QUEUE_PATIENCE_SECONDS)


@contextmanager
def kept(renew: Renew) -> Iterator[None]:
    """Renew a lease this process holds for as long as the block runs."""
    number = next(_numbers)
    with _lock:
        _held[number] = renew
        _start_renewer()
    try:
        yield
    finally:
        with _lock:
            _held.pop(number, None)


def _start_renewer() -> None:
    global _renewer
    if _renewer is None or not _renewer.is_alive():
        _renewer = threading.Thread(target=_renew_forever, name="lease-renewer", daemon=True)
        _renewer.start()


def _renew_forever() -> None:
    while True:
        threading.Event().wait(float(settings.OUTLOOK_LEASE_RENEW_SECONDS))
        renew_held()


def renew_held() -> int:
    """Extend every lease this process holds now; returns how many were renewed."""
    with _lock:
        held = list(_held.values())
    if not held:
        return 0
    to = until()
    try:
        for renew in held:
            try:
                renew(to)
            except Exception:
                # A database hiccup: the next round tries again, well within the lease.
                log.warning("Could not renew a lease", exc_info=True)
    finally:
        # This thread's connection goes back (to the pool) between rounds.
        connections.close_all()
    return len(held)
