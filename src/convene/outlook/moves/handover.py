"""When an organizer leaves: handing their events to a new organizer, as a tracked job.

In organizer-calendar mode each event lives in its creator's Outlook calendar and Convene
writes there with their authorization. When their account is deactivated:

1. **Noticed at once** (``on_deactivated``, from a signal on saving the person, so both the
   Users page and Django admin count): their upcoming events are parked as "Needs a new
   organizer", so Convene stops acting as someone who left (even while their authorization
   still works) and nothing loops on errors; every admin gets a notice, and the sync dashboard
   lists them with a "Hand over" button. Reactivating the person un-parks them.
2. **The admin chooses** the new organizer and sees a preview with numbers first (``plan``):
   each event's first co-organizer who is active and has connected Outlook, or one person for
   every event; in platform mode, the platform calendar. Only upcoming, scheduled events whose
   copy is in the leaver's calendar move; past, cancelled and deleted-in-Outlook ones stay, and
   events with nobody eligible stay parked (they are counted).
3. **The job** (``start``) runs on the move engine (``moves``) shared with mode switches: a
   Graph event cannot change organizer, so the new organizer's calendar gets a new copy (one
   invitation per person), then the old copy is cancelled through the leaver's authorization
   with a message saying who organizes the event now. If that authorization is gone, Convene
   cannot cancel the old copy: the step says so (``OLD_COPY_LEFT``), the audit log and the
   progress page too, and the job carries on.

Who organizes the event in Convene afterwards (``HandoverRules.before_new_copy``): the new
organizer becomes its creator (they may edit and cancel it, and its copy lives in their
calendar), and the leaver is **removed** from its people rather than kept as a "former
organizer". Someone who has left cannot sign in or answer questions about the event, so
listing them as an organizer would send attendees to the wrong person; keeping them on it would
also put them on the new Outlook copy as a required attendee, so the new copy would invite a
departed (or disabled) mailbox to every event it no longer runs. The record of who organized it
before is kept where it belongs: the job, its steps and the audit log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils import timezone

from convene.accounts.models import Role, User, normalize_email
from convene.core.notices import notify
from convene.core.text import counted
from convene.events import services as event_services
from convene.events.models import Enrollment, EnrollmentRole, Event, EventStatus
from convene.outlook import links
from convene.outlook.mailboxes.connections import usable_connection
from convene.outlook.models import (
    AttendeeReply,
    CalendarLink,
    Job,
    LinkState,
    LogKind,
    Mode,
    MoveStep,
    OutlookSettings,
    record,
)
from convene.outlook.moves import engine
from convene.outlook.moves.engine import Destination, where
from convene.outlook.outbound import queueing
from convene.permissions import can_create_events

COORGANIZER = "coorganizer"
PERSON = "person"
PLATFORM = "platform"
TARGETS = {
    COORGANIZER: "Each event's first co-organizer who has connected Outlook",
    PERSON: "One person for every event",
    PLATFORM: "The platform calendar",
}


class HandoverRefused(Exception):
    """The choice cannot be carried out; the message says why, and nothing changed."""


# --- noticing that someone left -----------------------------------------------------------


def _parkable(leaver_id: int) -> QuerySet[CalendarLink]:
    """The leaver's events whose copy is (or would be) in their own calendar and still
    matters: upcoming, scheduled, not deleted in Outlook."""
    return CalendarLink.objects.filter(
        event__created_by_id=leaver_id,
        mode=Mode.ORGANIZER,
        event__status=EventStatus.SCHEDULED,
        event__end__gte=timezone.now(),
    ).exclude(state=LinkState.DELETED_IN_OUTLOOK)


def on_deactivated(user: User) -> int:
    """Park the person's upcoming events and tell the admins; returns how many were parked."""
    if not OutlookSettings.load().enabled:
        return 0
    reason = (
        f"{user.name}'s account is deactivated; an admin must hand this event over to a new "
        "organizer."
    )
    count = links.park_leaver(_parkable(user.pk), reason)
    if not count:
        return 0
    message = (
        f"{user.name} ({user.email}) was deactivated: {counted(count, 'upcoming event')} in "
        f"their Outlook calendar {'needs' if count == 1 else 'need'} a new organizer."
    )
    record(LogKind.DECISION, "organizer_left", message=message, user_id=user.pk)
    url = reverse("outlook:handover", args=[user.pk])
    for admin in User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk):
        notify(admin, message + " Hand them over from the Outlook sync dashboard.", url=url)
    return count


