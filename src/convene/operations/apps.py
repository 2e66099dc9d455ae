from __future__ import annotations

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running Convene: health probes, /metrics, admin alerts, retention, worker heartbeat.

    Knows no integration: integrations report through ``convene.core.extensions``.
    """

    name = "convene.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from huey.contrib.djhuey import HUEY

        from convene.core import extensions
        from convene.operations import alerts, heartbeat

        extensions.register_alert_source("operations", alerts.worker_conditions)
        extensions.register_admin_link("Alerts", "operations:alerts")
        # Every worker process (``run_huey``) beats while it runs; web processes never do.
        HUEY.on_startup("operations.heartbeat")(heartbeat.start)
        HUEY.on_shutdown("operations.heartbeat")(heartbeat.stop)
