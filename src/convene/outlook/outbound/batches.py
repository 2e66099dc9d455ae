"""Pushing many events of one mailbox at once, as JSON batches.

The same leases and the same requests as ``outbound.push``, sent as one ``$batch`` per mailbox
and up to 20 requests, with the database read and written once per batch. Each request keeps
its own outcome, handled exactly as if it had gone alone. (A Teams meeting's new body is read
first, alone, as ``outbound.push`` does, so the batch sends it with Outlook's join block kept.)

The batches take the two shapes Microsoft documents for one mailbox. A few batches' worth goes
out unordered, one batch at a time: Outlook runs 4 of its requests at once, so the batch holds
all 4 of the mailbox's request slots. A long queue (the platform calendar's backfill) goes out
as ordered batches (``dependsOn``), each holding one slot, 4 at a time: no slot then idles while
a batch waits for its slowest request, and one batch's round trip overlaps the others' work.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from convene.events import series
from convene.outlook import links
from convene.outlook.mailboxes import pool
from convene.outlook.microsoft.errors import MicrosoftError, NotSent
from convene.outlook.microsoft.graph import MAX_BATCH
from convene.outlook.models import (
    CalendarLink,
    LogKind,
    OutlookSettings,
    SyncLogEntry,
    log_entry,
)
from convene.outlook.outbound import copies, online_meetings, room_answers
from convene.outlook.outbound.outcomes import settle_failure
from convene.outlook.outbound.push import (
    Update,
    adopt_lost_create,
    push_link,
    sent_recipients,
    update_for,
    wants_push,
    with_outlook_body,
)
from convene.outlook.outbound.queueing import Enqueue, queue_behind, queue_many
from convene.outlook.outbound.snapshots import event_snapshot, people
from convene.outlook.outbound.targets import Target, TargetResolver, resolve_target

log = logging.getLogger(__name__)


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
    link_ids = list(
        CalendarLink.objects.filter(event_id__in=event_ids).values_list("pk", flat=True)
    )
    links.unqueue(link_ids)  # from here on a new change queues a new task
    # A link someone else is pushing (a single edit's task) is theirs: they queue what follows.
    # Each lease is its own conditional update (exactly the links this task got), all in one
    # transaction (one commit).
    with transaction.atomic():
        taken = [link_id for link_id in link_ids if links.take_lease(link_id)]
    if not taken:
        return
    try:
        with links.leases_kept(taken):
            not_sent = _push_many(taken, enqueue, resolve or resolve_target, ordered)
    finally:
        links.give_back_lease(taken)
    # Requests an ordered batch did not run go out again at once, batched again; their links
    # are free now that the leases are given back. (Usually none: no queries then.)
    if not_sent:
        queue_many(CalendarLink.objects.filter(pk__in=not_sent), enqueue)
    queue_behind(taken, enqueue)


@dataclass(frozen=True)
class _Planned:
    link: CalendarLink
    version: int
    target: Target
    update: Update
    teams_meeting: bool


def _push_many(
    link_ids: list[int], enqueue: Enqueue, resolve: TargetResolver, ordered: bool
) -> list[int]:
    """Push the links' events; returns the links whose request an ordered batch did not run."""
    # With what each push reads of the event (its series rule, its room), in one query.
    found = CalendarLink.objects.select_related(
        "event__created_by", "event__series_rule", "event__room_booking__room"
    ).filter(pk__in=link_ids)
    outlook = OutlookSettings.load()
    due = [link for link in found if wants_push(link, outlook)]
    enrollments = people([link.event for link in due])
    targets = _TargetMemo(resolve, outlook)
    synced: list[tuple[CalendarLink, dict[str, Any]]] = []
    by_mailbox: dict[tuple[str, bool], list[_Planned]] = defaultdict(list)
    meeting_missing: list[CalendarLink] = []
    # Events in several copies (``outbound.copies``) go alone, their copies batched there.
    split_up = copies.seated_events(link.event_id for link in due)
    for link in due:
        version = link.desired_version
        if (
            series.is_series(link.event)
            or link.event_id in split_up
            or len(enrollments.get(link.event_id, ())) >= copies.PER_COPY
        ):
            # A series' sessions are requests that follow its master's: pushed in order, alone.
            try:
                saved, missing = push_link(link, link.event, targets.of(link))
            except MicrosoftError as exc:
                settle_failure(link, exc, link.owner_mailbox, enqueue)
                continue
            synced.append((link, {**saved, **links.synced(version)}))
            if missing:
                meeting_missing.append(link)
            continue
        try:
            target = targets.of(link)
            snapshot = event_snapshot(
                link.event,
                target.mailbox,
                platform=target.is_platform,
                enrollments=enrollments.get(link.event_id, []),
                seated=False,
                hide_above=outlook.hide_attendees_above,
            )
            adopted = adopt_lost_create(link, target, snapshot)
            update = update_for(link, link.event, target.mailbox, snapshot)
            if update is not None and not update.needs_answers_read(link):
                # A Teams meeting's new body is written into Outlook's, read first (alone).
                update = with_outlook_body(update, link, target)
        except MicrosoftError as exc:
            settle_failure(link, exc, link.owner_mailbox, enqueue)
            continue
        if update is None:
            synced.append((link, {**adopted, **links.synced(version)}))
        elif update.needs_answers_read(link):
            # Read alone first (``outbound.push``): left behind, ``queue_behind`` queues it.
            continue
        else:
            by_mailbox[(target.mailbox, target.is_platform)].append(
                _Planned(link, version, target, update, snapshot.teams_meeting)
            )
    not_sent: list[int] = []
    for planned in by_mailbox.values():
        for start in range(0, len(planned), MAX_BATCH):
            outcome = _send_batch(planned[start : start + MAX_BATCH], enqueue, ordered)
            synced += outcome.synced
            not_sent += outcome.not_sent
            meeting_missing += outcome.meeting_missing
    links.save_synced(synced)
    for link in meeting_missing:
        online_meetings.ask_again(link, enqueue)
    return not_sent


