"""The Outlook integration's figures on /metrics (see docs/operations.md for each one).

Read from the database at scrape time with indexed queries: counts over small tables, and
windows of the audit log through its ``(kind|action, created_at)`` indexes. The webhook's
answer times are measured in the web process that answered (``observed``); with several
processes on one machine set ``PROMETHEUS_MULTIPROC_DIR`` so every process's share is summed.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import wraps
from typing import Any

from django.db.models import Count, F, Min, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, Histogram, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from convene.outlook.models import (
    CalendarLink,
    ConnectionStatus,
    LinkState,
    LogKind,
    MailboxPause,
    OutlookConnection,
    Subscription,
    SyncLogEntry,
)

RECENT = timedelta(minutes=5)
SELF_REPAIR_WINDOW = timedelta(hours=24)
SELF_REPAIR_ACTIONS = (
    "delta_restarted",
    "daily_reconcile",
    "authorization_refreshed",
    "caught_by_delta",
)
# Links Convene is expected to bring to Outlook by itself (the others wait for a person).
WORKING_STATES = (LinkState.PENDING, LinkState.FAILING)

# This process's own measurements (web processes answer the webhook).
_process_registry = CollectorRegistry(auto_describe=True)
WEBHOOK_SECONDS = Histogram(
    "convene_outlook_webhook_seconds",
    "Time to answer Microsoft's change and lifecycle notifications.",
    ["path", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5),
    registry=_process_registry,
)


def observed(path: str) -> Callable[[Callable[[HttpRequest], HttpResponse]], Any]:
    """Decorate a webhook view: its answer time goes to ``convene_outlook_webhook_seconds``."""

    def decorate(view: Callable[[HttpRequest], HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def timed(request: HttpRequest) -> HttpResponse:
            started = time.perf_counter()
            response = view(request)
            WEBHOOK_SECONDS.labels(path, str(response.status_code)).observe(
                time.perf_counter() - started
            )
            return response

        return timed

    return decorate


def collect() -> Iterator[Metric]:
    yield from _links()
    yield from _graph_requests()
    yield from _throttling()
    yield from _subscriptions()
    yield from _connections()
    yield from _self_repair()
    yield from _process_metrics()


def _links() -> Iterator[Metric]:
    now = timezone.now()
    behind = CalendarLink.objects.filter(synced_version__lt=F("desired_version"))
    oldest = behind.filter(state__in=WORKING_STATES).aggregate(oldest=Min("behind_since"))["oldest"]
    yield GaugeMetricFamily(
        "convene_outlook_sync_lag_seconds",
        "Age of the oldest change Convene still has to bring to Outlook (0: none waiting).",
        value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
    )
    states = GaugeMetricFamily(
        "convene_outlook_links", "Events with an Outlook copy, by sync state.", labels=["state"]
    )
    counts = dict(CalendarLink.objects.values_list("state").annotate(n=Count("pk")).order_by())
    for state in LinkState.values:
        states.add_metric([state], counts.get(state, 0))
    yield states
    yield GaugeMetricFamily(
        "convene_outlook_links_behind",
        "Events whose latest change is not yet in Outlook.",
        value=behind.count(),
    )


def _graph_requests() -> Iterator[Metric]:
    """Syncs and failures by kind: the audit log's Graph calls of the last 5 minutes."""
    recent = SyncLogEntry.objects.filter(
        kind=LogKind.GRAPH, created_at__gte=timezone.now() - RECENT
    )
    family = GaugeMetricFamily(
        "convene_outlook_graph_requests_5m",
        "Graph requests Convene made in the last 5 minutes, by action and outcome.",
        labels=["action", "outcome"],
    )
    tally: Counter[tuple[str, str]] = Counter()
    for action, status, n in recent.values_list("action", "status").annotate(n=Count("pk")):
        tally[(action, _outcome(status))] += n
    for (action, outcome), n in sorted(tally.items()):
        family.add_metric([action, outcome], n)
    yield family


def _outcome(status: str) -> str:
    if status == "ok":
        return "ok"
    if status == "429":
        return "throttled"
    if status in ("AuthorizationLost", "401"):
        return "authorization"
    return "failed"


def _throttling() -> Iterator[Metric]:
    totals = MailboxPause.objects.aggregate(
        answers=Sum("throttled_answers"), seconds=Sum("throttled_seconds")
    )
    yield CounterMetricFamily(
        "convene_outlook_throttled_answers",
        "429 answers from Microsoft (every mailbox).",
        value=totals["answers"] or 0,
    )
    yield CounterMetricFamily(
        "convene_outlook_throttled_wait_seconds",
        "Seconds Microsoft asked Convene to wait (Retry-After), summed.",
        value=totals["seconds"] or 0.0,
    )
    yield GaugeMetricFamily(
        "convene_outlook_mailboxes_paused",
        "Mailboxes Convene is waiting on because Microsoft throttled them.",
        value=MailboxPause.objects.filter(until__gt=timezone.now()).count(),
    )


def _subscriptions() -> Iterator[Metric]:
    now = timezone.now()
    family = GaugeMetricFamily(
        "convene_outlook_subscriptions",
        "Change-notification subscriptions, by state (failing: the last renewal failed).",
        labels=["state"],
    )
    active = Subscription.objects.filter(state=Subscription.State.ACTIVE)
    family.add_metric(["active"], active.filter(last_error="").count())
    family.add_metric(["failing"], active.exclude(last_error="").count())
    family.add_metric(
        ["removed"], Subscription.objects.filter(state=Subscription.State.REMOVED).count()
    )
    yield family
    soonest = active.aggregate(soonest=Min("expires_at"))["soonest"]
    yield GaugeMetricFamily(
        "convene_outlook_subscription_soonest_expiry_seconds",
        "Seconds until the soonest active subscription expires (absent: none active).",
        value=(soonest - now).total_seconds() if soonest else float("nan"),
    )


def _connections() -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "convene_outlook_connections_needing_reconnect",
        "Organizers whose Outlook authorization Microsoft refused: they must connect again.",
        value=OutlookConnection.objects.filter(status=ConnectionStatus.NEEDS_AUTHORIZATION).count(),
    )


def _self_repair() -> Iterator[Metric]:
    """The self-repairs of the last day, and the changes notifications missed that the delta
    read caught, from the audit log's action index. (Notifications received: the count of
    ``convene_outlook_webhook_seconds{path="notifications",status="202"}``.)"""
    since = timezone.now() - SELF_REPAIR_WINDOW
    family = GaugeMetricFamily(
        "convene_outlook_self_repairs_24h",
        "Self-repairs in the last 24 hours, by kind.",
        labels=["action"],
    )
    caught = 0
    for action in SELF_REPAIR_ACTIONS:
        rows = SyncLogEntry.objects.filter(action=action, created_at__gte=since)
        family.add_metric([action], rows.count())
        if action == "caught_by_delta":
            caught = sum(int(d.get("events", 0)) for d in rows.values_list("details", flat=True))
    yield family
    yield GaugeMetricFamily(
        "convene_outlook_caught_by_delta_24h",
        "Events changed in Outlook that no notification announced, found by the delta read "
        "in the last 24 hours.",
        value=caught,
    )


def _process_metrics() -> Iterator[Metric]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        yield from registry.collect()
    else:
        yield from _process_registry.collect()
