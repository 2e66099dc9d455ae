"""The sync engine: make each event's Outlook copy match what Convene wants.

Desired state, not events: a change to an event bumps its link's ``desired_version`` inside the
change's own transaction (``note_change``); ``sync_event`` later reads the event as it is *then*,
compares the Graph payload with what Outlook last accepted, and sends only the difference:

- no Outlook copy yet: one POST with a ``transactionId`` fixed per event and generation, so a
  retried create returns the first copy instead of making a second;
- a copy exists: one PATCH with just the changed properties (attendee changes alone notify only
  the people who changed), or nothing at all when nothing changed;
- cancelled: one ``cancel`` with the organizer's reason, so Outlook tells everyone.

Many events of one mailbox due at once (the integration switched on, the sweep, a reconnect)
are queued as batches of up to 20, one task each (``sync_events``): their requests go out as one
JSON ``$batch`` per mailbox, with the database read and written once per batch. Each request in
it keeps its own outcome, handled exactly as if it had been sent alone. A single edit keeps its
own task and request, so it never waits for one.

The batches take the two shapes Microsoft documents for one mailbox. A few batches' worth goes
out unordered, one batch at a time: Outlook runs 4 of its requests at once, so the batch holds
all 4 of the mailbox's request slots. A long queue (the platform calendar's backfill) goes out
as ordered batches (``dependsOn``), each holding one slot, 4 at a time: no slot then idles while
a batch waits for its slowest request, and one batch's round trip overlaps the others' work.

Failures are states, not exceptions: transient ones are retried with backoff (and Retry-After),
a lost authorization parks the event until its owner reconnects, and anything permanent is
recorded and shown. The periodic ``sweep`` re-queues whatever fell behind, so a lost task or a
crashed worker only delays sync.
"""

from __future__ import annotations

import itertools
import logging
import random
import ssl
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, runtime_checkable

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from convene.events.changes import ChangeKind, EventChange
from convene.events.models import Enrollment, Event
from convene.outlook.mailboxes import limits, platform
from convene.outlook.mailboxes.connections import DelegatedTokens, usable_connection
from convene.outlook.microsoft import mapping
from convene.outlook.microsoft.errors import (
    AuthorizationLost,
    MicrosoftError,
    NotFound,
    NotSent,
    OrganizerLeft,
    Rejected,
    Throttled,
    Transient,
)
from convene.outlook.microsoft.graph import MAX_BATCH, Call, GraphClient, event_path
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import (
    CalendarLink,
    LinkState,
    LogKind,
    Mode,
    OutlookConnection,
    OutlookSettings,
    SyncLogEntry,
    log_entry,
    record,
)

log = logging.getLogger(__name__)

# Fields of an Event that appear in its Outlook copy; changes to others (capacity) do not sync.
SYNCED_FIELDS = frozenset(
    {"title", "description", "start", "end", "timezone", "location", "is_online", "online_url"}
)


def _lease() -> timedelta:
    """How long a worker may hold a link (and a queued task may wait) before others assume it
    died: longer than any one sync takes, short enough that a crash only delays sync."""
    return timedelta(seconds=settings.OUTLOOK_LEASE_SECONDS)


MAX_BACKOFF_SECONDS = 15 * 60


# --- noting changes (runs inside the change's transaction) --------------------------------

Enqueue = Callable[[int, float], None]


@runtime_checkable
class BatchEnqueue(Protocol):
    """An ``Enqueue`` that can also queue one task for several events of one mailbox."""

    def __call__(self, event_id: int, delay: float) -> None: ...

    def many(self, event_ids: list[int], ordered: bool = False) -> None: ...


# A mailbox with at least this many events due is worked by ordered batches, 4 at a time;
# below it, unordered batches finish it with one worker instead of four.
ORDERED_FROM = limits.CONCURRENCY * MAX_BATCH


