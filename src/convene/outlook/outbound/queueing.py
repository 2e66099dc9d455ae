"""Queueing pushes: which events go out, in which tasks, and when.

Desired state, not events: a change to an event bumps its link's ``desired_version`` inside the
change's own transaction (``note_change``) and queues one task for after commit; while that
task has not started, later changes only bump the version, and it pushes them all.

Many events of one mailbox due at once (the integration switched on, the sweep, a reconnect)
are queued as batches of up to 20, one task each (``outbound.batches``); a single edit keeps
its own task and request (``outbound.push``), so it never waits for one. A mailbox with
``ORDERED_FROM`` or more due gets ordered batches (see ``outbound.batches``).

The periodic ``sweep`` re-queues whatever fell behind, so a lost task or a crashed worker only
delays sync.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from convene.events.changes import ChangeKind, EventChange
from convene.events.models import Event, not_over
from convene.outlook import links
from convene.outlook.mailboxes import limits
from convene.outlook.microsoft.graph import MAX_BATCH
from convene.outlook.models import CalendarLink, LinkState, Mode, OutlookSettings
from convene.outlook.outbound.snapshots import SYNCED_FIELDS

log = logging.getLogger(__name__)

Enqueue = Callable[[int, float], None]


@runtime_checkable
class BatchEnqueue(Protocol):
    """An ``Enqueue`` that can also queue one task for several events of one mailbox."""

    def __call__(self, event_id: int, delay: float) -> None: ...

    def many(self, event_ids: list[int], ordered: bool = False) -> None: ...


# A mailbox with at least this many events due is worked by ordered batches, 4 at a time;
# below it, unordered batches finish it with one worker instead of four.
ORDERED_FROM = limits.CONCURRENCY * MAX_BATCH


# --- noting changes (runs inside the change's transaction) --------------------------------


def note_change(change: EventChange, enqueue: Enqueue) -> None:
    """Bump the event's desired version now; queue one sync for after commit.

    Only one task is queued per burst: while a queued task has not started yet, later changes
    just bump the version, and that task syncs them all.
    """
    if change.kind == ChangeKind.UPDATED and not change.changed_fields & SYNCED_FIELDS:
        return
    if change.kind == ChangeKind.SESSION_ATTENDANCE:
        return  # who will miss a session is Convene's to show; Outlook's copy is unchanged
    outlook = OutlookSettings.load()
    if not outlook.enabled:
        return
    link = links.note_new_version(change.event_id, outlook.mode)
    queue_once(link.pk, change.event_id, enqueue, delay=_coalescing_delay(link))


def _coalescing_delay(link: CalendarLink) -> float:
    """No wait for a change to a quiet event: it goes out at once. A change while the event
    is being pushed, or just after, waits for more (``OUTLOOK_COALESCE_SECONDS``), so a
    stream of changes costs one request per delay. (Waiting every time cost a single edit the
    delay plus up to a second more for the queue's scheduler to notice it.)"""
    now = timezone.now()
    window = timedelta(seconds=settings.OUTLOOK_COALESCE_SECONDS)
    pushing = link.lease_until is not None and link.lease_until > now
    just_pushed = link.last_synced_at is not None and now - link.last_synced_at < window
    return settings.OUTLOOK_COALESCE_SECONDS if pushing or just_pushed else 0.0


def queue_once(link_id: int, event_id: int, enqueue: Enqueue, delay: float) -> None:
    """Queue the event's push after commit, unless a task for it is queued already."""
    if links.claim_queue(link_id):
        transaction.on_commit(partial(_enqueue_or_unmark, enqueue, link_id, event_id, delay))


def _enqueue_or_unmark(enqueue: Enqueue, link_id: int, event_id: int, delay: float) -> None:
    # The change is committed whatever happens here: if the queue is down, the sweep finds
    # the link once it is back, and the person saving the event sees no error.
    try:
        enqueue(event_id, delay)
    except Exception:
        log.warning("Could not queue Outlook sync of event %s; the sweep will", event_id)
        links.unqueue([link_id])


def queue_behind(link_ids: list[int], enqueue: Enqueue) -> None:
    """Changes that arrived during a push (their task was turned away by the lease, or is
    still waiting) go out together after the coalescing delay, not in a push right after this
    one: a steady stream of enrollments then costs one request per delay, not one per push."""
    behind = CalendarLink.objects.filter(links.behind(), pk__in=link_ids)
    for link_id, event_id in behind.values_list("pk", "event_id"):
        queue_once(link_id, event_id, enqueue, delay=settings.OUTLOOK_COALESCE_SECONDS)


# --- many at once -------------------------------------------------------------------------


def track_all_events(enqueue: Enqueue) -> int:
    """The integration was switched on: every upcoming event should be in Outlook.

    Existing links get a new desired version; the comparison with what Outlook last accepted
    decides whether anything is actually sent, so switching off and on again re-sends nothing.
    """
    outlook = OutlookSettings.load()
    upcoming = Event.objects.filter(not_over(timezone.now()))
    links.track(
        upcoming.filter(calendar_link__isnull=True).values_list("pk", flat=True), outlook.mode
    )
    tracked = CalendarLink.objects.filter(event__in=upcoming)
    links.want_all_again(tracked)
    return queue_many(tracked, enqueue)


def resume_owner(
    user_id: int, enqueue: Enqueue, parked_as: str = LinkState.WAITING_AUTHORIZATION
) -> int:
    """The person reconnected (or was reactivated, with ``parked_as=NEEDS_NEW_ORGANIZER``):
    everything parked for them syncs now."""
    return queue_many(links.unpark(user_id, parked_as), enqueue)


def retry_now(link: CalendarLink, enqueue: Enqueue, *, compare_again: bool = False) -> None:
    """Try the event again now (an admin's "Retry", ``manage.py outlook resync``).

    ``compare_again`` also makes a link that looks current compare itself with Outlook's copy;
    only real differences are sent.
    """
    links.retry_now(link, compare_again=compare_again)
    queue_once(link.pk, link.event_id, enqueue, delay=0)


def sweep(enqueue: Enqueue) -> int:
    """Queue every link that is behind and due: the safety net under every other path."""
    return queue_many(CalendarLink.objects.filter(links.due_for_sweep()), enqueue)


@dataclass(frozen=True)
class _Due:
    link_id: int
    event_id: int
    mailbox: tuple[str, object]  # which mailbox the copy is (or will be) in, as far as known


def _due(due: QuerySet[CalendarLink]) -> list[_Due]:
    """The links of a queryset, each with the mailbox its copy lives in (or will be made in),
    read in one query: that is what batches are formed by."""
    mode = OutlookSettings.load().mode
    found = []
    for link_id, event_id, link_mode, graph_id, owner, creator in due.values_list(
        "pk", "event_id", "mode", "graph_id", "owner_mailbox", "event__created_by_id"
    ):
        if graph_id and owner:
            mailbox: tuple[str, object] = ("mailbox", owner.lower())
        elif (link_mode if graph_id else mode) == Mode.PLATFORM:
            mailbox = ("platform", None)
        else:
            mailbox = ("organizer", creator)  # the creator's mailbox, whatever it turns out to be
        found.append(_Due(link_id, event_id, mailbox))
    return found


def queue_many(due_links: QuerySet[CalendarLink], enqueue: Enqueue) -> int:
    """Queue each link once: in tasks of up to ``MAX_BATCH`` events of one mailbox when the
    queue takes batches (ordered ones for a mailbox with ``ORDERED_FROM`` or more), otherwise
    one task per event. Returns how many links were due."""
    due = _due(due_links)
    if not isinstance(enqueue, BatchEnqueue):
        for item in due:
            queue_once(item.link_id, item.event_id, enqueue, delay=0)
        return len(due)
    claimed = links.claim_queue_many([item.link_id for item in due])
    by_mailbox: dict[tuple[str, object], list[_Due]] = defaultdict(list)
    for item in due:
        if item.link_id in claimed:
            by_mailbox[item.mailbox].append(item)
    chunks = [_chunks(items, len(items) >= ORDERED_FROM) for items in by_mailbox.values()]
    # Every mailbox's first batch before any mailbox's second: a mailbox takes one unordered
    # batch (or four ordered ones) at a time, so workers taking the queue in order keep as many
    # mailboxes busy as they can.
    for wave in itertools.zip_longest(*chunks):
        for chunk in wave:
            if chunk is None:
                continue
            if len(chunk) == 1:
                task = partial(_enqueue_or_unmark, enqueue, chunk[0].link_id, chunk[0].event_id, 0)
            else:
                ordered = len(by_mailbox[chunk[0].mailbox]) >= ORDERED_FROM
                task = partial(_enqueue_many_or_unmark, enqueue, chunk, ordered)
            transaction.on_commit(task)
    return len(due)


def _chunks(items: list[_Due], ordered: bool) -> list[list[_Due]]:
    """One mailbox's links in batches of at most ``MAX_BATCH``. Ordered batches go out four at
    a time, one per request slot, so there are as many as a multiple of four, of even sizes:
    the slots then finish together, rather than one running on alone with the last batch while
    the others idle (1,000 events: 52 batches of 19 or 20, not 50 of 20 where the last round
    has two)."""
    count = math.ceil(len(items) / MAX_BATCH)
    if ordered:
        count = math.ceil(count / limits.CONCURRENCY) * limits.CONCURRENCY
    size, larger = divmod(len(items), count)
    found, start = [], 0
    for number in range(count):
        end = start + size + (1 if number < larger else 0)
        found.append(items[start:end])
        start = end
    return [chunk for chunk in found if chunk]


def _enqueue_many_or_unmark(enqueue: BatchEnqueue, chunk: Sequence[_Due], ordered: bool) -> None:
    try:
        enqueue.many([item.event_id for item in chunk], ordered)
    except Exception:
        log.warning("Could not queue an Outlook sync of %s events; the sweep will", len(chunk))
        links.unqueue([item.link_id for item in chunk])
