"""Site-wide settings that Admins change in the app, stored as a single row."""

from __future__ import annotations

from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

SITE_SETTINGS_PK = 1


class SiteSettings(models.Model):
    regular_users_may_create_events = models.BooleanField(
        default=False,
        help_text="Let Regular users create, edit and cancel events too.",
    )
    # 0: a freed place goes at once to the first person waiting; otherwise it is offered to
    # them for this many hours (they claim it), then to the next (``convene.events.waitlist``).
    waitlist_claim_hours = models.PositiveSmallIntegerField(
        "waitlist claim window (hours)",
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(168)],
        help_text="0: a freed place goes at once to the first person waiting. More: it is "
        "offered to them for this many hours (at most 168), then to the next person.",
    )

    class Meta:
        verbose_name = "site settings"
        verbose_name_plural = "site settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=SITE_SETTINGS_PK), name="single_row"),
        ]

    def __str__(self) -> str:
        return "Site settings"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.pk = SITE_SETTINGS_PK
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> SiteSettings:
        settings, _ = cls.objects.get_or_create(pk=SITE_SETTINGS_PK)
        return settings


class Notice(models.Model):
    """A short message for one person, shown in the app until they have seen it.

    Any app may leave one (``convene.core.notices.notify``); the layout shows how many are unread.
    """

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="notices")
    text = models.CharField(max_length=500)
    # Where the notice leads (a page in Convene), or empty.
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.text[:40]}"

    @property
    def is_unread(self) -> bool:
        return self.read_at is None
