"""The waitlist of a full event: people waiting for a place, in order, and how a freed place
reaches them.

A waitlist is ordered state beside enrollment. Everything here runs in a transaction that holds
the event's row lock (``select_for_update``), as enrolling does, so a place freed by a decline in
Outlook, a hand promotion and a second freed place are decided one after another: never more
attendees than the capacity, nobody promoted twice, nobody skipped.

A place frees when someone leaves or is removed (``services.unenroll``, also called for a
decline in Outlook), an attendee becomes a presenter or organizer, or the capacity is raised:
``fill_freed_places`` listens to those changes *inside* their transaction and, in the same
transaction, either enrolls the first person waiting (the default) or, when an admin set a claim
window (``SiteSettings.waitlist_claim_hours``), holds the place for them until they claim it; the
periodic ``expire_offers`` then passes an unclaimed place to the next person. Enrolling from the
waitlist announces an ordinary ``ENROLLED`` change, so calendar integrations invite the person
the usual way; people waiting are never attendees anywhere else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from convene import permissions
from convene.accounts.models import User
from convene.core.models import SiteSettings
from convene.core.notices import notify
from convene.events.changes import ChangeKind, EventChange, announce
from convene.events.errors import (
    AlreadyEnrolled,
    EventCancelled,
    EventOver,
    NotAllowed,
    WaitlistError,
)
from convene.events.models import (
    Enrollment,
    EnrollmentRole,
    Event,
    EventStatus,
    WaitlistEntry,
    WaitlistPromotion,
)
from convene.events.timezones import to_local

log = logging.getLogger(__name__)

FROM_WAITLIST = "From the waitlist"
How = WaitlistPromotion.How

# Changes after which a place may be free.
_FREEING = {ChangeKind.UNENROLLED, ChangeKind.ROLE_CHANGED}
# Changes that put people on the event: they stop waiting.
_JOINING = {ChangeKind.ENROLLED, ChangeKind.ROLE_CHANGED, ChangeKind.CREATOR_CHANGED}


@dataclass(frozen=True)
class Promotion:
    """A hand promotion: the new enrollment, and the capacity if it was raised to make room."""

    enrollment: Enrollment
    capacity_raised_to: int | None


# --- reading -------------------------------------------------------------------------------


def has_waitlist(event: Event) -> bool:
    """People may join this event's waitlist when it is full."""
    return event.waitlist_enabled and event.capacity is not None


def waiting(event: Event) -> list[WaitlistEntry]:
    """Everyone waiting, first first, with their person."""
    return list(event.waitlist.select_related("user"))


def entry_of(event: Event, user: User) -> WaitlistEntry | None:
    return event.waitlist.filter(user=user).first()


def position(entry: WaitlistEntry) -> int:
    """1 for the first person waiting."""
    ahead = WaitlistEntry.objects.filter(event_id=entry.event_id).filter(
        Q(position__lt=entry.position) | Q(position=entry.position, pk__lt=entry.pk)
    )
    return ahead.count() + 1


def has_open_offer(entry: WaitlistEntry, now: datetime | None = None) -> bool:
    return entry.offered_until is not None and entry.offered_until > (now or timezone.now())


def freed_place_words(event: Event, since: datetime) -> str:
    """What became of a place freed since ``since``, as a sentence for the organizer (empty
    when nobody was waiting)."""
    promoted = [p.user.name for p in event.promotions.filter(at__gte=since).select_related("user")]
    if promoted:
        return f"{', '.join(promoted)}, first on the waitlist, has their place."
    if event.waitlist.filter(offered_until__gt=timezone.now()).exists():
        return "Their place is offered to the first person on the waitlist."
    return ""


# --- people's own actions -------------------------------------------------------------------


@transaction.atomic
def join(event: Event, user: User, *, actor: User | None) -> WaitlistEntry:
    """``user`` waits for a place on the full ``event``, after everyone already waiting."""
    if actor is not None:
        _require(permissions.can_enroll(actor), "Sign in to join the waitlist.")
        if actor.pk != user.pk:
            _require(
                permissions.can_manage_event(actor, event),
                "You may not put other people on the waitlist.",
            )
    current = _locked(event)
    _ensure_open(current)
    if not has_waitlist(current):
        raise WaitlistError("This event has no waitlist.")
    if current.enrollment_of(user) is not None:
        raise AlreadyEnrolled(f"{_who(user, actor)} already on this event.")
    existing = entry_of(current, user)
    if existing is not None:
        raise WaitlistError(
            f"{_who(user, actor)} already on the waitlist (number {position(existing)})."
        )
    if current.seats_left():
        raise WaitlistError("There are places free: enroll instead.")
    last = current.waitlist.aggregate(last=Max("position"))["last"] or 0
    return WaitlistEntry.objects.create(event=current, user=user, position=last + 1)


