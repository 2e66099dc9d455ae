"""Events and who is on them."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from convene.accounts.models import User
from convene.events.recurrence import Frequency, MonthlyBy, Rule
from convene.events.timezones import is_known_zone, to_local


def validate_zone_name(name: str) -> None:
    if not is_known_zone(name):
        raise ValidationError(f"{name!r} is not an IANA time zone name such as Europe/Berlin.")


class EventStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CANCELLED = "cancelled", "Cancelled"


class EnrollmentRole(models.TextChoices):
    ORGANIZER = "organizer", "Organizer"
    PRESENTER = "presenter", "Presenter"
    ATTENDEE = "attendee", "Attendee"


def not_over(now: datetime, prefix: str = "") -> models.Q:
    """Events not over at ``now``: their end, or a series' last session's end, is ahead.
    ``prefix`` names the event from another model (e.g. ``"event__"``)."""
    return models.Q(**{f"{prefix}end__gte": now}) | models.Q(
        **{f"{prefix}series_rule__last_end__gte": now}
    )


class EventQuerySet(models.QuerySet["Event"]):
    def upcoming(self) -> EventQuerySet:
        """Scheduled events that have not ended yet, soonest first."""
        # a series is upcoming until its last session ends
        return self.filter(not_over(timezone.now()), status=EventStatus.SCHEDULED).order_by(
            "start", "pk"
        )

    def search(self, text: str) -> EventQuerySet:
        text = text.strip()
        if not text:
            return self
        return self.filter(
            models.Q(title__icontains=text)
            | models.Q(description__icontains=text)
            | models.Q(location__icontains=text)
        )


class AttendeeList(models.TextChoices):
    """Whether people invited in Outlook see each other (Graph's ``hideAttendees``)."""

    AUTO = "auto", "Hidden above the site's size"
    HIDDEN = "hidden", "Hidden"
    SHOWN = "shown", "Shown"


class OnlineKind(models.TextChoices):
    """How people join an online event: a Teams meeting Outlook creates, or the organizer's
    own link."""

    TEAMS = "teams", "Teams meeting"
    LINK = "link", "My own link"


class Event(models.Model):
    title = models.CharField(max_length=200)
    # Plain text: shown escaped, line breaks kept. Never rendered as HTML.
    description = models.TextField(blank=True)
    # Instants, stored in UTC. ``timezone`` says which wall clock the event is planned in.
    start = models.DateTimeField()
    end = models.DateTimeField()
    timezone = models.CharField(max_length=64, validators=[validate_zone_name])
    location = models.CharField(max_length=200, blank=True)
    is_online = models.BooleanField("online", default=False)
    online_url = models.URLField("online meeting link", blank=True)
    online_kind = models.CharField(
        "how people join", max_length=8, choices=OnlineKind.choices, default=OnlineKind.LINK
    )
    capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most attendees allowed; empty for no limit."
    )
    # With a capacity: people may wait for a place once it is full (``convene.events.waitlist``).
    waitlist_enabled = models.BooleanField("waitlist when full", default=False)
    attendee_list = models.CharField(
        "attendee list in Outlook",
        max_length=8,
        choices=AttendeeList.choices,
        default=AttendeeList.AUTO,
        help_text="Hidden: each person sees only themselves and the organizer.",
    )
    status = models.CharField(
        max_length=16, choices=EventStatus.choices, default=EventStatus.SCHEDULED
    )
    cancellation_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="created_events"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["start", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("events:detail", args=[self.pk])

    @property
    def is_cancelled(self) -> bool:
        return self.status == EventStatus.CANCELLED

    @property
    def last_end(self) -> datetime:
        """When the event is over: its end, or a series' last session's end."""
        try:
            return self.series_rule.last_end
        except SeriesRule.DoesNotExist:
            return self.end

    @property
    def is_over(self) -> bool:
        # a series is over when its last session is
        return self.last_end <= timezone.now()

    @property
    def local_start(self) -> datetime:
        return to_local(self.start, self.timezone)

    @property
    def local_end(self) -> datetime:
        return to_local(self.end, self.timezone)

    def attendee_count(self) -> int:
        return self.enrollments.filter(role=EnrollmentRole.ATTENDEE).count()

    def places_taken(self) -> int:
        """Attendees, plus the places held for people offered one from the waitlist."""
        now = timezone.now()
        return self.attendee_count() + self.waitlist.filter(offered_until__gt=now).count()

    def seats_left(self) -> int | None:
        if self.capacity is None:
            return None
        return max(self.capacity - self.places_taken(), 0)

    def is_full(self) -> bool:
        return self.seats_left() == 0

    def is_organized_by(self, user: User) -> bool:
        return self.enrollments.filter(user=user, role=EnrollmentRole.ORGANIZER).exists()

    def enrollment_of(self, user: User) -> Enrollment | None:
        return self.enrollments.filter(user=user).first()


class Enrollment(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="enrollments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments"
    )
    role = models.CharField(max_length=16, choices=EnrollmentRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="one_enrollment_per_person"),
        ]
        # Lists sorted by the ordering above (Django admin's enrollment list) read it in order.
        indexes = [models.Index(fields=["created_at", "id"], name="enrollment_created_order")]

    def __str__(self) -> str:
        return f"{self.user} - {self.get_role_display()} of {self.event}"


