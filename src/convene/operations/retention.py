"""Retention: rows older than ``CONVENE_RETENTION_DAYS`` (default 90) are deleted by a daily
task, in batches of ``CONVENE_RETENTION_BATCH`` rows, each its own short transaction, so the
tables are never locked for long and a busy worker keeps writing between batches.

What is pruned is the integrations' business (``convene.core.extensions.register_pruner``):
each pruner deletes up to one batch of its rows older than the cutoff.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from convene.core import extensions

log = logging.getLogger(__name__)


def cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.CONVENE_RETENTION_DAYS)


def prune(now: datetime | None = None, batch: int | None = None) -> dict[str, int]:
    """Run every pruner until it has nothing older than the cutoff; returns rows deleted."""
    before = cutoff(now)
    size = batch or settings.CONVENE_RETENTION_BATCH
    deleted: dict[str, int] = {}
    for name, pruner in extensions.pruners().items():
        total = 0
        while True:
            with transaction.atomic():
                count = pruner(before, size)
            total += count
            if count < size:
                break
        deleted[name] = total
        if total:
            log.info("Retention: deleted %s %s older than %s", total, name, before.date())
    return deleted
