"""Events and who is on them."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from convene.accounts.models import User
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


class EventQuerySet(models.QuerySet["Event"]):
    def upcoming(self) -> EventQuerySet:
        """Scheduled events that have not ended yet, soonest first."""
        return self.filter(status=EventStatus.SCHEDULED, end__gte=timezone.now()).order_by(
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
    def is_over(self) -> bool:
        return self.end <= timezone.now()

    @property
    def local_start(self) -> datetime:
        return to_local(self.start, self.timezone)

    @property
    def local_end(self) -> datetime:
        return to_local(self.end, self.timezone)

    def attendee_count(self) -> int:
        return self.enrollments.filter(role=EnrollmentRole.ATTENDEE).count()

    def seats_left(self) -> int | None:
        if self.capacity is None:
            return None
        return max(self.capacity - self.attendee_count(), 0)

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

    def __str__(self) -> str:
        return f"{self.user} - {self.get_role_display()} of {self.event}"