def note_change(change: EventChange, enqueue: Enqueue) -> None:
    """Bump the event's desired version now; queue one sync for after commit.

    Only one task is queued per burst: while a queued task has not started yet, later changes
    just bump the version, and that task syncs them all.
    """
    if change.kind == ChangeKind.UPDATED and not change.changed_fields & SYNCED_FIELDS:
        return
    outlook = OutlookSettings.load()
    if not outlook.enabled:
        return
    link, created = CalendarLink.objects.get_or_create(
        event_id=change.event_id, defaults={"mode": outlook.mode}
    )
    if not created:
        CalendarLink.objects.filter(pk=link.pk).update(desired_version=F("desired_version") + 1)
        # Outlook falls behind now if it was in step until this change (the sync lag's start).
        CalendarLink.objects.filter(
            pk=link.pk, synced_version__gte=F("desired_version") - 1
        ).update(behind_since=timezone.now())
        # A permanent failure may be fixed by this very change: try again.
        CalendarLink.objects.filter(pk=link.pk, state=LinkState.FAILING).update(
            next_attempt_at=timezone.now()
        )
    _queue_once(link.pk, change.event_id, enqueue, delay=_coalescing_delay(link))


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


def _queue_once(link_id: int, event_id: int, enqueue: Enqueue, delay: float) -> None:
    now = timezone.now()
    claimed = (
        CalendarLink.objects.filter(pk=link_id)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - _lease()))
        .update(queued_at=now)
    )
    if claimed:
        transaction.on_commit(partial(_enqueue_or_unmark, enqueue, link_id, event_id, delay))


def _enqueue_or_unmark(enqueue: Enqueue, link_id: int, event_id: int, delay: float) -> None:
    # The change is committed whatever happens here: if the queue is down, the sweep finds
    # the link once it is back, and the person saving the event sees no error.
    try:
        enqueue(event_id, delay)
    except Exception:
        log.warning("Could not queue Outlook sync of event %s; the sweep will", event_id)
        CalendarLink.objects.filter(pk=link_id).update(queued_at=None)


def track_all_events(enqueue: Enqueue) -> int:
    """The integration was switched on: every upcoming event should be in Outlook.

    Existing links get a new desired version; the comparison with what Outlook last accepted
    decides whether anything is actually sent, so switching off and on again re-sends nothing.
    """
    outlook = OutlookSettings.load()
    upcoming = Event.objects.filter(end__gte=timezone.now())
    untracked = upcoming.filter(calendar_link__isnull=True).values_list("pk", flat=True)
    CalendarLink.objects.bulk_create(
        [CalendarLink(event_id=pk, mode=outlook.mode) for pk in untracked],
        ignore_conflicts=True,
    )
    links = CalendarLink.objects.filter(event__in=upcoming)
    links.update(desired_version=F("desired_version") + 1)
    return _queue_many(_due(links), enqueue)


def resume_owner(
    user_id: int, enqueue: Enqueue, parked_as: str = LinkState.WAITING_AUTHORIZATION
) -> int:
    """The person reconnected (or was reactivated, with ``parked_as=NEEDS_NEW_ORGANIZER``):
    everything parked for them syncs now."""
    parked = CalendarLink.objects.filter(state=parked_as, event__created_by_id=user_id)
    due = _due(parked)
    parked.update(state=LinkState.PENDING, next_attempt_at=timezone.now(), last_error="")
    return _queue_many(due, enqueue)


def retry_now(link: CalendarLink, enqueue: Enqueue, *, compare_again: bool = False) -> None:
    """Try the event again now (an admin's "Retry", ``manage.py outlook resync``).

    ``compare_again`` also makes a link that looks current compare itself with Outlook's copy;
    only real differences are sent.
    """
    changes: dict[str, Any] = {"next_attempt_at": timezone.now(), "queued_at": None}
    if link.state != LinkState.DELETED_IN_OUTLOOK:
        changes["state"] = LinkState.PENDING
    if compare_again:
        changes["desired_version"] = F("desired_version") + 1
    CalendarLink.objects.filter(pk=link.pk).update(**changes)
    _queue_once(link.pk, link.event_id, enqueue, delay=0)