@dataclass
class _BatchOutcome:
    synced: list[tuple[CalendarLink, dict[str, Any]]]  # each link now in sync, what to save
    not_sent: list[int]  # links whose request the batch did not run (``NotSent``)
    meeting_missing: list[CalendarLink]  # Outlook answered without the wanted Teams meeting


def _send_batch(batch: list[_Planned], enqueue: Enqueue, ordered: bool) -> _BatchOutcome:
    """Send one mailbox's requests as one JSON batch; settle each one's outcome as if it had
    gone alone, except those the batch did not run."""
    target = batch[0].target
    outcomes: list[dict[str, Any] | MicrosoftError]
    try:
        outcomes = target.client.batch([item.update.call for item in batch], ordered=ordered)
    except MicrosoftError as exc:
        outcomes = [exc] * len(batch)  # the batch itself failed: so did each request in it
    entries: list[SyncLogEntry] = []
    synced = []
    meeting_missing: list[CalendarLink] = []
    for item, outcome in zip(batch, outcomes, strict=True):
        failed = outcome if isinstance(outcome, MicrosoftError) else None
        entries.append(
            log_entry(
                LogKind.GRAPH,
                item.update.action,
                status=str(failed.status or type(failed).__name__) if failed else "ok",
                message=str(failed) if failed else "",
                event_id=item.link.event_id,
                mailbox=target.mailbox,
                batched=True,
                **item.update.details,
            )
        )
        if not isinstance(outcome, MicrosoftError):
            synced.append((item.link, {**item.update.saved(outcome), **links.synced(item.version)}))
            if item.update.action == "cancel":
                continue
            if online_meetings.read_answer(item.link, item.link.event, item.teams_meeting, outcome):
                meeting_missing.append(item.link)
            room_answers.read_answer(item.link.event, outcome, target.client)
    SyncLogEntry.objects.bulk_create(entries)
    pool.count_sent(
        {
            target.mailbox: sum(
                sent_recipients(item.link, item.update)
                for item, outcome in zip(batch, outcomes, strict=True)
                if not isinstance(outcome, MicrosoftError)
            )
        }
    )
    failures = sum(1 for outcome in outcomes if isinstance(outcome, MicrosoftError))
    log.log(
        logging.WARNING if failures else logging.INFO,
        "Outlook batch of %s events in %s: %s done, %s not done",
        len(batch),
        target.mailbox,
        len(synced),
        failures,
    )
    not_sent = []
    for item, outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, NotSent):
            not_sent.append(item.link.pk)  # not a failure of its own: no attempt, no backoff
        elif isinstance(outcome, MicrosoftError):
            settle_failure(item.link, outcome, target.mailbox, enqueue)
    return _BatchOutcome(synced, not_sent, meeting_missing)


class _TargetMemo:
    """Resolves each link's target, once per mailbox owner rather than once per link."""

    def __init__(self, resolve: TargetResolver, outlook: OutlookSettings) -> None:
        self.resolve = resolve
        self.outlook = outlook
        self._known: dict[tuple[Any, ...], Target | MicrosoftError] = {}
        self._spreads = pool.spreads(outlook)

    def of(self, link: CalendarLink) -> Target:
        if not link.graph_id and (link.mode != self.outlook.mode or self._spreads):
            # Moves to the current mode; or a new copy, whose pool mailbox is chosen for it.
            return self.resolve(link, link.event, self.outlook)
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
