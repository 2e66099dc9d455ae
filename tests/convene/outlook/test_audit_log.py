"""The dashboard's audit log on a large log: keyset pages, indexed filters, a search that reads
only recent rows, and query plans without a full scan or a sort of the whole log (SQLite here;
PostgreSQL under ``make test-postgres``)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test import Client
from django.utils import timezone

from convene.events.models import Event
from convene.outlook.models import LogKind, SyncLogEntry, log_entry
from convene.outlook.operations import retention, self_repair
from convene.outlook.web import audit_log

pytestmark = pytest.mark.django_db

LARGE = 20_000
SMALL_SORT = 500
TABLE = SyncLogEntry._meta.db_table


def fill(count: int, events: list[Event], *, span_days: int = 365) -> None:
    dice = random.Random(20261204)
    now = timezone.now()
    kinds = LogKind.values
    actions = ["create", "update", "cancel", "delta_restarted", "daily_reconcile", "read"]
    batch = []
    for number in range(count):
        batch.append(
            log_entry(
                dice.choice(kinds),
                dice.choice(actions),
                status=dice.choice(["ok", "ok", "ok", "429", "500"]),
                message=f"Entry {number}: {dice.choice(['quota', 'timeout', 'fine', 'drift'])}",
                event_id=dice.choice(events).pk if number % 3 == 0 else None,
                mailbox=f"person{number % 200}@contoso.test",
                when=now - timedelta(seconds=dice.uniform(0, span_days * 86400)),
            )
        )
        if len(batch) == 5000:
            SyncLogEntry.objects.bulk_create(batch)
            batch = []
    SyncLogEntry.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def assert_no_full_scan(queryset: QuerySet[Any]) -> None:
    text = queryset.explain()
    if connection.vendor == "postgresql":
        assert f"Seq Scan on {TABLE}" not in text, text
        # A sort of the few rows an index found is fine; a sort of the log is not.
        sorted_rows = [int(n) for n in re.findall(r"Sort  \(cost=\S+ rows=(\d+)", text)]
        assert all(n <= SMALL_SORT for n in sorted_rows), text
    else:
        lines = [line for line in text.splitlines() if TABLE in line]
        assert lines and all("USING" in line for line in lines), text
        assert "TEMP B-TREE" not in text, text


@pytest.fixture
def large_log(make_event: Callable[..., Event]) -> list[Event]:
    events = [make_event() for _ in range(5)]
    fill(LARGE, events)
    return events


def test_no_dashboard_query_scans_the_whole_log(large_log: list[Event]) -> None:
    deep = SyncLogEntry.objects.order_by("-created_at", "-id")[LARGE - 100]
    cursor = audit_log.make_cursor(deep)
    shapes = [
        audit_log.LogFilters(),
        audit_log.LogFilters(kind=LogKind.GRAPH),
        audit_log.LogFilters(event=str(large_log[0].pk)),
        audit_log.LogFilters(q="person7@contoso.test"),
        audit_log.LogFilters(q="timeout"),
        audit_log.LogFilters(kind=LogKind.DECISION, q="drift"),
    ]
    for filters in shapes:
        for before in ("", cursor):
            log = audit_log.entries(filters)
            parsed = audit_log.parse_cursor(before)
            if parsed:
                log = log.filter(created_at__lte=parsed[0]).exclude(
                    created_at=parsed[0], id__gte=parsed[1]
                )
            assert_no_full_scan(log.select_related("event", "user")[: audit_log.PAGE_SIZE + 1])


def test_self_repair_and_retention_queries_walk_an_index(large_log: list[Event]) -> None:
    since = timezone.now() - timedelta(days=1)
    for action, _ in self_repair.KINDS:
        rows = SyncLogEntry.objects.filter(action=action)
        assert_no_full_scan(rows.order_by("-created_at", "-id")[:1])
        assert_no_full_scan(rows.filter(created_at__gte=since).values("pk"))
    oldest = (
        SyncLogEntry.objects.filter(created_at__lt=timezone.now() - timedelta(days=90))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:5000]
    )
    assert_no_full_scan(oldest)


def test_keyset_pages_show_every_entry_once_newest_first() -> None:
    now = timezone.now()
    # Many entries share an instant: the id breaks the tie.
    SyncLogEntry.objects.bulk_create(
        log_entry(LogKind.GRAPH, "update", when=now - timedelta(seconds=n % 3)) for n in range(130)
    )
    seen: list[int] = []
    before = ""
    while True:
        page = audit_log.page(audit_log.LogFilters(), before)
        seen += [entry.pk for entry in page.entries]
        if not page.older:
            break
        before = page.older

    expected = SyncLogEntry.objects.order_by("-created_at", "-id").values_list("pk", flat=True)
    assert seen == list(expected)


def test_the_dashboard_follows_the_older_link(client: Client, admin_user: Any) -> None:
    SyncLogEntry.objects.bulk_create(
        log_entry(LogKind.GRAPH, "update", message=f"number {n}") for n in range(60)
    )
    client.force_login(admin_user)

    first = client.get("/outlook/admin/sync/")
    older = first.context["page"].older
    second = client.get("/outlook/admin/sync/", {"before": older})

    assert len(first.context["page"].entries) == 50
    assert len(second.context["page"].entries) == 10
    assert "Newest" in second.content.decode()


def test_a_cursor_that_is_not_one_shows_the_first_page(client: Client, admin_user: Any) -> None:
    SyncLogEntry.objects.bulk_create(log_entry(LogKind.GRAPH, "update") for _ in range(3))
    client.force_login(admin_user)

    response = client.get("/outlook/admin/sync/", {"before": "yesterday_'; drop"})

    assert response.status_code == 200
    assert len(response.context["page"].entries) == 3


def test_a_text_search_reads_the_last_seven_days_only() -> None:
    now = timezone.now()
    record_at = {"recent": now - timedelta(days=1), "old": now - timedelta(days=30)}
    SyncLogEntry.objects.bulk_create(
        log_entry(LogKind.GRAPH, "update", message=f"quota {age}", when=when)
        for age, when in record_at.items()
    )

    page = audit_log.page(audit_log.LogFilters(q="quota"))

    assert [entry.message for entry in page.entries] == ["quota recent"]


def test_a_mailbox_search_finds_old_entries_too() -> None:
    SyncLogEntry.objects.bulk_create(
        [
            log_entry(
                LogKind.GRAPH,
                "update",
                mailbox="ada@contoso.test",
                when=timezone.now() - timedelta(days=60),
            ),
            log_entry(LogKind.GRAPH, "update", mailbox="grace@contoso.test"),
        ]
    )

    page = audit_log.page(audit_log.LogFilters(q="Ada@Contoso.test"))

    assert [entry.mailbox for entry in page.entries] == ["ada@contoso.test"]


def test_retention_prunes_the_log_in_batches(settings: Any) -> None:
    settings.CONVENE_RETENTION_DAYS = 90
    now = timezone.now()
    SyncLogEntry.objects.bulk_create(
        log_entry(LogKind.GRAPH, "update", when=now - timedelta(days=91 + n % 5)) for n in range(23)
    )
    SyncLogEntry.objects.bulk_create(
        log_entry(LogKind.GRAPH, "update", when=now - timedelta(days=89)) for _ in range(4)
    )

    deleted = retention.prune_audit_log(now - timedelta(days=90), 10)

    assert deleted == 10
    assert SyncLogEntry.objects.count() == 17