def sweep(enqueue: Enqueue) -> int:
    """Queue every link that is behind and due: the safety net under every other path."""
    now = timezone.now()
    due = CalendarLink.objects.filter(
        Q(synced_version__lt=F("desired_version")),
        Q(next_attempt_at__lte=now),
        Q(queued_at__isnull=True) | Q(queued_at__lt=now - _lease()),
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        state__in=[LinkState.PENDING, LinkState.SYNCED, LinkState.FAILING],
    )
    return _queue_many(_due(due), enqueue)


@dataclass(frozen=True)
class _Due:
    link_id: int
    event_id: int
    mailbox: tuple[str, object]  # which mailbox the copy is (or will be) in, as far as known


def _due(links: QuerySet[CalendarLink]) -> list[_Due]:
    """The links of a queryset, each with the mailbox its copy lives in (or will be made in),
    read in one query: that is what batches are formed by."""
    mode = OutlookSettings.load().mode
    found = []
    for link_id, event_id, link_mode, graph_id, owner, creator in links.values_list(
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


def _queue_many(due: Sequence[_Due], enqueue: Enqueue) -> int:
    """Queue each link once: in tasks of up to ``MAX_BATCH`` events of one mailbox when the
    queue takes batches (ordered ones for a mailbox with ``ORDERED_FROM`` or more), otherwise
    one task per event. Returns how many links were due."""
    if not isinstance(enqueue, BatchEnqueue):
        for item in due:
            _queue_once(item.link_id, item.event_id, enqueue, delay=0)
        return len(due)
    claimed = _claim([item.link_id for item in due])
    by_mailbox: dict[tuple[str, object], list[_Due]] = defaultdict(list)
    for item in due:
        if item.link_id in claimed:
            by_mailbox[item.mailbox].append(item)
    chunks = [
        [items[start : start + MAX_BATCH] for start in range(0, len(items), MAX_BATCH)]
        for items in by_mailbox.values()
    ]
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


def _claim(link_ids: list[int]) -> set[int]:
    """Mark the links queued, as ``_queue_once`` does one by one; returns those that were not
    queued already. (Two claims racing may both queue a link: its lease still lets only one
    task push it.)

    Rows a worker holds locked in a transaction of its own are skipped, not waited for: a
    claim waiting on one row while holding others deadlocked with a worker saving its batch
    (PostgreSQL). The worker is on those links; the next sweep finds whatever is still due."""
    now = timezone.now()
    free = Q(queued_at__isnull=True) | Q(queued_at__lt=now - _lease())
    claimed: set[int] = set()
    for start in range(0, len(link_ids), 500):  # within every database's parameter limit
        with transaction.atomic():
            ids = set(
                CalendarLink.objects.filter(free, pk__in=link_ids[start : start + 500])
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)
            )
            CalendarLink.objects.filter(pk__in=ids).update(queued_at=now)
        claimed |= ids
    return claimed


def _enqueue_many_or_unmark(enqueue: BatchEnqueue, chunk: list[_Due], ordered: bool) -> None:
    try:
        enqueue.many([item.event_id for item in chunk], ordered)
    except Exception:
        log.warning("Could not queue an Outlook sync of %s events; the sweep will", len(chunk))
        CalendarLink.objects.filter(pk__in=[item.link_id for item in chunk]).update(queued_at=None)


# --- syncing one event (runs in the worker) -----------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where the event's Outlook copy lives and how to reach it."""

    mailbox: str
    client: GraphClient
    is_platform: bool


TargetResolver = Callable[[CalendarLink, Event, OutlookSettings], Target]


def sync_event(event_id: int, enqueue: Enqueue, resolve: TargetResolver | None = None) -> None:
    """Bring the event's Outlook copy up to date; safe to call any number of times.

    ``enqueue`` queues the retry after a transient failure.
    """
    links = CalendarLink.objects.filter(event_id=event_id)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=timezone.now())
    # One statement: from here on a new change queues a new task (this one may already be too
    # early for it), and the lease makes this worker the only one pushing the event.
    taken = links.filter(free).update(queued_at=None, lease_until=timezone.now() + _lease())
    if not taken:
        links.update(queued_at=None)
        # The holder may have given the lease back between these two statements, and found
        # this change behind it while this task still counted as queued, so queued nothing.
        # Once more, now that the holder (or a new change) would queue a task of its own.
        taken = links.filter(free).update(lease_until=timezone.now() + _lease())
        if not taken:
            return  # no link, or another worker is on it and queues what arrives meanwhile
    link_id = 0
    try:
        link_id = _push_once(event_id, enqueue, resolve or resolve_target)
    finally:
        links.update(lease_until=None)
    _queue_behind([link_id], enqueue)


