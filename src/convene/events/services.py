"""Every change to events and enrollments goes through a function here.

Each function checks what it is asked to do, raises an ``EventError`` with a message for the
person when it cannot, runs in one transaction, and announces an ``EventChange`` (see
``changes.py``). ``actor`` is the person doing it, checked with ``convene.permissions``;
``actor=None`` means Convene itself (demo data, background jobs) and skips the permission checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from convene import permissions
from convene.accounts.models import User, normalize_email
from convene.accounts.services import InvitationRefused, invite
from convene.core.validators import (
    refuse_control_characters,
    refuse_control_characters_except_line_breaks,
)
from convene.events import bounds
from convene.events.changes import ChangeKind, EventChange, announce
from convene.events.errors import (
    AlreadyEnrolled,
    EventCancelled,
    EventFull,
    EventOver,
    InvalidEvent,
    NotAllowed,
    NotEnrolled,
    UnknownPerson,
)
from convene.events.models import (
    AttendeeList,
    Enrollment,
    EnrollmentRole,
    Event,
    EventStatus,
    OnlineKind,
)
from convene.events.timezones import is_known_zone, to_local


@dataclass(frozen=True)
class EventDetails:
    """What an organizer decides about an event; field names match ``Event``'s."""

    title: str
    start: datetime
    end: datetime
    timezone: str
    description: str = ""
    location: str = ""
    is_online: bool = False
    online_url: str = ""
    capacity: int | None = None
    online_kind: str = OnlineKind.LINK
    waitlist_enabled: bool = False
    attendee_list: str = AttendeeList.AUTO

    @classmethod
    def of(cls, event: Event) -> EventDetails:
        return cls(**{f.name: getattr(event, f.name) for f in fields(cls)})


DETAIL_FIELDS = tuple(f.name for f in fields(EventDetails))


def _check_details(details: EventDetails) -> None:
    """Everything is checked before anything computes with it: a value out of range is a
    refusal with a message, never an error deeper down (an overflow, a database error)."""
    _check_text(details)
    if not details.title.strip():
        raise InvalidEvent("Give the event a title.", field="title")
    if details.start.tzinfo is None or details.end.tzinfo is None:
        raise InvalidEvent("Start and end must be aware datetimes.")
    for name in ("start", "end"):
        _validated(name, bounds.validate_supported_year, getattr(details, name))
    if details.end <= details.start:
        raise InvalidEvent("The event must end after it starts.", field="end")
    if details.attendee_list not in AttendeeList.values:
        raise InvalidEvent("Choose whether the attendee list is hidden.", field="attendee_list")
    if not is_known_zone(details.timezone):
        raise InvalidEvent(f"Unknown time zone {details.timezone!r}.", field="timezone")
    if details.capacity is not None:
        _validated("capacity", bounds.validate_capacity, details.capacity)
    elif details.waitlist_enabled:
        raise InvalidEvent(
            "A waitlist needs a capacity: say how many people may attend.",
            field="waitlist_enabled",
        )
    if details.online_kind not in OnlineKind.values:
        raise InvalidEvent("Choose a Teams meeting or your own link.", field="online_kind")


def _check_text(details: EventDetails) -> None:
    one_line = {
        "title": bounds.TITLE_MAX_LENGTH,
        "location": bounds.LOCATION_MAX_LENGTH,
        "online_url": bounds.ONLINE_URL_MAX_LENGTH,
    }
    for name, limit in one_line.items():
        value: str = getattr(details, name)
        _validated(name, refuse_control_characters, value)
        _validated(name, partial(bounds.validate_length, limit=limit), value)
    _validated("description", refuse_control_characters_except_line_breaks, details.description)


def _validated(field: str, validator: Callable[[Any], None], value: object) -> None:
    try:
        validator(value)
    except ValidationError as problem:
        raise InvalidEvent(" ".join(problem.messages), field=field) from None


def _refuse_past_start(details: EventDetails) -> None:
    """Refused rather than confirmed: nobody can attend a past event, and Outlook would send
    invitations to a meeting that is already over (see docs/architecture.md, "Time")."""
    if details.start < timezone.now():
        local = to_local(details.start, details.timezone)
        raise InvalidEvent(
            f"The start ({local:%Y-%m-%d %H:%M} {local.tzname()}) is in the past. Choose a time "
            "from now on: Convene does not schedule events in the past.",
            field="start",
        )


def _locked(event: Event) -> Event:
    """The event re-read under a row lock, so capacity and status checks see the latest state
    (PostgreSQL; SQLite serialises writers anyway)."""
    return Event.objects.select_for_update().get(pk=event.pk)


def _refresh(event: Event, current: Event) -> None:
    for name in (*DETAIL_FIELDS, "status", "cancellation_reason", "updated_at"):
        setattr(event, name, getattr(current, name))


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise NotAllowed(message)


def _ensure_scheduled(event: Event) -> None:
    if event.status == EventStatus.CANCELLED:
        raise EventCancelled("This event has been cancelled.")


