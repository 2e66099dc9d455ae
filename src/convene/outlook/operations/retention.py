"""What retention prunes for the Outlook integration: audit log entries, and finished jobs
(mode switches, handovers, with their steps). Each call deletes one batch, oldest first,
chosen through an index so it never scans the table."""

from __future__ import annotations

from datetime import datetime

from convene.outlook.models import Job, SyncLogEntry


def prune_audit_log(before: datetime, batch: int) -> int:
    ids = list(
        SyncLogEntry.objects.filter(created_at__lt=before)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:batch]
    )
    if not ids:
        return 0
    deleted, _ = SyncLogEntry.objects.filter(pk__in=ids).delete()
    return deleted


def prune_finished_jobs(before: datetime, batch: int) -> int:
    ids = list(
        Job.objects.filter(state__in=(Job.State.DONE, Job.State.FAILED), finished_at__lt=before)
        .order_by("finished_at", "id")
        .values_list("pk", flat=True)[:batch]
    )
    if not ids:
        return 0
    _, per_model = Job.objects.filter(pk__in=ids).delete()
    return per_model.get(Job._meta.label, 0)