@transaction.atomic
def leave(event: Event, user: User, *, actor: User | None) -> None:
    """``user`` stops waiting (themselves, or removed by a manager). A place held for them
    goes to the next person."""
    if actor is not None and actor.pk != user.pk:
        _require(
            permissions.can_manage_event(actor, event),
            "You may not remove other people from the waitlist.",
        )
    current = _locked(event)
    entry = entry_of(current, user)
    if entry is None:
        raise WaitlistError(f"{_who(user, actor)} not on the waitlist.")
    entry.delete()
    if actor is not None and actor.pk != user.pk:
        notify(
            user,
            f"An organizer took you off the waitlist of “{current.title}”.",
            url=_absolute(current),
        )
    _fill(current)


@transaction.atomic
def claim(event: Event, user: User, *, actor: User | None) -> Enrollment:
    """``user`` takes the place offered to them (claim window)."""
    if actor is not None:
        _require(actor.pk == user.pk, "Only the person offered a place may claim it.")
    current = _locked(event)
    _ensure_open(current)
    entry = entry_of(current, user)
    if entry is None:
        raise WaitlistError(f"{_who(user, actor)} not on the waitlist.")
    if entry.offered_until is None:
        raise WaitlistError(
            f"No place has been offered yet: {_who(user, actor).lower()} number "
            f"{position(entry)} on the waitlist."
        )
    if not has_open_offer(entry):
        raise WaitlistError(
            f"The offer ended at {_local(current, entry.offered_until)}: the place goes to "
            "the next person waiting."
        )
    return _give_place(current, entry, How.CLAIMED, actor)


# --- organizers -----------------------------------------------------------------------------


@transaction.atomic
def move(event: Event, user: User, direction: Literal["up", "down"], *, actor: User | None) -> int:
    """Move ``user`` one place up (earlier) or down; returns their new position."""
    if actor is not None:
        _require(permissions.can_manage_event(actor, event), "You may not manage this event.")
    current = _locked(event)
    entries = list(current.waitlist.all())
    index = next((i for i, e in enumerate(entries) if e.user_id == user.pk), None)
    if index is None:
        raise WaitlistError(f"{user.name} is not on the waitlist.")
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(entries):
        raise WaitlistError(
            f"{user.name} is already {'first' if direction == 'up' else 'last'} on the waitlist."
        )
    entries[index], entries[other] = entries[other], entries[index]
    # Renumbered 1..n in the new order: positions stay distinct whatever came before.
    for number, entry in enumerate(entries, start=1):
        entry.position = number
    WaitlistEntry.objects.bulk_update(entries, ["position"])
    return other + 1


@transaction.atomic
def promote(event: Event, user: User, *, actor: User | None) -> Promotion:
    """An organizer gives ``user`` a place now, ahead of the order. When no place is free, the
    capacity is raised by one to make it (said to the organizer): promoting never puts more
    attendees on the event than its capacity."""
    if actor is not None:
        _require(permissions.can_manage_event(actor, event), "You may not manage this event.")
    current = _locked(event)
    _ensure_open(current)
    entry = entry_of(current, user)
    if entry is None:
        raise WaitlistError(
            f"{user.name} is not on the waitlist (any more): they may have had a place already."
        )
    raised_to = None
    if current.capacity is not None:
        # The person's own held place (an open offer) is theirs to take.
        taken = current.places_taken() - (1 if has_open_offer(entry) else 0)
        if taken >= current.capacity:
            raised_to = taken + 1
    enrollment = _give_place(current, entry, How.BY_HAND, actor)
    if raised_to is not None:
        current.capacity = raised_to
        current.save(update_fields=["capacity", "updated_at"])
        announce(
            EventChange(
                event_id=current.pk,
                kind=ChangeKind.UPDATED,
                changed_fields=frozenset({"capacity"}),
                actor_id=actor.pk if actor else None,
            )
        )
    event.capacity = current.capacity
    return Promotion(enrollment=enrollment, capacity_raised_to=raised_to)


# --- places freed ---------------------------------------------------------------------------


def fill_freed_places(sender: object, change: EventChange, **kwargs: object) -> None:
    """``event_change_recorded`` receiver: inside the change's own transaction, people who
    joined the event stop waiting and a freed place goes to the first person waiting, so a
    place never stays empty while someone waits (and never leaks to a later enrollment)."""
    if change.kind in _JOINING and change.affected_user_ids:
        WaitlistEntry.objects.filter(
            event_id=change.event_id, user_id__in=change.affected_user_ids
        ).delete()
    if change.kind == ChangeKind.CANCELLED:
        _close(change.event_id)
        return
    freeing = change.kind in _FREEING or (
        change.kind == ChangeKind.UPDATED and "capacity" in change.changed_fields
    )
    if freeing and WaitlistEntry.objects.filter(event_id=change.event_id).exists():
        _fill(Event.objects.select_for_update().get(pk=change.event_id))


