"""What the Outlook integration remembers.

- ``OutlookSettings``: the admin's choices (one row).
- ``OutlookConnection``: one person's authorization, its MSAL token cache encrypted at rest.
- ``CalendarLink``: one event's Outlook copy: where it lives, which version Convene wants there
  and which version Outlook has, and where sync stands.
- ``MailboxSlot`` / ``MailboxPause``: Microsoft's per-mailbox limits, shared by every worker.
- ``Subscription`` / ``DeltaCursor``: how Convene hears about changes made in Outlook;
  ``NotedChange`` / ``ChangeInbox``: the changes it heard of, until they are reconciled.
- ``AttendeeReply``: each person's latest Outlook answer to an event.
- ``Job``: a long admin operation (switching modes, handing over events) and its progress.
- ``SyncLogEntry``: the audit log of every Graph call and every decision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
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
    # Tenant (id or domain) of the platform's own Microsoft 365; empty: the mailbox's domain.
    platform_tenant = models.CharField(max_length=100, blank=True)
    # Events with more people than this hide their attendee list in Outlook unless the event
    # says otherwise (``Event.attendee_list``).
    hide_attendees_above = models.PositiveIntegerField(
        "Hide the attendee list of events with more people than",
        default=100,
        help_text="Each person then sees only themselves and the organizer in Outlook. "
        "An event may choose otherwise.",
    )
    # Off by default: reading a decline's comment means reading the organizer's (or the
    # service mailbox's) mail, a permission of its own (Mail.Read), asked only when wanted.
    show_decline_comments = models.BooleanField("Show decline comments in Convene", default=False)
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


class MailAccess(models.TextChoices):
    MISSING = "missing", "Not granted"
    GRANTED = "granted", "Granted"
    DECLINED = "declined", "Declined by the person"


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
    # When Convene last redeemed the refresh token (Microsoft rotated it): Entra expires one
    # left unused for 90 days, so the keep-alive refreshes idle ones well before that.
    tokens_refreshed_at = models.DateTimeField(null=True, blank=True)
    # Whether this authorization lets Convene read the person's mail (Mail.Read), for decline
    # comments: asked at the next event save while missing; never again once they declined.
    mail_access = models.CharField(
        max_length=16, choices=MailAccess.choices, default=MailAccess.MISSING
    )

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
    # Its organizer's account was deactivated: Convene does not act as them any more, and the
    # event waits until an admin hands it over (``handover``) or reactivates them.
    NEEDS_NEW_ORGANIZER = "needs_new_organizer", "Needs a new organizer"


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
    # Since when Outlook has been behind Convene (set by the change that put it behind; only
    # meaningful while ``is_behind``): the sync lag operators watch.
    behind_since = models.DateTimeField(null=True, blank=True, default=timezone.now)

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
    # The current run of 429s began then (a pause renewed before it ran out continues the run).
    throttled_since = models.DateTimeField(default=timezone.now)
    # Since the row was made: 429 answers, and the seconds Microsoft asked every worker to wait.
    throttled_answers = models.PositiveBigIntegerField(default=0)
    throttled_seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.mailbox} paused until {self.until:%H:%M:%S}"


class PoolMailbox(models.Model):
    """Another service mailbox of the platform calendar (``mailboxes.pool``): the first is
    ``OutlookSettings.service_mailbox``; new events are spread over all of them so that none
    goes over Exchange's daily sending limit."""

    address = models.EmailField(unique=True)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["address"]

    def __str__(self) -> str:
        return self.address


class SendingTally(models.Model):
    """Recipients of the meeting messages one mailbox sent in one hour: Convene's own count,
    against Exchange's limit of recipients per 24 hours."""

    mailbox = models.CharField(max_length=254)
    hour = models.DateTimeField()
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "hour"], name="one_tally_per_mailbox_hour")
        ]

    def __str__(self) -> str:
        return f"{self.mailbox} {self.hour:%Y-%m-%d %H}h: {self.recipients}"


class SendingLimitWait(models.Model):
    """Exchange refused this mailbox's meeting messages for its daily sending limit: its new
    work waits until ``until`` (nothing is lost; the events are pushed then)."""

    mailbox = models.CharField(max_length=254, unique=True)
    until = models.DateTimeField()
    since = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.mailbox} may send again at {self.until:%Y-%m-%d %H:%M}"