def on_reactivated(user: User, enqueue: queueing.Enqueue) -> int:
    """They are back: their parked events sync again, as them."""
    count = queueing.resume_owner(user.pk, enqueue, parked_as=LinkState.NEEDS_NEW_ORGANIZER)
    if count:
        record(
            LogKind.DECISION,
            "organizer_back",
            message=f"{user.name} was reactivated; {counted(count, 'parked event')} sync again.",
            user_id=user.pk,
        )
    return count


def waiting() -> list[tuple[User, int]]:
    """Deactivated people with upcoming events in their Outlook calendar, and how many."""
    rows = (
        CalendarLink.objects.filter(
            mode=Mode.ORGANIZER,
            event__created_by__is_active=False,
            event__status=EventStatus.SCHEDULED,
            event__end__gte=timezone.now(),
        )
        .exclude(state=LinkState.DELETED_IN_OUTLOOK)
        .values("event__created_by")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {row["event__created_by"]: row["n"] for row in rows}
    people = User.objects.filter(pk__in=counts).order_by("display_name", "email")
    return [(person, counts[person.pk]) for person in people]


# --- the signal on saving a person --------------------------------------------------------

_WAS_ACTIVE = "_convene_was_active"


def user_saving(sender: Any, instance: User, **kwargs: Any) -> None:
    """Remember whether the person was active before this save (pre_save)."""
    was = None
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and "is_active" not in update_fields:
        pass  # e.g. the last sign-in time: nothing to compare
    elif instance.pk is not None:
        was = User.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()
    setattr(instance, _WAS_ACTIVE, was)


def user_saved(instance: User, created: bool, enqueue: queueing.Enqueue) -> None:
    """Act on a deactivation or reactivation (post_save), in the save's transaction."""
    was = getattr(instance, _WAS_ACTIVE, None)
    if created or was is None or was == instance.is_active:
        return
    if not instance.is_active:
        on_deactivated(instance)
    else:
        on_reactivated(instance, enqueue)


# --- planning -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    target: str  # COORGANIZER, PERSON or PLATFORM
    person: User | None = None  # PERSON: who takes every event


@dataclass(frozen=True)
class Move:
    link: CalendarLink
    new_organizer: User


@dataclass(frozen=True)
class HandoverPlan:
    leaver: User
    choice: Choice
    destination: Destination
    moving: list[Move]
    # Upcoming events nobody eligible can take (no active co-organizer with Outlook).
    without_organizer: list[CalendarLink]
    past: int
    cancelled: int
    deleted: int
    people: int  # distinct people on the moving events (new invitation + cancellation)
    new_organizers: list[str] = field(default_factory=list)

    @property
    def staying(self) -> int:
        return self.past + self.cancelled + self.deleted

    @property
    def fingerprint(self) -> str:
        """Changes whenever what the admin saw changes (events, their copies, who takes them)."""
        parts = [self.choice.target, str(self.choice.person.pk if self.choice.person else "")]
        parts += [f"m{m.link.event_id}:{m.link.graph_id}:{m.new_organizer.pk}" for m in self.moving]
        parts += [f"w{link.event_id}" for link in self.without_organizer]
        return hashlib.sha256("|".join(sorted(parts)).encode()).hexdigest()[:32]


def platform_available(outlook: OutlookSettings) -> bool:
    """The platform calendar can take events: it is the calendar Convene uses now.

    Only then: events in the service mailbox have their replies read back and their changes
    synced only while platform mode is on, and switching to it tests it first.
    """
    return outlook.enabled and outlook.mode == Mode.PLATFORM and bool(outlook.service_mailbox)


def choice_from(target: str, person_email: str) -> Choice:
    """The admin's choice from the form's values, or ``HandoverRefused``."""
    if target not in TARGETS:
        raise HandoverRefused("Choose who takes the events over.")
    if target != PERSON:
        return Choice(target)
    if not person_email.strip():
        raise HandoverRefused("Type the email address of the person who takes every event.")
    person = User.objects.filter(email=normalize_email(person_email)).first()
    if person is None:
        raise HandoverRefused(f"Nobody with the email address {person_email.strip()} uses Convene.")
    return Choice(PERSON, person)


def plan(leaver: User, choice: Choice, *, actor: User) -> HandoverPlan:
    """What handing over ``leaver``'s events would do now (reads only)."""
    outlook = OutlookSettings.load()
    _check(leaver, choice, outlook)
    links = (
        CalendarLink.objects.filter(event__created_by=leaver, mode=Mode.ORGANIZER)
        .select_related("event")
        .order_by("event__start", "pk")
    )
    now = timezone.now()
    moving: list[Move] = []
    without: list[CalendarLink] = []
    past = cancelled = deleted = 0
    for link in links:
        if link.state == LinkState.DELETED_IN_OUTLOOK:
            deleted += 1
        elif link.event.end < now:
            past += 1
        elif link.event.status == EventStatus.CANCELLED:
            cancelled += 1
        elif (new := _new_organizer(link.event, leaver, choice, actor)) is not None:
            moving.append(Move(link, new))
        else:
            without.append(link)
    events = [m.link.event_id for m in moving]
    people = set(
        Enrollment.objects.filter(event_id__in=events)
        .exclude(user=leaver)
        .values_list("user_id", flat=True)
    ) | {m.new_organizer.pk for m in moving}
    return HandoverPlan(
        leaver=leaver,
        choice=choice,
        destination=Destination.current(),
        moving=moving,
        without_organizer=without,
        past=past,
        cancelled=cancelled,
        deleted=deleted,
        people=len(people),
        new_organizers=sorted({m.new_organizer.name for m in moving}),
    )


def _check(leaver: User, choice: Choice, outlook: OutlookSettings) -> None:
    if leaver.is_active:
        raise HandoverRefused(
            f"{leaver.name} is still active. Deactivate their account first; until then "
            "their events stay in their own calendar."
        )
    if not outlook.enabled:
        raise HandoverRefused("Outlook sync is switched off; there is nothing to hand over.")
    if choice.target == PLATFORM:
        if not platform_available(outlook):
            raise HandoverRefused(
                "The platform calendar is not in use: set it up and switch to it on the "
                "Microsoft Outlook page first (it is tested there), or hand the events to "
                "co-organizers."
            )
        return
    if outlook.mode != Mode.ORGANIZER:
        raise HandoverRefused(
            "Convene uses the platform calendar now, so events can only be handed over to it."
        )
    person = choice.person
    if choice.target == PERSON and person is not None:
        if person.pk == leaver.pk:
            raise HandoverRefused(f"{person.name} is the person who left; choose someone else.")
        if not person.is_active:
            raise HandoverRefused(f"{person.name}'s account is deactivated too.")
        if not can_create_events(person):
            raise HandoverRefused(
                f"{person.name} may not organize events (their role is "
                f"{person.get_role_display()}); give them the Organizer role first."
            )
        if usable_connection(person.pk) is None:
            raise HandoverRefused(
                f"{person.name} has not connected Outlook (or must reconnect it), so their "
                "calendar cannot hold the events yet. Ask them to connect it, then try again."
            )


def _new_organizer(event: Event, leaver: User, choice: Choice, actor: User) -> User | None:
    if choice.target == PERSON:
        return choice.person
    co_organizers = [
        enrollment.user
        for enrollment in Enrollment.objects.filter(event=event, role=EnrollmentRole.ORGANIZER)
        .exclude(user=leaver)
        .select_related("user")
        .order_by("created_at", "pk")
        if enrollment.user.is_active
    ]
    if choice.target == PLATFORM:
        # The platform calendar holds it; in Convene someone must still run it.
        return co_organizers[0] if co_organizers else actor
    for person in co_organizers:
        if can_create_events(person) and usable_connection(person.pk) is not None:
            return person
    return None


# --- starting the job ---------------------------------------------------------------------


@transaction.atomic
def start(
    leaver: User,
    choice: Choice,
    *,
    fingerprint: str | None,
    actor: User,
    enqueue_job: Callable[[int], None],
) -> Job:
    """Queue the handover the admin confirmed (``fingerprint``: the plan they saw)."""

    def prepare(the_plan: HandoverPlan) -> engine.NewJob:
        if not the_plan.moving:
            raise HandoverRefused(f"None of {leaver.name}'s events can be handed over this way.")
        origin = Destination(Mode.ORGANIZER, the_plan.destination.service_mailbox)
        return engine.NewJob(
            params={
                "from": asdict(origin),
                "to": asdict(the_plan.destination),
                "leaver": leaver.pk,
                "target": choice.target,
            },
            links=[m.link for m in the_plan.moving],
            to_organizers={m.link.event_id: m.new_organizer.pk for m in the_plan.moving},
            message=(
                f"Handing over {counted(len(the_plan.moving), 'upcoming event')} of "
                f"{leaver.name} to {', '.join(the_plan.new_organizers)} "
                f"({TARGETS[choice.target].lower()}); {len(the_plan.without_organizer)} without "
                "an eligible organizer and "
                f"{counted(the_plan.staying, 'past, cancelled or deleted event')} stay."
            ),
            details={"leaver": leaver.pk},
        )

    job = engine.start(
        Job.Kind.HANDOVER,
        partial(plan, leaver, choice, actor=actor),
        prepare,
        fingerprint=fingerprint,
        actor_id=actor.pk,
        enqueue_job=enqueue_job,
    )
    assert job is not None  # prepare never returns None
    return job


# --- what the move engine needs to know ---------------------------------------------------


class HandoverRules:
    name = "handover"

    def blocker(self, link: CalendarLink, step: MoveStep, destination: Destination) -> str:
        """The new organizer must still be able to take it; the leaver's calendar need not be
        reachable (an old copy Convene cannot cancel is recorded, not a reason to stay)."""
        if link.event.created_by_id != step.from_organizer_id:
            return "Someone else organizes it since the plan."
        new = step.to_organizer
        if new is None or not new.is_active:
            return "The chosen new organizer is no longer active."
        if destination.mode == Mode.ORGANIZER and usable_connection(new.pk) is None:
            return f"{new.name} must connect Outlook before their calendar can hold it."
        return ""

    def before_new_copy(self, step: MoveStep, event: Event) -> None:
        assert step.to_organizer is not None  # the blocker checked it
        previous = event_services.change_creator(event, step.to_organizer, former_role="")
        MoveStep.objects.filter(pk=step.pk).update(to_previous_role=previous)
        step.to_previous_role = previous
        # The answers belonged to the old copy; the new invitation asks everyone again.
        AttendeeReply.objects.filter(event=event).delete()
        record(
            LogKind.DECISION,
            "organizer_changed",
            message=(
                f"{step.to_organizer.name} organizes it now, instead of "
                f"{_name(step.from_organizer)}, who is no longer on it."
            ),
            event_id=event.pk,
            user_id=step.to_organizer_id,
            job=step.job_id,
        )

    def undo(self, step: MoveStep, event: Event) -> None:
        if step.from_organizer is None or event.created_by_id == step.from_organizer_id:
            return
        event_services.change_creator(event, step.from_organizer, former_role=step.to_previous_role)
        record(
            LogKind.DECISION,
            "organizer_changed",
            message=f"Handed back to {step.from_organizer.name}: the new calendar refused it.",
            event_id=event.pk,
            job=step.job_id,
        )

    def goodbye(self, link: CalendarLink, step: MoveStep, event: Event) -> str:
        return (
            f"{_name(step.from_organizer)} no longer organizes this event; "
            f"{event.created_by.name} does. You have a new invitation for it from "
            f"{where(link)}; this copy is cancelled."
        )

    def title(self, job: Job) -> str:
        leaver = User.objects.filter(pk=job.params.get("leaver")).first()
        if job.state == Job.State.DONE:
            return f"The events of {_name(leaver)} are handed over"
        return f"Handing over the events of {_name(leaver)}"


def _name(user: User | None) -> str:
    return user.name if user is not None else "The former organizer"


RULES = HandoverRules()
engine.register(Job.Kind.HANDOVER, RULES)
