"""What operations remembers: which workers are alive, and which admin alerts are open."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class WorkerHeartbeat(models.Model):
    """One worker process, and when it last said it was alive (``heartbeat.beat``)."""

    worker = models.CharField(max_length=200, unique=True)  # host:pid
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.worker} seen {self.seen_at:%H:%M:%S}"


class AdminAlert(models.Model):
    """A condition admins were told about (once), open until it clears."""

    key = models.CharField(max_length=200)
    title = models.CharField(max_length=300)
    fix = models.TextField()
    url = models.CharField(max_length=500, blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            # At most one open alert per condition: two processes raising it at once make one.
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(cleared_at__isnull=True), name="one_open_alert"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({'open' if self.cleared_at is None else 'cleared'})"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None