def _close(event_id: int) -> None:
    """The event is cancelled: nobody waits for it any more, and everyone waiting is told."""
    entries = list(WaitlistEntry.objects.filter(event_id=event_id).select_related("user", "event"))
    for entry in entries:
        notify(
            entry.user,
            f"“{entry.event.title}” was cancelled, so its waitlist is closed.",
            url=_absolute(entry.event),
            email_subject=f"Cancelled: {entry.event.title}",
        )
    WaitlistEntry.objects.filter(pk__in=[e.pk for e in entries]).delete()


def expire_offers(now: datetime | None = None) -> int:
    """Offers not claimed in time end: the person leaves the waitlist (told so) and the place
    goes to the next person. Returns how many ended. Each event in its own transaction."""
    now = now or timezone.now()
    due = set(
        WaitlistEntry.objects.filter(offered_until__lte=now).values_list("event_id", flat=True)
    )
    ended = 0
    for event_id in sorted(due):
        with transaction.atomic():
            event = Event.objects.select_for_update().get(pk=event_id)
            # Read again under the lock: another worker may have handled it already.
            for entry in event.waitlist.filter(offered_until__lte=now).select_related("user"):
                entry.delete()
                ended += 1
                assert entry.offered_until is not None  # filtered on it
                notify(
                    entry.user,
                    f"The place offered to you on “{event.title}” was not claimed by "
                    f"{_local(event, entry.offered_until)}, so it went to the next person "
                    "waiting. You are no longer on its waitlist.",
                    url=_absolute(event),
                    email_subject=f"Offer ended: {event.title}",
                )
            _fill(event)
    return ended


def _fill(event: Event) -> None:
    """Give (or offer) every free place to the people waiting, first first. The caller holds
    the event's row lock."""
    if event.status != EventStatus.SCHEDULED or event.is_over:
        return
    hours = SiteSettings.load().waitlist_claim_hours
    while True:
        if event.capacity is not None and event.places_taken() >= event.capacity:
            return
        entry = event.waitlist.filter(offered_until__isnull=True).select_related("user").first()
        if entry is None:
            return
        if hours:
            _offer(event, entry, hours)
        else:
            _give_place(event, entry, How.AUTOMATIC, None)


def _offer(event: Event, entry: WaitlistEntry, hours: int) -> None:
    entry.offered_until = timezone.now() + timedelta(hours=hours)
    entry.save(update_fields=["offered_until"])
    notify(
        entry.user,
        f"A place on “{event.title}” is free for you until "
        f"{_local(event, entry.offered_until)}. Claim it on the event page before then; "
        "after that it goes to the next person waiting.",
        url=_absolute(event),
        email_subject=f"A place for you: {event.title}",
    )


def _give_place(
    event: Event, entry: WaitlistEntry, how: WaitlistPromotion.How, actor: User | None
) -> Enrollment:
    user = entry.user
    entry.delete()
    enrollment = Enrollment.objects.create(event=event, user=user, role=EnrollmentRole.ATTENDEE)
    WaitlistPromotion.objects.create(event=event, user=user, how=how)
    announce(
        EventChange(
            event_id=event.pk,
            kind=ChangeKind.ENROLLED,
            affected_user_ids=frozenset({user.pk}),
            actor_id=actor.pk if actor else None,
            reason=FROM_WAITLIST,
        )
    )
    why = {
        How.AUTOMATIC: "a place freed and you were first on the waitlist",
        How.CLAIMED: "you claimed the place offered to you",
        How.BY_HAND: "an organizer gave you a place from the waitlist",
    }[how]
    if how != How.CLAIMED:
        notify(
            user,
            f"You have a place on “{event.title}”: {why}. It is in your events now, and in "
            "your calendar when the calendar integration is on.",
            url=_absolute(event),
            email_subject=f"You have a place: {event.title}",
        )
    log.info("Waitlist: user %s enrolled in event %s (%s)", user.pk, event.pk, how)
    return enrollment


# --- helpers --------------------------------------------------------------------------------


def _locked(event: Event) -> Event:
    return Event.objects.select_for_update().get(pk=event.pk)


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise NotAllowed(message)


def _ensure_open(event: Event) -> None:
    if event.status == EventStatus.CANCELLED:
        raise EventCancelled("This event has been cancelled.")
    if event.is_over:
        raise EventOver("This event is over: nobody can join it any more.")


def _who(user: User, actor: User | None) -> str:
    return "You are" if actor is not None and actor.pk == user.pk else f"{user.name} is"


def _local(event: Event, moment: datetime) -> str:
    local = to_local(moment, event.timezone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _absolute(event: Event) -> str:
    return f"{settings.PUBLIC_URL}{event.get_absolute_url()}"
