"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work: database, queue, and
a worker seen within ``CONVENE_WORKER_STALE_SECONDS``).

JSON, no secrets, no session and no sign-in: a load balancer calls them every few seconds, so
each costs at most three small queries.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from huey.contrib.djhuey import HUEY

from convene.operations import alerts

log = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, Any] = {
        "database": _database(),
        "queue": _queue(),
    }
    checks["workers"] = _workers() if checks["database"] == "ok" else "unknown"
    ready = checks["database"] == "ok" and checks["queue"] == "ok" and checks["workers"] == "ok"
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        log.warning("readyz: database unavailable", exc_info=True)
        return "unavailable"
    return "ok"


def _queue() -> str:
    try:
        HUEY.pending_count()
    except Exception:  # Redis or the queue file: whatever the storage raises
        log.warning("readyz: queue unavailable", exc_info=True)
        return "unavailable"
    return "ok"


def _workers() -> str:
    try:
        # The worker cannot say it is dead: the probe that notices tells the admins (once).
        seen = alerts.check_workers()
    except DatabaseError:
        return "unknown"
    return "ok" if seen else "none seen"