def _queue_behind(link_ids: list[int], enqueue: Enqueue) -> None:
    """Changes that arrived during the push (their task was turned away by the lease, or is
    still waiting) go out together after the coalescing delay, not in a push right after this
    one: a steady stream of enrollments then costs one request per delay, not one per push."""
    behind = CalendarLink.objects.filter(
        pk__in=link_ids,
        synced_version__lt=F("desired_version"),
        state__in=[LinkState.PENDING, LinkState.SYNCED],
        next_attempt_at__lte=timezone.now(),
    )
    for link_id, event_id in behind.values_list("pk", "event_id"):
        _queue_once(link_id, event_id, enqueue, delay=settings.OUTLOOK_COALESCE_SECONDS)


def _push_once(event_id: int, enqueue: Enqueue, resolve: TargetResolver) -> int:
    """One round of sync; returns the link's id."""
    link = CalendarLink.objects.select_related("event__created_by").get(event_id=event_id)
    outlook = OutlookSettings.load()
    if not _wants_push(link, outlook):
        return link.pk
    version = link.desired_version
    event = link.event
    mailbox = link.owner_mailbox
    try:
        target = resolve(link, event, outlook)
        mailbox = target.mailbox
        saved = _push(link, event, target)
    except MicrosoftError as exc:
        _settle_failure(link, exc, mailbox, enqueue)
        return link.pk
    # What Outlook now has and the version it reflects, in one statement.
    CalendarLink.objects.filter(pk=link.pk).update(**saved, **_synced(version))
    return link.pk


def _wants_push(link: CalendarLink, outlook: OutlookSettings) -> bool:
    """Whether this round should try to bring the link's copy up to date at all."""
    if not outlook.enabled or not link.is_behind:
        return False
    if link.state in (
        LinkState.WAITING_AUTHORIZATION,
        LinkState.DELETED_IN_OUTLOOK,
        LinkState.NEEDS_NEW_ORGANIZER,
    ):
        return False
    return not (
        link.state == LinkState.FAILING
        and (link.next_attempt_at is None or link.next_attempt_at > timezone.now())
    )


def _synced(version: int) -> dict[str, Any]:
    """A link's state once Outlook holds ``version`` of its event."""
    now = timezone.now()
    return {
        "state": LinkState.SYNCED,
        "synced_version": version,
        "attempts": 0,
        "last_error": "",
        "last_synced_at": now,
        "next_attempt_at": now,
    }


def _settle_failure(
    link: CalendarLink, exc: MicrosoftError, mailbox: str, enqueue: Enqueue
) -> None:
    """What a failed push means for the link, whether its request went alone or in a batch."""
    if isinstance(exc, OrganizerLeft):
        _mark(link, LinkState.NEEDS_NEW_ORGANIZER, str(exc), decision="needs_new_organizer")
    elif isinstance(exc, AuthorizationLost):
        _park(link, str(exc))
    elif isinstance(exc, NotFound):
        if link.graph_id:
            _mark(link, LinkState.DELETED_IN_OUTLOOK, str(exc), decision="deleted_in_outlook")
        else:
            _fail(link, exc, permanent=True)
    elif isinstance(exc, Transient):
        if isinstance(exc, Throttled) and mailbox:
            limits.pause(mailbox, exc.retry_after or 1.0)
        delay = _fail(link, exc, permanent=False)
        _queue_once(link.pk, link.event_id, enqueue, delay=delay)
    else:
        _fail(link, exc, permanent=True)


@dataclass(frozen=True)
class Plan:
    """The one request that brings a link's copy up to date, and what to save on the link
    about the copy once Outlook accepted it."""

    action: str  # "create", "update" or "cancel", as the audit log says
    call: Call
    saved: Callable[[dict[str, Any]], dict[str, Any]]
    details: dict[str, Any] = field(default_factory=dict)