def _ensure_room_for_attendee(event: Event) -> None:
    # Places held for people offered one from the waitlist are taken too.
    if event.capacity is not None and event.places_taken() >= event.capacity:
        raise EventFull(f"This event is full: all places ({event.capacity}) are taken.")


def _ensure_not_over(event: Event) -> None:
    if event.end <= timezone.now():
        raise EventOver("This event is over: nobody can join it any more.")


def _who(user: User, actor: User | None) -> str:
    return "You are" if actor is not None and actor.pk == user.pk else f"{user.name} is"


@transaction.atomic
def create_event(details: EventDetails, *, creator: User, allow_past: bool = False) -> Event:
    """A new scheduled event, with its creator as its first organizer. A start in the past is
    refused unless ``allow_past`` (Convene itself: demo data, imports, tests of old events)."""
    _require(permissions.can_create_events(creator), "You may not create events.")
    _check_details(details)
    if not allow_past:
        _refuse_past_start(details)
    event = Event.objects.create(
        **{name: getattr(details, name) for name in DETAIL_FIELDS}, created_by=creator
    )
    Enrollment.objects.create(event=event, user=creator, role=EnrollmentRole.ORGANIZER)
    announce(
        EventChange(
            event_id=event.pk,
            kind=ChangeKind.CREATED,
            changed_fields=frozenset(DETAIL_FIELDS),
            affected_user_ids=frozenset({creator.pk}),
            actor_id=creator.pk,
        )
    )
    return event


@transaction.atomic
def update_event(event: Event, details: EventDetails, *, actor: User | None) -> frozenset[str]:
    """Save new details; returns the names of the fields that changed (nothing announced when
    none did). A person may not move the start into the past (an event already under way or
    over keeps its start and may still be corrected otherwise)."""
    if actor is not None:
        _require(permissions.can_edit_event(actor, event), "You may not edit this event.")
    current = _locked(event)
    _ensure_scheduled(current)
    _check_details(details)
    attendees, taken = current.attendee_count(), current.places_taken()
    if details.capacity is not None and details.capacity < taken:
        raise InvalidEvent(
            f"Capacity cannot be lower than the {attendees} attendees already enrolled"
            + (
                f" and the {taken - attendees} places offered from the waitlist."
                if taken > attendees
                else "."
            ),
            field="capacity",
        )
    changed = frozenset(
        name for name in DETAIL_FIELDS if getattr(current, name) != getattr(details, name)
    )
    if actor is not None and "start" in changed:
        _refuse_past_start(details)
    if changed:
        for name in changed:
            setattr(current, name, getattr(details, name))
        current.save(update_fields=[*changed, "updated_at"])
        announce(
            EventChange(
                event_id=current.pk,
                kind=ChangeKind.UPDATED,
                changed_fields=changed,
                actor_id=actor.pk if actor else None,
            )
        )
    _refresh(event, current)
    return changed


@transaction.atomic
def cancel_event(event: Event, *, actor: User | None, reason: str = "") -> None:
    if actor is not None:
        _require(permissions.can_cancel_event(actor, event), "You may not cancel this event.")
    current = _locked(event)
    if current.status == EventStatus.CANCELLED:
        raise EventCancelled("This event is already cancelled.")
    current.status = EventStatus.CANCELLED
    current.cancellation_reason = reason.strip()
    current.save(update_fields=["status", "cancellation_reason", "updated_at"])
    announce(
        EventChange(
            event_id=current.pk,
            kind=ChangeKind.CANCELLED,
            changed_fields=frozenset({"status", "cancellation_reason"}),
            affected_user_ids=frozenset(current.enrollments.values_list("user_id", flat=True)),
            actor_id=actor.pk if actor else None,
            reason=current.cancellation_reason,
        )
    )
    _refresh(event, current)


def _add_person(event: Event, user: User, role: EnrollmentRole, actor: User | None) -> Enrollment:
    current = _locked(event)
    _ensure_scheduled(current)
    existing = current.enrollment_of(user)
    if existing is not None:
        raise AlreadyEnrolled(
            f"{_who(user, actor)} already on this event as {existing.get_role_display().lower()}."
        )
    if actor is not None:
        _ensure_not_over(current)
    if role == EnrollmentRole.ATTENDEE:
        _ensure_room_for_attendee(current)
    enrollment = Enrollment.objects.create(event=current, user=user, role=role)
    announce(
        EventChange(
            event_id=current.pk,
            kind=ChangeKind.ENROLLED,
            affected_user_ids=frozenset({user.pk}),
            actor_id=actor.pk if actor else None,
        )
    )
    return enrollment


@transaction.atomic
def enroll(event: Event, user: User, *, actor: User | None) -> Enrollment:
    """``user`` joins as an attendee; people enroll themselves, managers may enroll others."""
    if actor is not None and actor.pk != user.pk:
        _require(permissions.can_manage_event(actor, event), "You may not enroll other people.")
    if actor is not None:
        _require(permissions.can_enroll(actor), "Sign in to enroll.")
    return _add_person(event, user, EnrollmentRole.ATTENDEE, actor)


