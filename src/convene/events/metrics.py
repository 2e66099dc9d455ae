"""Series figures on /metrics (registered with ``convene.core.extensions.register_metrics``;
see docs/operations.md): how many series are running, and how many of their sessions differ
from the pattern, were cancelled, or will be missed by someone. Counted in the database at
scrape time (indexed counts over small tables; no session is expanded in Python)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from convene.events.models import EventStatus, MissedSession, SeriesRule, SessionChange


def collect() -> Iterator[Metric]:
    now = timezone.now()
    running = Q(event__status=EventStatus.SCHEDULED, last_end__gte=now)
    series = GaugeMetricFamily(
        "convene_series",
        "Events that repeat, by state: running (a session is still to come), over, cancelled.",
        labels=["state"],
    )
    totals = SeriesRule.objects.aggregate(
        running=Count("pk", filter=running),
        over=Count("pk", filter=Q(event__status=EventStatus.SCHEDULED, last_end__lt=now)),
        cancelled=Count("pk", filter=Q(event__status=EventStatus.CANCELLED)),
    )
    for state in ("running", "over", "cancelled"):
        series.add_metric([state], totals[state] or 0)
    yield series

    today = timezone.localdate(now)
    sessions = GaugeMetricFamily(
        "convene_series_sessions_differing",
        "Coming sessions of running series that differ from their pattern: changed (moved, "
        "elsewhere, another link) or cancelled.",
        labels=["kind"],
    )
    coming = SessionChange.objects.filter(
        event__status=EventStatus.SCHEDULED, event__series_rule__last_end__gte=now, on__gte=today
    ).aggregate(
        changed=Count("pk", filter=Q(is_cancelled=False)),
        cancelled=Count("pk", filter=Q(is_cancelled=True)),
    )
    for kind in ("changed", "cancelled"):
        sessions.add_metric([kind], coming[kind] or 0)
    yield sessions
    yield GaugeMetricFamily(
        "convene_series_sessions_missed",
        "People who said they will miss one coming session of a series they stay enrolled in.",
        value=MissedSession.objects.filter(
            enrollment__event__status=EventStatus.SCHEDULED, on__gte=today
        ).count(),
    )
