"""The dashboard's audit log: newest first, filtered, paged by keyset, never a full scan.

With a million rows, OFFSET paging re-reads every row before the page, and filtering by kind or
searching text scanned the whole table. Here every query walks one of the log's indexes
(``SyncLogEntry.Meta.indexes``) in order and stops after a page:

- pages continue from the last row shown (``before=<created_at>_<id>``), not from an offset;
- kind, event and mailbox filters each have an index that starts with them;
- the text search reads only the last ``SEARCH_DAYS`` days (a range of the time index), and a
  search for a mailbox address is an exact, indexed match on the mailbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from convene.outlook.models import LogKind, SyncLogEntry

PAGE_SIZE = 50
SEARCH_DAYS = 7


@dataclass(frozen=True)
class LogFilters:
    kind: str = ""
    event: str = ""
    q: str = ""

    @property
    def any(self) -> bool:
        return bool(self.kind or self.event or self.q)

    @property
    def searches_mailbox(self) -> bool:
        return "@" in self.q and " " not in self.q


@dataclass(frozen=True)
class LogPage:
    entries: list[SyncLogEntry]
    # The cursor of the next (older) page, or "" on the last page.
    older: str
    is_first: bool


def entries(filters: LogFilters, *, now: datetime | None = None) -> QuerySet[SyncLogEntry]:
    log = SyncLogEntry.objects.all()
    if filters.kind in LogKind.values:
        log = log.filter(kind=filters.kind)
    if filters.event.isdigit():
        log = log.filter(event_id=int(filters.event))
    if filters.searches_mailbox:
        log = log.filter(mailbox=filters.q.lower())
    elif filters.q:
        since = (now or timezone.now()) - timedelta(days=SEARCH_DAYS)
        log = log.filter(created_at__gte=since).filter(
            Q(message__icontains=filters.q)
            | Q(action__icontains=filters.q)
            | Q(mailbox__icontains=filters.q)
        )
    return log.order_by("-created_at", "-id")


def page(filters: LogFilters, before: str = "", *, now: datetime | None = None) -> LogPage:
    log = entries(filters, now=now)
    cursor = parse_cursor(before)
    if cursor is not None:
        when, pk = cursor
        # created_at <= when walks the index; the same-instant rows already shown are skipped.
        log = log.filter(created_at__lte=when).exclude(created_at=when, id__gte=pk)
    rows = list(log.select_related("event", "user")[: PAGE_SIZE + 1])
    shown = rows[:PAGE_SIZE]
    older = make_cursor(shown[-1]) if len(rows) > PAGE_SIZE else ""
    return LogPage(shown, older, cursor is None)


def make_cursor(entry: SyncLogEntry) -> str:
    return f"{entry.created_at.isoformat()}_{entry.pk}"


def parse_cursor(value: str) -> tuple[datetime, int] | None:
    """The cursor, or None when absent or not one (then the first page is shown)."""
    when_text, _, pk_text = value.rpartition("_")
    when = parse_datetime(when_text) if when_text else None
    if when is None or not pk_text.isdigit() or timezone.is_naive(when):
        return None
    return when, int(pk_text)