def _push(link: CalendarLink, event: Event, target: Target) -> dict[str, Any]:
    """Send Outlook the smallest request that makes its copy match; returns what to save on
    the link about the copy (nothing when nothing was sent)."""
    snapshot = event_snapshot(event, target.mailbox, platform=target.is_platform)
    plan = _plan(link, event, target.mailbox, snapshot)
    if plan is None:
        return {}
    answer = _call(link, target, plan.action, lambda: target.client.call(plan.call), **plan.details)
    return plan.saved(answer)


def _plan(
    link: CalendarLink, event: Event, mailbox: str, snapshot: mapping.EventSnapshot
) -> Plan | None:
    """The smallest request that makes Outlook's copy match the snapshot (None: nothing to
    send)."""
    desired = mapping.event_payload(snapshot)
    if not link.graph_id:
        if event.is_cancelled:
            _decide(link, "skip_create", "Cancelled before it ever reached Outlook.")
            return None
        return Plan(
            "create",
            Call("POST", "/events", mapping.create_payload(snapshot, link.generation)),
            lambda created: {
                "owner_mailbox": mailbox,
                "graph_id": created["id"],
                "ical_uid": created.get("iCalUId", ""),
                "change_key": created.get("changeKey", ""),
                "last_pushed": desired,
            },
        )
    if event.is_cancelled:
        if link.last_pushed.get("isCancelled"):
            return None
        reason = event.cancellation_reason or "This event has been cancelled."
        return Plan(
            "cancel",
            Call("POST", f"{event_path(link.graph_id)}/cancel", {"comment": reason}),
            lambda _: {"last_pushed": {**link.last_pushed, "isCancelled": True}},
        )
    changes = mapping.changed_properties(link.last_pushed, desired)
    if not changes:
        return None
    return Plan(
        "update",
        Call("PATCH", event_path(link.graph_id), changes),
        lambda updated: {"change_key": updated.get("changeKey", ""), "last_pushed": desired},
        {"properties": sorted(changes)},
    )


def _call(
    link: CalendarLink, target: Target, action: str, request: Callable[[], Any], **details: Any
) -> Any:
    """Make one Graph request for ``link``, and write it to the audit log either way."""
    try:
        result = request()
    except MicrosoftError as exc:
        record(
            LogKind.GRAPH,
            action,
            status=str(exc.status or type(exc).__name__),
            message=str(exc),
            event_id=link.event_id,
            mailbox=target.mailbox,
            **details,
        )
        raise
    record(
        LogKind.GRAPH,
        action,
        status="ok",
        event_id=link.event_id,
        mailbox=target.mailbox,
        **details,
    )
    return result


# --- syncing a batch of events (runs in the worker) ---------------------------------------


def sync_events(
    event_ids: list[int],
    enqueue: Enqueue,
    resolve: TargetResolver | None = None,
    *,
    ordered: bool = False,
) -> None:
    """Bring several events' Outlook copies up to date at once, as ``sync_event`` does for each
    (same leases, same outcomes): the requests for one mailbox go out as JSON batches,
    ``ordered`` ones (see the module's docstring) when asked."""
    links = CalendarLink.objects.filter(event_id__in=event_ids)
    link_ids = list(links.values_list("pk", flat=True))
    links.update(queued_at=None)  # from here on a new change queues a new task
    # A link someone else is pushing (a single edit's task) is theirs: they queue what follows.
    # Each lease is its own conditional update (exactly the links this task got), all in one
    # transaction (one commit).
    with transaction.atomic():
        taken = [link_id for link_id in link_ids if _take_lease(link_id)]
    if not taken:
        return
    try:
        not_sent = _push_many(taken, enqueue, resolve or resolve_target, ordered)
    finally:
        CalendarLink.objects.filter(pk__in=taken).update(lease_until=None)
    # Requests an ordered batch did not run go out again at once, batched again; their links
    # are free now that the leases are given back. (Usually none: no queries then.)
    if not_sent:
        _queue_many(_due(CalendarLink.objects.filter(pk__in=not_sent)), enqueue)
    _queue_behind(taken, enqueue)