@transaction.atomic
def add_person(event: Event, user: User, role: EnrollmentRole, *, actor: User | None) -> Enrollment:
    """A manager puts someone on the event as organizer, presenter or attendee."""
    if actor is not None:
        _require(permissions.can_manage_event(actor, event), "You may not manage this event.")
    return _add_person(event, user, role, actor)


@transaction.atomic
def add_person_by_email(
    event: Event, email: str, role: EnrollmentRole, *, actor: User | None
) -> Enrollment:
    try:
        user = User.objects.get(email=normalize_email(email), is_active=True)
    except User.DoesNotExist:
        raise UnknownPerson(
            f"Nobody with the email address {email.strip()} uses Convene yet."
        ) from None
    return add_person(event, user, role, actor=actor)


@transaction.atomic
def invite_person(
    event: Event, email: str, role: EnrollmentRole, *, actor: User, site_url: str
) -> Enrollment:
    """A manager puts someone who has no Convene account on the event: the account is created
    as invited (they get an email to choose a password, see ``accounts.services.invite``) and
    they are on the event at once, so calendar integrations invite them right away."""
    _require(permissions.can_manage_event(actor, event), "You may not manage this event.")
    current = _locked(event)
    _ensure_scheduled(current)
    try:
        user = invite(email, invited_by=actor, reason=f"to “{current.title}”", site_url=site_url)
    except InvitationRefused as refusal:
        raise UnknownPerson(str(refusal)) from None
    return _add_person(current, user, role, actor)


@transaction.atomic
def unenroll(event: Event, user: User, *, actor: User | None, reason: str = "") -> None:
    """``user`` leaves the event; ``reason`` (e.g. "Declined in Outlook") travels with the
    announcement."""
    if actor is not None and actor.pk != user.pk:
        _require(permissions.can_manage_event(actor, event), "You may not remove other people.")
    current = _locked(event)
    _ensure_scheduled(current)
    enrollment = current.enrollment_of(user)
    if enrollment is None:
        raise NotEnrolled(f"{_who(user, actor)} not on this event.")
    if current.created_by_id == user.pk:
        raise NotAllowed("The event's creator is always one of its organizers.")
    enrollment.delete()
    announce(
        EventChange(
            event_id=current.pk,
            kind=ChangeKind.UNENROLLED,
            affected_user_ids=frozenset({user.pk}),
            actor_id=actor.pk if actor else None,
            reason=reason.strip(),
        )
    )


@transaction.atomic
def change_role(
    event: Event, user: User, role: EnrollmentRole, *, actor: User | None
) -> Enrollment:
    if actor is not None:
        _require(permissions.can_manage_event(actor, event), "You may not manage this event.")
    current = _locked(event)
    _ensure_scheduled(current)
    enrollment = current.enrollment_of(user)
    if enrollment is None:
        raise NotEnrolled(f"{_who(user, actor)} not on this event.")
    if enrollment.role == role:
        return enrollment
    if current.created_by_id == user.pk:
        raise NotAllowed("The event's creator is always one of its organizers.")
    if role == EnrollmentRole.ATTENDEE:
        _ensure_room_for_attendee(current)
    enrollment.role = role
    enrollment.save(update_fields=["role"])
    announce(
        EventChange(
            event_id=current.pk,
            kind=ChangeKind.ROLE_CHANGED,
            affected_user_ids=frozenset({user.pk}),
            actor_id=actor.pk if actor else None,
        )
    )
    return enrollment


@transaction.atomic
def change_creator(event: Event, new_creator: User, *, former_role: str = "") -> str:
    """Make ``new_creator`` the event's creator (its main organizer); Convene itself only.

    Used when an organizer leaves (``convene.outlook.moves.handover``) and to undo that. The new
    creator becomes an organizer of the event (added if they were not on it); the former one
    keeps ``former_role`` on it, or leaves it when that is "". Returns the new creator's role
    before the change ("" when they were not on the event), which undoes it.
    """
    current = _locked(event)
    former_id = current.created_by_id
    if former_id == new_creator.pk:
        return EnrollmentRole.ORGANIZER
    existing = current.enrollment_of(new_creator)
    previous_role = existing.role if existing is not None else ""
    if existing is None:
        Enrollment.objects.create(event=current, user=new_creator, role=EnrollmentRole.ORGANIZER)
    elif existing.role != EnrollmentRole.ORGANIZER:
        existing.role = EnrollmentRole.ORGANIZER
        existing.save(update_fields=["role"])
    if former_role:
        Enrollment.objects.update_or_create(
            event=current, user_id=former_id, defaults={"role": former_role}
        )
    else:
        Enrollment.objects.filter(event=current, user_id=former_id).delete()
    current.created_by = new_creator
    current.save(update_fields=["created_by", "updated_at"])
    announce(
        EventChange(
            event_id=current.pk,
            kind=ChangeKind.CREATOR_CHANGED,
            changed_fields=frozenset({"created_by"}),
            affected_user_ids=frozenset({former_id, new_creator.pk}),
        )
    )
    event.created_by = new_creator
    return previous_role