# --- series: the rule, the sessions that differ, who will miss which ------------------------
# Only the rule is stored; sessions are computed from it (``convene.events.series``). A session
# is named by its local date under the rule (``on``): a series meets at most once a day, and
# the date survives a change of the series' time of day.


class SeriesRule(models.Model):
    """The event repeats: its start and end are its first session's."""

    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="series_rule")
    frequency = models.CharField(
        max_length=16, choices=[(f.value, f.value.title()) for f in Frequency]
    )
    interval = models.PositiveSmallIntegerField(default=1)
    # weekly: "0,3" for Monday and Thursday
    weekdays = models.CharField(max_length=20, blank=True)
    monthly_by = models.CharField(
        max_length=16,
        choices=[(m.value, m.value.replace("_", " ")) for m in MonthlyBy],
        default=MonthlyBy.DAY_OF_MONTH,
    )
    until = models.DateField(null=True, blank=True)
    count = models.PositiveSmallIntegerField(null=True, blank=True)
    # When the last session ends (kept by ``convene.events.series``), so lists find a series
    # whose first session is past but whose last is not.
    last_end = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.frequency} rule of {self.event}"

    def rule(self) -> Rule:
        return Rule(
            frequency=Frequency(self.frequency),
            interval=self.interval,
            weekdays=tuple(int(day) for day in self.weekdays.split(",") if day),
            monthly_by=MonthlyBy(self.monthly_by),
            until=self.until,
            count=self.count,
        )

    def keep(self, rule: Rule) -> None:
        self.frequency = rule.frequency
        self.interval = rule.interval
        self.weekdays = ",".join(str(day) for day in sorted(rule.weekdays))
        self.monthly_by = rule.monthly_by
        self.until = rule.until
        self.count = rule.count


class SessionChange(models.Model):
    """One session that differs from the series: moved, elsewhere, another link, or cancelled.
    Empty (null) fields are as the series has them."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="session_changes")
    on = models.DateField(help_text="The session's local date under the rule.")
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    # null, not "": "as the series" differs from "no location for this session"
    location = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    is_online = models.BooleanField(null=True, blank=True)
    online_url = models.URLField(null=True, blank=True)  # noqa: DJ001
    is_cancelled = models.BooleanField(default=False)
    cancellation_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["event", "on"]
        constraints = [
            models.UniqueConstraint(fields=["event", "on"], name="one_change_per_session"),
        ]

    def __str__(self) -> str:
        return f"{self.event} on {self.on}"


class MissedSession(models.Model):
    """Someone enrolled in the series said they will miss one session (e.g. declined that
    occurrence in Outlook). Goes with the enrollment."""

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="missed_sessions"
    )
    on = models.DateField()
    reason = models.CharField(max_length=200, blank=True)
    # What they wrote when declining the occurrence in Outlook (plain text; read only while the
    # admin wants decline comments: ``convene.outlook.mailboxes.decline_comments``).
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["on", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "on"], name="one_miss_per_session"),
        ]

    def __str__(self) -> str:
        return f"{self.enrollment} misses {self.on}"


class WaitlistEntry(models.Model):
    """Someone waiting for a place on a full event (``convene.events.waitlist``). Never an
    attendee, so never in Outlook. ``offered_until``: a place is held for them until then
    (claim window); empty while they simply wait."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="waitlist")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    # Lower goes first; organizers reorder by swapping neighbours' positions.
    position = models.PositiveIntegerField()
    joined_at = models.DateTimeField(auto_now_add=True)
    offered_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="one_wait_per_person"),
        ]
        indexes = [models.Index(fields=["offered_until"], name="waitlist_offer_due")]

    def __str__(self) -> str:
        return f"{self.user_id} waiting for event {self.event_id}"


class WaitlistPromotion(models.Model):
    """A place given from the waitlist, kept for the figures (``/metrics``) and the record."""

    class How(models.TextChoices):
        AUTOMATIC = "automatic", "A place freed"
        CLAIMED = "claimed", "Claimed an offered place"
        BY_HAND = "by_hand", "Promoted by an organizer"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="promotions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    how = models.CharField(max_length=16, choices=How.choices)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.user_id} promoted on event {self.event_id} ({self.how})"