@dataclass(frozen=True)
class _Planned:
    link: CalendarLink
    version: int
    target: Target
    plan: Plan


def _push_many(
    link_ids: list[int], enqueue: Enqueue, resolve: TargetResolver, ordered: bool
) -> list[int]:
    """Push the links' events; returns the links whose request an ordered batch did not run."""
    links = CalendarLink.objects.select_related("event__created_by").filter(pk__in=link_ids)
    outlook = OutlookSettings.load()
    due = [link for link in links if _wants_push(link, outlook)]
    people = _people([link.event for link in due])
    targets = _TargetMemo(resolve, outlook)
    synced: list[tuple[CalendarLink, dict[str, Any]]] = []
    by_mailbox: dict[tuple[str, bool], list[_Planned]] = defaultdict(list)
    for link in due:
        version = link.desired_version
        try:
            target = targets.of(link)
            snapshot = event_snapshot(
                link.event,
                target.mailbox,
                platform=target.is_platform,
                enrollments=people.get(link.event_id, []),
            )
            plan = _plan(link, link.event, target.mailbox, snapshot)
        except MicrosoftError as exc:
            _settle_failure(link, exc, link.owner_mailbox, enqueue)
            continue
        if plan is None:
            synced.append((link, _synced(version)))
        else:
            by_mailbox[(target.mailbox, target.is_platform)].append(
                _Planned(link, version, target, plan)
            )
    not_sent: list[int] = []
    for planned in by_mailbox.values():
        for start in range(0, len(planned), MAX_BATCH):
            outcome = _send_batch(planned[start : start + MAX_BATCH], enqueue, ordered)
            synced += outcome.synced
            not_sent += outcome.not_sent
    _save_synced(synced)
    return not_sent


@dataclass
class _BatchOutcome:
    synced: list[tuple[CalendarLink, dict[str, Any]]]  # each link now in sync, what to save
    not_sent: list[int]  # links whose request the batch did not run (``NotSent``)


def _send_batch(batch: list[_Planned], enqueue: Enqueue, ordered: bool) -> _BatchOutcome:
    """Send one mailbox's requests as one JSON batch; settle each one's outcome as if it had
    gone alone, except those the batch did not run."""
    target = batch[0].target
    outcomes: list[dict[str, Any] | MicrosoftError]
    try:
        outcomes = target.client.batch([item.plan.call for item in batch], ordered=ordered)
    except MicrosoftError as exc:
        outcomes = [exc] * len(batch)  # the batch itself failed: so did each request in it
    entries: list[SyncLogEntry] = []
    synced = []
    for item, outcome in zip(batch, outcomes, strict=True):
        failed = outcome if isinstance(outcome, MicrosoftError) else None
        entries.append(
            log_entry(
                LogKind.GRAPH,
                item.plan.action,
                status=str(failed.status or type(failed).__name__) if failed else "ok",
                message=str(failed) if failed else "",
                event_id=item.link.event_id,
                mailbox=target.mailbox,
                batched=True,
                **item.plan.details,
            )
        )
        if not isinstance(outcome, MicrosoftError):
            synced.append((item.link, {**item.plan.saved(outcome), **_synced(item.version)}))
    SyncLogEntry.objects.bulk_create(entries)
    not_sent = []
    for item, outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, NotSent):
            not_sent.append(item.link.pk)  # not a failure of its own: no attempt, no backoff
        elif isinstance(outcome, MicrosoftError):
            _settle_failure(item.link, outcome, target.mailbox, enqueue)
    return _BatchOutcome(synced, not_sent)


def _save_synced(synced: list[tuple[CalendarLink, dict[str, Any]]]) -> None:
    """Write what Outlook now holds for each link, all in one transaction (one commit).
    (One plain UPDATE per link: Django's ``bulk_update`` builds a CASE per field and row,
    which cost more CPU than the batch's HTTP.)"""
    with transaction.atomic():
        for link, saved in synced:
            CalendarLink.objects.filter(pk=link.pk).update(**saved)


