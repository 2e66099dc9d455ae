"""Microsoft's per-mailbox limits, kept across every worker process and machine.

Outlook allows an app 4 requests in flight per mailbox (and 10,000 per 10 minutes). Each request
holds one of the mailbox's slots, leased in the database so that any number of workers share the
same 4; a worker that dies mid-request frees its slot when the lease runs out. A 429 pauses the
mailbox for everyone for as long as Microsoft asked.

Threads of one process first queue for the mailbox on a semaphore of 4 in memory: they wait
without polling the database, which only arbitrates between processes. (Sixteen threads polling
four rows cost more CPU than the requests themselves.)
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from convene.outlook.errors import Transient
from convene.outlook.models import MailboxPause, MailboxSlot

CONCURRENCY = 4
# How long a request may wait for a slot before the sync gives the event back to the queue.
MAX_WAIT_SECONDS = 60.0


@contextmanager
def mailbox_slot(mailbox: str, *, max_wait: float = MAX_WAIT_SECONDS) -> Iterator[None]:
    """Hold one of the mailbox's request slots for the duration of one Graph request."""
    key = mailbox.lower()
    deadline = time.monotonic() + max_wait
    here = _local_slots(key)
    if not here.acquire(timeout=max_wait):
        raise Transient(f"All {CONCURRENCY} request slots of {mailbox} stayed busy.")
    try:
        holder = uuid.uuid4().hex
        number = _acquire(key, holder, max(0.0, deadline - time.monotonic()))
        try:
            yield
        finally:
            MailboxSlot.objects.filter(mailbox=key, number=number, holder=holder).update(
                holder="", leased_until=timezone.now()
            )
    finally:
        here.release()


_local: dict[str, threading.BoundedSemaphore] = {}
_local_lock = threading.Lock()


def _local_slots(mailbox: str) -> threading.BoundedSemaphore:
    """This process's share of the mailbox: never more than the limit, whatever the threads."""
    with _local_lock:
        slots = _local.get(mailbox)
        if slots is None:
            slots = _local[mailbox] = threading.BoundedSemaphore(CONCURRENCY)
        return slots


def pause(mailbox: str, seconds: float) -> None:
    """Microsoft throttled this mailbox: hold every worker's requests back for ``seconds``."""
    until = timezone.now() + timedelta(seconds=seconds)
    key = mailbox.lower()
    updated = MailboxPause.objects.filter(mailbox=key, until__lt=until).update(until=until)
    if not updated and not MailboxPause.objects.filter(mailbox=key).exists():
        try:
            MailboxPause.objects.create(mailbox=key, until=until)
        except IntegrityError:
            MailboxPause.objects.filter(mailbox=key, until__lt=until).update(until=until)


def paused_for(mailbox: str) -> float:
    """Seconds until the mailbox may be called again (0 when it may be called now)."""
    row = MailboxPause.objects.filter(mailbox=mailbox.lower()).only("until").first()
    if row is None:
        return 0.0
    return max(0.0, (row.until - timezone.now()).total_seconds())


def _acquire(mailbox: str, holder: str, max_wait: float) -> int:
    _ensure_slots(mailbox)
    deadline = time.monotonic() + max_wait
    delay = 0.005
    while True:
        wait = paused_for(mailbox)
        if wait > max(0.0, deadline - time.monotonic()):
            raise Transient(f"{mailbox} is throttled by Microsoft", retry_after=wait)
        if wait:
            time.sleep(wait)
        now = timezone.now()
        # Start at a random slot so waiting workers do not all race for slot 0.
        first = random.randrange(CONCURRENCY)
        for offset in range(CONCURRENCY):
            number = (first + offset) % CONCURRENCY
            taken = MailboxSlot.objects.filter(
                mailbox=mailbox, number=number, leased_until__lte=now
            ).update(holder=holder, leased_until=now + _lease())
            if taken:
                return number
        if not MailboxSlot.objects.filter(mailbox=mailbox).exists():
            # The rows went away under this process's memory of them (a test database reset).
            _slots_exist.discard(mailbox)
            _ensure_slots(mailbox)
            continue
        if time.monotonic() > deadline:
            raise Transient(f"All {CONCURRENCY} request slots of {mailbox} stayed busy.")
        time.sleep(delay + random.uniform(0, delay))
        delay = min(delay * 2, 0.1)


def _lease() -> timedelta:
    # Longer than any single request may take (the HTTP client times out well before); a
    # worker that dies mid-request frees its slot when it runs out.
    return timedelta(seconds=settings.OUTLOOK_LEASE_SECONDS)


# Mailboxes whose slot rows this process has already seen: saves a query per request.
_slots_exist: set[str] = set()


def _ensure_slots(mailbox: str) -> None:
    if mailbox in _slots_exist:
        return
    past = timezone.now() - timedelta(seconds=1)
    MailboxSlot.objects.bulk_create(
        [MailboxSlot(mailbox=mailbox, number=n, leased_until=past) for n in range(CONCURRENCY)],
        ignore_conflicts=True,
    )
    _slots_exist.add(mailbox)
