"""What the dashboard shows of self-repair: per kind, how many in the last day and the latest
entry, read through the audit log's ``(action, created_at)`` index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from convene.outlook.models import SyncLogEntry

KINDS = (
    ("authorization_refreshed", "Authorizations kept alive"),
    ("delta_restarted", "Delta reads restarted"),
    ("caught_by_delta", "Changes caught by the delta read"),
    ("daily_reconcile", "Daily reconciles"),
)


@dataclass(frozen=True)
class SelfRepair:
    action: str
    label: str
    last_day: int
    latest: SyncLogEntry | None


def summary() -> list[SelfRepair]:
    since = timezone.now() - timedelta(hours=24)
    found = []
    for action, label in KINDS:
        rows = SyncLogEntry.objects.filter(action=action)
        found.append(
            SelfRepair(
                action,
                label,
                rows.filter(created_at__gte=since).count(),
                rows.order_by("-created_at", "-id").first(),
            )
        )
    return found