class _TargetMemo:
    """Resolves each link's target, once per mailbox owner rather than once per link."""

    def __init__(self, resolve: TargetResolver, outlook: OutlookSettings) -> None:
        self.resolve = resolve
        self.outlook = outlook
        self._known: dict[tuple[Any, ...], Target | MicrosoftError] = {}

    def of(self, link: CalendarLink) -> Target:
        if not link.graph_id and link.mode != self.outlook.mode:
            return self.resolve(link, link.event, self.outlook)  # moves to the current mode
        key = (link.mode, link.owner_mailbox.lower(), bool(link.graph_id), link.event.created_by_id)
        known = self._known.get(key)
        if known is None:
            try:
                known = self.resolve(link, link.event, self.outlook)
            except MicrosoftError as exc:
                known = exc
            self._known[key] = known
        if isinstance(known, MicrosoftError):
            raise known
        return known


_ENROLLMENT_ROW = ("event_id", "user_id", "user__email", "user__display_name", "role")
EnrollmentRow = tuple[int, int, str, str, str]
"""An enrollment as a snapshot needs it: (event id, user id, email, name, role). Read as plain
rows: making model instances of 30 enrollments cost more than the query."""


def _people(events: list[Event]) -> dict[int, list[EnrollmentRow]]:
    """Every enrollment of the events, with its person, in one query."""
    found: dict[int, list[EnrollmentRow]] = defaultdict(list)
    for row in Enrollment.objects.filter(event__in=events).values_list(*_ENROLLMENT_ROW):
        found[row[0]].append(row)
    return found


def event_snapshot(
    event: Event,
    owner_email: str,
    platform: bool,
    enrollments: Iterable[EnrollmentRow] | None = None,
) -> mapping.EventSnapshot:
    """What Convene wants ``event``'s copy in ``owner_email``'s calendar to be
    (``enrollments``: the event's, when already read)."""
    if enrollments is None:
        enrollments = Enrollment.objects.filter(event=event).values_list(*_ENROLLMENT_ROW)
    people = tuple(
        # A person's name is their display name, or their address without one (User.name).
        mapping.Person(email=email, name=name or email, role=role)
        for _, user_id, email, name, role in enrollments
        # In their own calendar the creator is the organizer, whatever their Convene address.
        if platform or user_id != event.created_by_id
    )
    description = event.description
    if event.is_online and event.online_url:
        description = f"{description}\n\nJoin online: {event.online_url}".strip()
    return mapping.EventSnapshot(
        event_id=event.pk,
        title=event.title,
        description=description,
        start=event.start,
        end=event.end,
        timezone=event.timezone,
        location=event.location,
        is_online=event.is_online,
        is_cancelled=event.is_cancelled,
        url=AppRegistration.from_settings().absolute(event.get_absolute_url()),
        organizer_name=event.created_by.name,
        owner_email=owner_email,
        people=people,
        show_organizer_in_body=platform,
    )


def resolve_target(link: CalendarLink, event: Event, outlook: OutlookSettings) -> Target:
    """Where the event's Outlook copy lives, and how to reach it.

    A copy stays where it was made (its link remembers mode and mailbox) until a mode switch
    moves it; an event with no copy yet goes where the settings say now.

    - Organizer calendars: the creator's mailbox, through their sign-in (never once their
      account is deactivated: ``OrganizerLeft``).
    - Platform calendar: the service mailbox, with Convene's app-only access.
    """
    registration = AppRegistration.from_settings()
    if not link.graph_id and link.mode != outlook.mode:
        CalendarLink.objects.filter(pk=link.pk, graph_id="").update(mode=outlook.mode)
        link.mode = outlook.mode
    if link.mode == Mode.PLATFORM:
        return _platform_target(link, outlook, registration)
    if not event.created_by.is_active:
        # Never act as someone who has left, even while their authorization still works.
        raise OrganizerLeft(
            f"{event.created_by.name}'s account is deactivated; an admin must hand this "
            "event over to a new organizer."
        )
    connection = usable_connection(event.created_by_id)
    if connection is None:
        lost = OutlookConnection.objects.filter(user_id=event.created_by_id).first()
        raise AuthorizationLost(
            lost.last_error if lost else f"{event.created_by.name} has not connected Outlook yet."
        )
    if link.owner_mailbox and link.owner_mailbox != connection.mailbox:
        raise AuthorizationLost(
            f"This event is in {link.owner_mailbox}'s calendar, but "
            f"{event.created_by.name} is now connected as {connection.mailbox}."
        )
    client = GraphClient(
        base_url=registration.graph_url,
        token=DelegatedTokens(registration, connection.pk, connection.home_account_id),
        http=_shared_http(registration),
        mailbox=None,
        gate=partial(limits.mailbox_slot, connection.mailbox),
        batch_gate=partial(limits.mailbox_slot, connection.mailbox, slots=limits.CONCURRENCY),
    )
    return Target(mailbox=connection.mailbox, client=client, is_platform=False)