class Subscription(models.Model):
    """A Graph change-notification subscription on one owner mailbox's events."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        # Convene stopped using it (its notifications are refused) but Microsoft has not
        # confirmed deleting it yet: deleting it is retried until it is gone or expires.
        REMOVING = "removing", "Being deleted at Microsoft"
        REMOVED = "removed", "Removed"

    mailbox = models.CharField(max_length=254)
    mode = models.CharField(max_length=16, choices=Mode.choices)
    # Whose authorization reaches it (organizer mode). Kept (set to NULL) when the connection
    # goes, so a subscription that could not be deleted stays visible until it expires.
    connection = models.ForeignKey(
        OutlookConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    graph_id = models.CharField(max_length=200, blank=True, db_index=True)
    # SHA-256 of the clientState Graph echoes on every notification; the secret itself is
    # given to Microsoft only.
    client_state_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    renewed_at = models.DateTimeField(null=True, blank=True)
    last_notification_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.mailbox} until {self.expires_at:%Y-%m-%d %H:%M}"


class NotedChange(models.Model):
    """An event Microsoft said changed, kept until a worker has reconciled it.

    Written before the webhook answers 202, so a notification Microsoft considers delivered is
    reconciled even if the queue loses its task or the worker is down: the sweep finds it.
    """

    mailbox = models.CharField(max_length=254)
    graph_id = models.CharField(max_length=512)
    noted_at = models.DateTimeField(default=timezone.now)
    # Set while one worker reconciles it; a worker that died leaves it to the next one once
    # ``claimed_until`` has passed.
    claimed_by = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["mailbox", "graph_id", "claimed_by"])]

    def __str__(self) -> str:
        return f"{self.mailbox}: {self.graph_id[:20]}"


class ChangeInbox(models.Model):
    """Per mailbox: whether a task to reconcile its noted changes is queued, so that a burst
    of notifications queues one task rather than one per notification."""

    mailbox = models.CharField(max_length=254, unique=True)
    queued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"changes of {self.mailbox}"


class DeltaCursor(models.Model):
    """Where the periodic delta read of one mailbox's calendar view stands."""

    mailbox = models.CharField(max_length=254, unique=True)
    # The stored @odata.nextLink (round unfinished) or @odata.deltaLink (round done).
    link = models.TextField(blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"delta of {self.mailbox}"


class AttendeeReply(models.Model):
    """The latest answer Outlook shows for one person on one event."""

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="replies")
    email = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Graph's responseType: none, accepted, tentativelyAccepted, declined, notResponded.
    response = models.CharField(max_length=24)
    responded_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    # A decline's comment, as plain text (attacker-controlled: escaped wherever shown), read
    # from the answer message in the organizer's mailbox when the admin wants that.
    comment = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "email"], name="one_reply_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.email}: {self.response}"


class Job(models.Model):
    """A long admin operation run by the worker, with progress the admin can watch."""

    class Kind(models.TextChoices):
        MODE_SWITCH = "mode_switch", "Switch calendar mode"
        HANDOVER = "handover", "Hand over events"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set while a worker runs the job, so two never run it at once; a crashed run's lease
    # runs out and the job is picked up again where it stopped.
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.done}/{self.total} ({self.state})"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, 100 * (self.done + self.failed) // self.total)


class MoveStep(models.Model):
    """One event's move to another calendar during a mode switch or a handover (a ``Job``).

    Holds where the old copy is until it is cancelled, so a crash between making the new copy
    and cancelling the old one loses neither; and, for a handover, who organizes the event
    before and after, so a refused move can be undone.
    """

    class State(models.TextChoices):
        PLANNED = "planned", "Planned"
        MOVING = "moving", "Moving"  # the new copy is being made; the old one still exists
        MOVED = "moved", "Moved"
        # The new copy is in place, but Convene could not reach the old organizer's calendar
        # (their authorization is gone), so the old copy was not cancelled by Convene.
        OLD_COPY_LEFT = "old_copy_left", "Moved; old copy not cancelled"
        LEFT = "left", "Left where it was"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="steps")
    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+")
    from_mode = models.CharField(max_length=16, choices=Mode.choices)
    from_mailbox = models.CharField(max_length=254)
    from_graph_id = models.CharField(max_length=512)
    from_ical_uid = models.CharField(max_length=512, blank=True)
    # What Outlook last accepted for the old copy, to put the link back if the move fails.
    from_change_key = models.CharField(max_length=200, blank=True)
    from_last_pushed = models.JSONField(default=dict, blank=True)
    # The event's organizer (creator) when the step was planned; their connection cancels the
    # old copy of an organizer-calendar event.
    from_organizer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Handover only: who organizes the event once it moved, and their role on it before
    # ("" when they were not on it), to put things back if the new calendar refuses it.
    to_organizer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_previous_role = models.CharField(max_length=16, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PLANNED)
    note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "event"], name="one_step_per_event_and_job")
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} from {self.from_mailbox} [{self.state}]"


class LogKind(models.TextChoices):
    GRAPH = "graph", "Graph call"
    DECISION = "decision", "Decision"
    SETTINGS = "settings", "Settings change"
    AUTHORIZATION = "authorization", "Authorization"
    NOTIFICATION = "notification", "Notification"
    REPLY = "reply", "Reply from Outlook"


class SyncLogEntry(models.Model):
    created_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=LogKind.choices)
    event = models.ForeignKey(
        "events.Event",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # synclog_event_when serves lookups by event
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
        # What the dashboard asks (docs/operations.md): newest first (keyset on created_at,
        # id), by kind, by event, by mailbox, by action (self-repair), each already in order.
        indexes = [
            models.Index(fields=["created_at", "id"], name="synclog_when"),
            models.Index(fields=["kind", "created_at", "id"], name="synclog_kind_when"),
            models.Index(fields=["event", "created_at", "id"], name="synclog_event_when"),
            models.Index(fields=["mailbox", "created_at", "id"], name="synclog_mailbox_when"),
            models.Index(fields=["action", "created_at", "id"], name="synclog_action_when"),
        ]
        verbose_name = "sync log entry"
        verbose_name_plural = "sync log"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.action} {self.status}"


