"""Who may use the operations URLs: the probes are for anyone (load balancers sign in as
nobody), /metrics only for Prometheus (a token or an allowed address, none in this world), the
alerts page for admins."""

from __future__ import annotations

from url_access.matrix import ADMINS, Case

CASES = (
    Case("liveness probe", "get", "operations:healthz", (200,) * 7),
    Case("readiness probe", "get", "operations:readyz", (200,) * 7),
    Case("metrics without token", "get", "operations:metrics", (403,) * 7),
    Case("admin alerts", "get", "operations:alerts", ADMINS),
)