def _platform_target(
    link: CalendarLink, outlook: OutlookSettings, registration: AppRegistration
) -> Target:
    mailbox = (link.owner_mailbox if link.graph_id else "") or outlook.service_mailbox
    if not mailbox:
        raise Rejected("No service mailbox is set for the platform calendar.")
    mailbox = mailbox.lower()
    client = platform.client(
        registration, mailbox, platform.tenant_for(mailbox, outlook), _shared_http(registration)
    )
    return Target(mailbox=mailbox, client=client, is_platform=True)


# --- states -------------------------------------------------------------------------------


def _park(link: CalendarLink, reason: str) -> None:
    _mark(link, LinkState.WAITING_AUTHORIZATION, reason, decision="wait_for_authorization")


def _fail(link: CalendarLink, exc: MicrosoftError, *, permanent: bool) -> float:
    """Record the failure; returns the seconds until the next automatic attempt."""
    attempts = link.attempts + 1
    delay = 0.0
    next_attempt: datetime | None
    if permanent:
        # Only a new change to the event, or someone pressing "Retry", tries again.
        next_attempt = None
        state = LinkState.FAILING
    else:
        delay = _backoff(attempts, getattr(exc, "retry_after", None))
        next_attempt = timezone.now() + timedelta(seconds=delay)
        # A hiccup is still "pending"; only repeated failures are worth a red badge.
        state = LinkState.FAILING if attempts >= 3 else LinkState.PENDING
    CalendarLink.objects.filter(pk=link.pk).update(
        state=state, attempts=attempts, next_attempt_at=next_attempt, last_error=str(exc)[:2000]
    )
    _decide(
        link,
        "give_up" if permanent else "retry_later",
        str(exc),
        next_attempt=next_attempt.isoformat() if next_attempt else None,
    )
    return delay


def _mark(link: CalendarLink, state: str, reason: str, *, decision: str) -> None:
    CalendarLink.objects.filter(pk=link.pk).update(state=state, last_error=reason[:2000])
    _decide(link, decision, reason)


def _decide(link: CalendarLink, decision: str, message: str, **details: Any) -> None:
    record(
        LogKind.DECISION,
        decision,
        message=message,
        event_id=link.event_id,
        mailbox=link.owner_mailbox,
        **details,
    )


def _backoff(attempts: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    # Exponential with full jitter, so many failing events do not retry in lockstep.
    ceiling: float = min(MAX_BACKOFF_SECONDS, 2.0**attempts)
    return random.uniform(ceiling / 2, ceiling)


def _take_lease(link_id: int) -> bool:
    now = timezone.now()
    return bool(
        CalendarLink.objects.filter(pk=link_id)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + _lease())
    )


_http_clients: dict[tuple[str | None, float], httpx.Client] = {}


def _shared_http(registration: AppRegistration) -> httpx.Client:
    """One connection pool per process (per CA and timeout), reused by every sync."""
    timeout = float(settings.OUTLOOK_HTTP_TIMEOUT_SECONDS)
    key = (registration.ca_bundle, timeout)
    client = _http_clients.get(key)
    if client is None:
        verify = ssl.create_default_context(cafile=registration.ca_bundle)
        client = httpx.Client(
            verify=verify,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            trust_env=False,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
        )
        _http_clients[key] = client
    return client