def lease_free(now: datetime | None = None) -> Q:
    """A row's lease (``lease_until``: a link being pushed, a job being run) is free: nobody
    holds it, or whoever did has died."""
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now or timezone.now())


def record(kind: str, action: str, **fields: Any) -> SyncLogEntry:
    """Append to the audit log; ``fields`` are those of ``log_entry``. Never pass tokens,
    secrets or codes here."""
    entry = log_entry(kind, action, **fields)
    entry.save(force_insert=True)
    return entry


def log_entry(
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
    """An audit log entry not yet saved, for writing many at once (``bulk_create``)."""
    return SyncLogEntry(
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


class OnlineMeeting(models.Model):
    """The Teams meeting Outlook made for an event: what people need to join, read back from
    Outlook's copy, and what went wrong when Outlook did not make one."""

    class State(models.TextChoices):
        READY = "ready", "Teams meeting ready"
        MISSING = "missing", "Outlook has not made the Teams meeting yet"
        NOT_ALLOWED = "not_allowed", "Teams is not allowed on this calendar"

    event = models.OneToOneField(
        "events.Event", on_delete=models.CASCADE, related_name="online_meeting"
    )
    state = models.CharField(max_length=16, choices=State.choices)
    join_url = models.URLField(max_length=2000, blank=True)
    conference_id = models.CharField(max_length=64, blank=True)
    toll_number = models.CharField(max_length=64, blank=True)
    toll_free_number = models.CharField(max_length=64, blank=True)
    quick_dial = models.CharField(max_length=128, blank=True)
    # Words for the organizer when there is no meeting (which providers the calendar allows).
    problem = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.event_id}: {self.state}"

    @property
    def is_ready(self) -> bool:
        return self.state == self.State.READY and bool(self.join_url)


class Room(models.Model):
    """A room of the tenant, as the places API lists it; ``offered``: organizers may book it."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200)
    capacity = models.PositiveIntegerField(null=True, blank=True)
    building = models.CharField(max_length=100, blank=True)
    floor_number = models.IntegerField(null=True, blank=True)
    room_list = models.EmailField(blank=True)
    offered = models.BooleanField(default=False)
    # False: the last read of the tenant's rooms no longer listed it.
    listed = models.BooleanField(default=True)
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["building", "floor_number", "name"]

    def __str__(self) -> str:
        return self.name


class RoomBooking(models.Model):
    """The room an event is held in: invited as a resource attendee; its answer as Outlook
    reports it."""

    class Answer(models.TextChoices):
        WAITING = "none", "Waiting for the room's answer"
        ACCEPTED = "accepted", "Accepted"
        TENTATIVE = "tentativelyAccepted", "Tentatively accepted"
        DECLINED = "declined", "Declined"

    event = models.OneToOneField(
        "events.Event", on_delete=models.CASCADE, related_name="room_booking"
    )
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="bookings")
    answer = models.CharField(max_length=24, choices=Answer.choices, default=Answer.WAITING)
    # Why a room declined, in words for the organizer.
    reason = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.event_id} in {self.room_id}: {self.answer}"


class CopySeat(models.Model):
    """Which Outlook copy of an event a person is invited on: 0 is the event's own copy (its
    ``CalendarLink``), 1 and up its overflow copies (``OverflowCopy``). Kept, so that adding
    or removing other people never moves anyone (``outbound.copies``)."""

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="copy_seats")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    part = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="one_copy_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.event_id}: user {self.user_id} on copy {self.part}"


class OverflowCopy(models.Model):
    """An extra Outlook event holding some of a big event's people (Graph allows 500 attendees
    per event), in the same mailbox as the event's own copy."""

    link = models.ForeignKey(CalendarLink, on_delete=models.CASCADE, related_name="overflow")
    part = models.PositiveSmallIntegerField()
    # The mailbox it lives in: after a move (mode switch, handover) the old calendar's copies
    # are cancelled by the move, and the new calendar gets its own.
    mailbox = models.CharField(max_length=254, blank=True)
    graph_id = models.CharField(max_length=512, blank=True)
    change_key = models.CharField(max_length=200, blank=True)
    last_pushed = models.JSONField(default=dict, blank=True)
    # The link's desired version this copy last reached.
    synced_version = models.PositiveIntegerField(default=0)
    # When Convene found it deleted in Outlook (the organizer deleted it, or someone with
    # access to the service mailbox): like the own copy, not made again until an organizer
    # publishes it again (``links.publish_again``).
    deleted_in_outlook_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["link", "mailbox", "part"], name="one_overflow_copy_per_part"
            )
        ]

    def __str__(self) -> str:
        return f"{self.link_id} copy {self.part}"
