"""The periodic delta read: what notifications missed, found by asking.

Each owner mailbox's calendar view over the upcoming year is read with ``calendarView/delta``:
the first round lists every event in the window, later rounds only what changed since. Every
Convene event among them that Outlook changed (its changeKey is not the one Convene's last
write got back) or removed is reconciled exactly as a notification would have it.

The occurrences it lists of a Convene series carry their ids: each link keeps them
(``sessions.remember_occurrences``), so a later change of one session is a single request.
The overflow copies of a big event (``outbound.copies``) are read like the own copy: a copy
Outlook changed is reconciled as one, and a copy's occurrences are that copy's to keep.

The cursor (the next or delta link) is saved after each page, so a crash resumes where it
stopped. A token Microsoft no longer accepts (410) starts a fresh full read, and so does a
window that has slid too far (its start is fixed when a round begins).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from convene.outlook.inbound import reconcile, sessions
from convene.outlook.inbound.subscriptions import needed_mailboxes
from convene.outlook.mailboxes.connections import mark_mailbox_gone
from convene.outlook.microsoft.errors import MailboxGone, SyncStateExpired
from convene.outlook.microsoft.recurrence import shown_date
from convene.outlook.models import (
    CalendarLink,
    DeltaCursor,
    LinkState,
    LogKind,
    OutlookConnection,
    OutlookSettings,
    OverflowCopy,
    record,
)
from convene.outlook.outbound import queueing, targets

WINDOW = timedelta(days=365)
# Start over with a fresh window before the delta token (about a week) would expire anyway.
FRESH_WINDOW_AFTER = timedelta(days=6)


def mailboxes(now: datetime | None = None) -> list[str]:
    """The mailboxes to read: the same ones that need a subscription."""
    return sorted(needed_mailboxes(OutlookSettings.load(), now or timezone.now()))


def read(
    mailbox: str,
    enqueue: queueing.Enqueue,
    retry_later: reconcile.RetryLater,
    *,
    now: datetime | None = None,
) -> int:
    """One delta round of ``mailbox``; returns how many Convene events were reconciled."""
    now = now or timezone.now()
    outlook = OutlookSettings.load()
    if not outlook.enabled:
        return 0
    target = reconcile.mailbox_target(mailbox, outlook)
    if target is None:
        return 0
    cursor, _ = DeltaCursor.objects.get_or_create(mailbox=target.mailbox)
    fresh = (
        not cursor.link
        or cursor.window_start is None
        or (now - cursor.window_start > FRESH_WINDOW_AFTER)
    )
    try:
        return _round(target, cursor, enqueue, retry_later, fresh=fresh, now=now)
    except MailboxGone as exc:
        # The organizer's mailbox itself is gone: marked once on their connection, as when a
        # push finds it so (the platform's client reports a gone service mailbox otherwise).
        owner = (
            OutlookConnection.objects.filter(account_username__iexact=target.mailbox)
            .values_list("user_id", flat=True)
            .first()
        )
        if owner is not None:
            mark_mailbox_gone(owner, str(exc))
        return 0
    except SyncStateExpired as exc:
        record(
            LogKind.NOTIFICATION,
            "delta_restarted",
            status=str(exc.code or exc.status),
            message="Microsoft no longer accepts the delta token; reading the calendar afresh.",
            mailbox=target.mailbox,
        )
        return _round(target, cursor, enqueue, retry_later, fresh=True, now=now)


def _round(
    target: targets.Target,
    cursor: DeltaCursor,
    enqueue: queueing.Enqueue,
    retry_later: reconcile.RetryLater,
    *,
    fresh: bool,
    now: datetime,
) -> int:
    if fresh:
        cursor.link = ""
        cursor.window_start, cursor.window_end = now, now + WINDOW
    assert cursor.window_start is not None and cursor.window_end is not None
    # When this round's view of the calendar was asked for. A round resumed halfway (a
    # nextLink saved before a crash) may list what Outlook had before then: its occurrence
    # ids are not learned.
    asked_at = None if "skiptoken" in cursor.link.lower() else timezone.now()
    pages = target.client.calendar_view_delta(
        cursor.link or None, _graph_time(cursor.window_start), _graph_time(cursor.window_end)
    )
    reconciled = 0
    for page in pages:
        items = page.get("value") or []
        if asked_at is not None:
            _remember_occurrences(target.mailbox, items, asked_at, enqueue)
        reconciled += _apply(target.mailbox, items, enqueue, retry_later)
        # Only once the page's changes are applied: a crash re-reads it rather than skip it.
        cursor.link = str(page.get("@odata.nextLink") or page.get("@odata.deltaLink") or "")
        cursor.last_run_at = timezone.now()
        cursor.last_error = ""
        cursor.save()
    return reconciled


def _apply(
    mailbox: str,
    items: list[dict[str, Any]],
    enqueue: queueing.Enqueue,
    retry_later: reconcile.RetryLater,
) -> int:
    ids = [str(item.get("id")) for item in items if item.get("id")]
    # calendarView shows a series as its occurrences and exceptions, never its master
    masters = {str(item["seriesMasterId"]) for item in items if item.get("seriesMasterId")}
    known = _versions(mailbox, [*ids, *masters])
    count = 0
    seen_masters: set[str] = set()
    for graph_id, item in _latest(items):
        master_id = str(item.get("seriesMasterId") or "")
        if master_id:
            count += _apply_occurrence(
                mailbox, graph_id, item, known, seen_masters, enqueue, retry_later
            )
            continue
        if graph_id not in known and "@removed" in item:
            # a removed occurrence names no master: one of a Convene series is found by the
            # occurrence ids its copies remember (no read)
            if not sessions.removed_occurrence(mailbox, graph_id, enqueue):
                retry_later(mailbox, graph_id)
            continue
        if graph_id not in known:
            continue  # not Convene's (someone's own appointment, an invitation they received)
        if "@removed" not in item and item.get("changeKey") == known[graph_id]:
            continue  # exactly what Convene last wrote
        # A removal may also mean "left the window": reconcile reads the event to be sure.
        # An overflow copy is reconciled as one (``copies.reconcile_copy``).
        if not reconcile.reconcile(mailbox, graph_id, enqueue):
            retry_later(mailbox, graph_id)
        count += 1
    return count


def _versions(mailbox: str, graph_ids: list[str]) -> dict[str, str]:
    """Which of these Outlook ids are Convene's events in ``mailbox`` (own copies and
    overflow copies), with the version (changeKey) Convene last wrote or read of each."""
    found = dict(
        CalendarLink.objects.filter(owner_mailbox=mailbox, graph_id__in=graph_ids)
        .exclude(state=LinkState.DELETED_IN_OUTLOOK)
        .values_list("graph_id", "change_key")
    )
    for graph_id, change_key in OverflowCopy.objects.filter(
        mailbox__iexact=mailbox, graph_id__in=graph_ids, deleted_in_outlook_at__isnull=True
    ).values_list("graph_id", "change_key"):
        found.setdefault(graph_id, change_key)
    return found


def _remember_occurrences(
    mailbox: str, items: list[dict[str, Any]], asked_at: datetime, enqueue: queueing.Enqueue
) -> None:
    """Keep the ids of the occurrences listed of Convene's series on their copies, the own
    copy's or an overflow copy's (before the page's removals are handled: an id known is a
    deletion found without a read)."""
    by_master: dict[str, list[dict[str, Any]]] = {}
    for _, item in _latest(items):
        if item.get("seriesMasterId") and "@removed" not in item and not item.get("isCancelled"):
            by_master.setdefault(str(item["seriesMasterId"]), []).append(item)
    if not by_master:
        return
    for master_id, event in sessions.series_masters(mailbox, list(by_master)).items():
        dated = {}
        for item in by_master[master_id]:
            on = shown_date(item, event.timezone)
            if on is not None:
                dated[on.isoformat()] = str(item["id"])
        sessions.remember_occurrences(mailbox, master_id, dated, asked_at, enqueue)


def _apply_occurrence(
    mailbox: str,
    graph_id: str,
    item: dict[str, Any],
    known: dict[str, str],
    seen_masters: set[str],
    enqueue: queueing.Enqueue,
    retry_later: reconcile.RetryLater,
) -> int:
    """An occurrence or exception of a series (the own copy's or an overflow copy's): an
    exception is read on its own (answers to that session, drift); an occurrence stands for a
    change of its master, read once."""
    master_id = str(item["seriesMasterId"])
    if master_id not in known:
        return 0
    if item.get("type") == "exception":
        if not sessions.reconcile_occurrence(mailbox, graph_id, enqueue):
            retry_later(mailbox, graph_id)
        return 1
    if master_id in seen_masters:
        return 0
    seen_masters.add(master_id)
    if not reconcile.reconcile(mailbox, master_id, enqueue):
        retry_later(mailbox, master_id)
    return 1


def _latest(items: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each event once, as its last mention on the page has it."""
    latest: dict[str, dict[str, Any]] = {}
    for item in items:
        if item.get("id"):
            latest[str(item["id"])] = item
    yield from latest.items()


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
