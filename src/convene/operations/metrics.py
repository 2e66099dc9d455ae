"""``/metrics`` in Prometheus' text format.

Every figure is read from the database (or the queue) when Prometheus scrapes, so any web
process answers for the whole deployment, whichever process did the work. The base exports the
workers and the queue; integrations add theirs (``convene.core.extensions.register_metrics``).

Only for Prometheus: a request needs ``Authorization: Bearer <CONVENE_METRICS_TOKEN>`` or must
come from an address in ``CONVENE_METRICS_ALLOWED_ADDRESSES``; with neither set, nobody may.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from huey.contrib.djhuey import HUEY
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from convene.core import extensions
from convene.operations import alerts, heartbeat
from convene.operations.models import AdminAlert

log = logging.getLogger(__name__)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_scrape(request):
        return HttpResponse(
            "Forbidden: send the metrics token, or scrape from an allowed address "
            "(see docs/operations.md).\n",
            status=403,
            content_type="text/plain",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConveneCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def may_scrape(request: HttpRequest) -> bool:
    token = settings.CONVENE_METRICS_TOKEN
    offered = request.headers.get("Authorization", "")
    if token and offered.startswith("Bearer "):
        return hmac.compare_digest(offered.removeprefix("Bearer ").encode(), token.encode())
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.CONVENE_METRICS_ALLOWED_ADDRESSES
    )


class ConveneCollector(Collector):
    def collect(self) -> Iterator[Any]:
        yield from base_metrics()
        for collector in extensions.metrics_collectors():
            try:
                yield from collector()
            except Exception:
                # A failing integration must not hide the other figures.
                log.exception("Metrics collector %r failed", collector)


def base_metrics() -> Iterator[GaugeMetricFamily]:
    seen = alerts.check_workers()
    yield GaugeMetricFamily(
        "convene_workers_seen",
        "Worker processes that wrote their heartbeat within CONVENE_WORKER_STALE_SECONDS.",
        value=seen,
    )
    yield GaugeMetricFamily(
        "convene_periodic_tasks_running",
        "1 when a periodic task ran within CONVENE_PERIODIC_STALE_SECONDS (the scheduler is up).",
        value=int(heartbeat.periodic_tasks_seen()),
    )
    yield GaugeMetricFamily(
        "convene_queue_depth", "Tasks waiting in the queue.", value=HUEY.pending_count()
    )
    yield GaugeMetricFamily(
        "convene_queue_scheduled",
        "Tasks scheduled for later (retries, coalescing delays).",
        value=HUEY.scheduled_count(),
    )
    yield GaugeMetricFamily(
        "convene_admin_alerts_open",
        "Admin alerts raised and not yet cleared.",
        value=AdminAlert.objects.filter(cleared_at__isnull=True).count(),
    )
