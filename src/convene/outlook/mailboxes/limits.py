"""Microsoft's per-mailbox limits, kept across every worker process and machine.

Outlook allows an app 4 requests in flight per mailbox (and 10,000 per 10 minutes). Each request
holds one of the mailbox's slots, leased in the database so that any number of workers share the
same 4; the lease is renewed while the request runs (``leases``), so a worker that dies
mid-request frees its slot within one lease. A 429 pauses the
mailbox for everyone for as long as Microsoft asked.

Threads of one process first queue for the mailbox on a semaphore of 4 in memory: they wait
without polling the database, which only arbitrates between processes. (Sixteen threads polling
four rows cost more CPU than the requests themselves.)

An unordered JSON batch to one mailbox holds all 4 slots: Graph hands Outlook up to 4 inner
requests of it at a time, so such a batch is 4 requests in flight on the mailbox (an ordered one,
run one request at a time, holds one slot like a single request). Its slots are gathered in a
fixed order (locally one gatherer at a time, in the database slot 0 first), so two
batches never each hold half and wait for each other; a single request never waits holding one.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import IntegrityError
from django.db.models import F, Q
from django.utils import timezone

from convene.outlook import leases
from convene.outlook.microsoft.errors import Transient
from convene.outlook.models import MailboxPause, MailboxSlot

CONCURRENCY = 4
# How long a request may wait for a slot before the sync gives the event back to the queue.
MAX_WAIT_SECONDS = 60.0
# 429s closer together than this (after a pause ran out) count as one run of throttling.
THROTTLING_RUN_GAP = timedelta(minutes=2)


@contextmanager
def mailbox_slot(
    mailbox: str, *, slots: int = 1, max_wait: float = MAX_WAIT_SECONDS
) -> Iterator[None]:
    """Hold ``slots`` of the mailbox's request slots (1 for a request, ``CONCURRENCY`` for a
    batch) for the duration of one Graph request."""
    if not 1 <= slots <= CONCURRENCY:
        raise ValueError(f"A mailbox has {CONCURRENCY} request slots, not {slots}.")
    key = mailbox.lower()
    deadline = time.monotonic() + max_wait
    here = _local_slots(key)
    held = _hold_local(here, key, slots, deadline)
    try:
        holder = uuid.uuid4().hex
        try:
            _acquire(key, holder, max(0.0, deadline - time.monotonic()), slots)
            with leases.kept(
                lambda to: MailboxSlot.objects.filter(mailbox=key, holder=holder).update(
                    leased_until=to
                )
            ):
                yield
        finally:
            MailboxSlot.objects.filter(mailbox=key, holder=holder).update(
                holder="", leased_until=timezone.now()
            )
    finally:
        for _ in range(held):
            here.release()


def _hold_local(here: threading.BoundedSemaphore, mailbox: str, slots: int, deadline: float) -> int:
    """Take ``slots`` of this process's permits for the mailbox (``here``); returns how many
    it holds."""
    if slots == 1:
        if not here.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise Transient(f"All {CONCURRENCY} request slots of {mailbox} stayed busy.")
        return 1
    gathering = _local_gatherer(mailbox)
    if not gathering.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise Transient(f"All {CONCURRENCY} request slots of {mailbox} stayed busy.")
    held = 0
    try:
        while held < slots:
            if not here.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise Transient(f"All {CONCURRENCY} request slots of {mailbox} stayed busy.")
            held += 1
    except BaseException:
        for _ in range(held):
            here.release()
        raise
    finally:
        gathering.release()
    return held


_local: dict[str, threading.BoundedSemaphore] = {}
_gatherers: dict[str, threading.Lock] = {}
_local_lock = threading.Lock()


def _local_slots(mailbox: str) -> threading.BoundedSemaphore:
    """This process's share of the mailbox: never more than the limit, whatever the threads."""
    with _local_lock:
        slots = _local.get(mailbox)
        if slots is None:
            slots = _local[mailbox] = threading.BoundedSemaphore(CONCURRENCY)
        return slots


def _local_gatherer(mailbox: str) -> threading.Lock:
    """Held while one thread gathers several permits, so two gatherers never split them."""
    with _local_lock:
        lock = _gatherers.get(mailbox)
        if lock is None:
            lock = _gatherers[mailbox] = threading.Lock()
        return lock


def pause(mailbox: str, seconds: float) -> None:
    """Microsoft throttled this mailbox: hold every worker's requests back for ``seconds``."""
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    key = mailbox.lower()
    # A 429 well after the last pause ran out starts a new run of throttling.
    MailboxPause.objects.filter(mailbox=key, until__lt=now - THROTTLING_RUN_GAP).update(
        throttled_since=now
    )
    updated = MailboxPause.objects.filter(mailbox=key, until__lt=until).update(until=until)
    if not updated and not MailboxPause.objects.filter(mailbox=key).exists():
        try:
            MailboxPause.objects.create(mailbox=key, until=until)
        except IntegrityError:
            MailboxPause.objects.filter(mailbox=key, until__lt=until).update(until=until)
    MailboxPause.objects.filter(mailbox=key).update(
        throttled_answers=F("throttled_answers") + 1,
        throttled_seconds=F("throttled_seconds") + seconds,
    )


def paused_for(mailbox: str) -> float:
    """Seconds until the mailbox may be called again (0 when it may be called now)."""
    row = MailboxPause.objects.filter(mailbox=mailbox.lower()).only("until").first()
    if row is None:
        return 0.0
    return max(0.0, (row.until - timezone.now()).total_seconds())


def _acquire(mailbox: str, holder: str, max_wait: float, slots: int) -> None:
    """Lease ``slots`` of the mailbox's slot rows to ``holder`` (the caller frees them by
    holder, also after a failure here)."""
    _ensure_slots(mailbox)
    deadline = time.monotonic() + max_wait
    delay = 0.005
    held = 0
    while True:
        wait = paused_for(mailbox)
        if wait > max(0.0, deadline - time.monotonic()):
            raise Transient(f"{mailbox} is throttled by Microsoft", retry_after=wait)
        if wait:
            time.sleep(wait)
        now = timezone.now()
        if slots == 1:
            # Start at a random slot so waiting workers do not all race for slot 0.
            first = random.randrange(CONCURRENCY)
            order = [(first + offset) % CONCURRENCY for offset in range(CONCURRENCY)]
            if any(_take(mailbox, number, holder, now) for number in order):
                return
        else:
            # In order, each slot waited for in turn: whoever holds slot k never waits for a
            # slot below k, so gatherers in different processes cannot block each other.
            while held < slots and _take(mailbox, held, holder, now):
                held += 1
            if held == slots:
                return
        if not MailboxSlot.objects.filter(mailbox=mailbox).exists():
            # The rows went away under this process's memory of them (a test database reset).
            _slots_exist.discard(mailbox)
            _ensure_slots(mailbox)
            held = 0
            continue
        if time.monotonic() > deadline:
            raise Transient(f"All {CONCURRENCY} request slots of {mailbox} stayed busy.")
        time.sleep(delay + random.uniform(0, delay))
        delay = min(delay * 2, 0.1)


def _take(mailbox: str, number: int, holder: str, now: datetime) -> bool:
    # Free: given back (no holder), or its holder's lease ran out. Not by the time it was given
    # back alone: a slot freed a moment after this worker read the clock would look taken.
    free = Q(holder="") | Q(leased_until__lte=now)
    return bool(
        MailboxSlot.objects.filter(free, mailbox=mailbox, number=number).update(
            holder=holder, leased_until=now + leases.length()
        )
    )


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
