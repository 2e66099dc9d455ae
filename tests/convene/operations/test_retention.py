"""The nightly retention: every registered pruner, batch after batch, until nothing older than
CONVENE_RETENTION_DAYS is left; recent rows and unfinished jobs stay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from convene.operations import retention
from convene.outlook.models import Job, LogKind, SyncLogEntry, log_entry

pytestmark = pytest.mark.django_db


def test_retention_deletes_old_audit_entries_and_finished_jobs_in_batches(settings: Any) -> None:
    settings.CONVENE_RETENTION_DAYS = 90
    now = timezone.now()
    old, recent = now - timedelta(days=120), now - timedelta(days=10)
    SyncLogEntry.objects.bulk_create(
        log_entry(LogKind.DECISION, "sweep", when=old) for _ in range(23)
    )
    SyncLogEntry.objects.bulk_create(
        log_entry(LogKind.DECISION, "sweep", when=recent) for _ in range(3)
    )
    for state, finished in [
        (Job.State.DONE, old),
        (Job.State.FAILED, old),
        (Job.State.DONE, recent),
        (Job.State.RUNNING, None),
    ]:
        Job.objects.create(
            kind=Job.Kind.HANDOVER, state=state, finished_at=finished, created_at=old
        )

    deleted = retention.prune(batch=10)

    assert deleted == {"outlook.audit_log": 23, "outlook.finished_jobs": 2}
    assert SyncLogEntry.objects.count() == 3
    assert sorted(Job.objects.values_list("state", flat=True)) == ["done", "running"]


def test_the_retention_setting_decides_what_is_old(settings: Any) -> None:
    settings.CONVENE_RETENTION_DAYS = 7
    SyncLogEntry.objects.bulk_create(
        [log_entry(LogKind.DECISION, "sweep", when=timezone.now() - timedelta(days=8))]
    )

    assert retention.prune()["outlook.audit_log"] == 1
