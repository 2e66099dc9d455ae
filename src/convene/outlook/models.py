"""What the Outlook integration remembers.

- ``OutlookSettings``: the admin's choices (one row).
- ``OutlookConnection``: one person's authorization, its MSAL token cache encrypted at rest.
- ``CalendarLink``: one event's Outlook copy: where it lives, which version Convene wants there
  and which version Outlook has, and where sync stands.
- ``MailboxSlot`` / ``MailboxPause``: Microsoft's per-mailbox limits, shared by every worker.
- ``SyncLogEntry``: the audit log of every Graph call and every decision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class Mode(models.TextChoices):
    ORGANIZER = "organizer", "Organizer calendars"
    PLATFORM = "platform", "Platform calendar"


class OutlookSettings(models.Model):
    enabled = models.BooleanField(default=False)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.ORGANIZER)
    unenroll_on_decline = models.BooleanField(
        "Unenroll people who decline in Outlook", default=True
    )
    service_mailbox = models.EmailField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Outlook settings"
        verbose_name_plural = "Outlook settings"

    def __str__(self) -> str:
        return f"Outlook {'on' if self.enabled else 'off'} ({self.get_mode_display()})"

    @classmethod
    def load(cls) -> OutlookSettings:
        row, _ = cls.objects.get_or_create(pk=1)
        return row

    @property
    def syncs_organizer_calendars(self) -> bool:
        return self.enabled and self.mode == Mode.ORGANIZER


class ConnectionStatus(models.TextChoices):
    CONNECTED = "connected", "Connected"
    NEEDS_AUTHORIZATION = "needs_authorization", "Needs authorization"


class OutlookConnection(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="outlook_connection"
    )
    status = models.CharField(
        max_length=24, choices=ConnectionStatus.choices, default=ConnectionStatus.CONNECTED
    )
    account_username = models.CharField(max_length=254)
    tenant_id = models.CharField(max_length=64, blank=True)
    home_account_id = models.CharField(max_length=200)
    # Fernet ciphertext of MSAL's serialized token cache (refresh and access tokens).
    encrypted_token_cache = models.TextField()
    last_error = models.TextField(blank=True)
    connected_at = models.DateTimeField(default=timezone.now)
    # Set when authorization was lost; the person is told once per loss.
    authorization_lost_at = models.DateTimeField(null=True, blank=True)
    # While set in the future, one worker is refreshing the tokens and the others wait: a
    # refresh token rotates on use, so two refreshes at once would burn one of them.
    refresh_lease_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} -> {self.account_username} ({self.status})"

    @property
    def mailbox(self) -> str:
        return self.account_username.lower()

    @property
    def is_usable(self) -> bool:
        return self.status == ConnectionStatus.CONNECTED


class LinkState(models.TextChoices):
    PENDING = "pending", "Pending"
    SYNCED = "synced", "Synced"
    WAITING_AUTHORIZATION = "waiting_authorization", "Waiting for authorization"
    FAILING = "failing", "Failing"
    DELETED_IN_OUTLOOK = "deleted_in_outlook", "Deleted in Outlook"


class CalendarLink(models.Model):
    """The Outlook copy of one Convene event."""

    event = models.OneToOneField(
        "events.Event", on_delete=models.CASCADE, related_name="calendar_link"
    )
    # Where the copy lives: an organizer's mailbox, or the service mailbox (platform mode).
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.ORGANIZER)
    owner_mailbox = models.CharField(max_length=254, blank=True)
    # Bumped when Convene deliberately makes a new Outlook copy (publish again, move), so the
    # transactionId changes with it; retries of one creation keep the same one.
    generation = models.PositiveIntegerField(default=0)
    graph_id = models.CharField(max_length=512, blank=True)
    ical_uid = models.CharField(max_length=512, blank=True)
    change_key = models.CharField(max_length=200, blank=True)
    # The properties Outlook last accepted from Convene; the next PATCH carries only the
    # differences from this.
    last_pushed = models.JSONField(default=dict, blank=True)

    desired_version = models.PositiveIntegerField(default=1)
    synced_version = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=24, choices=LinkState.choices, default=LinkState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # None: no automatic retry (a permanent failure waits for a change or a "Retry").
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_error = models.TextField(blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # Set while a sync task is queued for this link, so a burst of changes queues one task.
    queued_at = models.DateTimeField(null=True, blank=True)
    # Set while a worker is pushing this link, so two workers never push the same event.
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.owner_mailbox or '?'} [{self.state}]"

    @property
    def is_behind(self) -> bool:
        return self.synced_version < self.desired_version

    @property
    def retries_automatically(self) -> bool:
        return self.next_attempt_at is not None


class MailboxSlot(models.Model):
    """One of the few requests Microsoft lets an app have in flight on one mailbox."""

    mailbox = models.CharField(max_length=254)
    number = models.PositiveSmallIntegerField()
    holder = models.CharField(max_length=64, blank=True)
    # A crashed worker's slot frees itself when its lease runs out.
    leased_until = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "number"], name="one_row_per_slot")
        ]

    def __str__(self) -> str:
        return f"{self.mailbox}#{self.number}"


class MailboxPause(models.Model):
    """Microsoft answered 429 for this mailbox: every worker waits until ``until``."""

    mailbox = models.CharField(max_length=254, unique=True)
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.mailbox} paused until {self.until:%H:%M:%S}"


class LogKind(models.TextChoices):
    GRAPH = "graph", "Graph call"
    DECISION = "decision", "Decision"
    SETTINGS = "settings", "Settings change"
    AUTHORIZATION = "authorization", "Authorization"


class SyncLogEntry(models.Model):
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=16, choices=LogKind.choices)
    event = models.ForeignKey(
        "events.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    mailbox = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    status = models.CharField(max_length=32, blank=True)
    message = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "sync log entry"
        verbose_name_plural = "sync log"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.action} {self.status}"


def record(
    kind: str,
    action: str,
    *,
    status: str = "",
    message: str = "",
    event_id: int | None = None,
    user_id: int | None = None,
    mailbox: str = "",
    when: datetime | None = None,
    **details: Any,
) -> SyncLogEntry:
    """Append to the audit log. Never pass tokens, secrets or codes here."""
    return SyncLogEntry.objects.create(
        kind=kind,
        action=action,
        status=status,
        message=message[:2000],
        event_id=event_id,
        user_id=user_id,
        mailbox=mailbox,
        created_at=when or timezone.now(),
        details=details,
    )
