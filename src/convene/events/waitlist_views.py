"""Waitlist pages' actions: join, leave and claim (the person), reorder, promote and remove
(the event's organizers). Thin: they check ``convene.permissions`` and call ``waitlist``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from convene import permissions
from convene.accounts.models import User
from convene.core.access import deny_unless
from convene.events import waitlist
from convene.events.models import Event
from convene.events.outcome_messages import report_outcome

MANAGERS_ONLY = "Only the organizers of this event may manage its waitlist."
DIRECTIONS = {"up": "up", "down": "down"}


def _member(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _event_and_me(request: HttpRequest, pk: int) -> tuple[Event, User]:
    """The event and the signed-in person acting on their own place on its waitlist."""
    return get_object_or_404(Event, pk=pk), _member(request)


def _managed_event_and_person(request: HttpRequest, pk: int, user_pk: int) -> tuple[Event, User]:
    """The event and the person an organizer acts on; anyone else is refused (403)."""
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_manage_event(request.user, event), MANAGERS_ONLY)
    return event, get_object_or_404(User, pk=user_pk)


def _back_to_event(event: Event) -> HttpResponse:
    return redirect(f"{event.get_absolute_url()}#enrollment")


def _back_to_people(event: Event) -> HttpResponse:
    return redirect(f"{event.get_absolute_url()}people/#waitlist")


@require_POST
@login_required
def join(request: HttpRequest, pk: int) -> HttpResponse:
    event, me = _event_and_me(request, pk)
    report_outcome(
        request,
        lambda: waitlist.join(event, me, actor=me),
        lambda entry: (
            f"You are on the waitlist of “{event.title}”, number {waitlist.position(entry)}."
        ),
    )
    return _back_to_event(event)


@require_POST
@login_required
def leave(request: HttpRequest, pk: int) -> HttpResponse:
    event, me = _event_and_me(request, pk)
    report_outcome(
        request,
        lambda: waitlist.leave(event, me, actor=me),
        f"You left the waitlist of “{event.title}”.",
    )
    return _back_to_event(event)


@require_POST
@login_required
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    event, me = _event_and_me(request, pk)
    report_outcome(
        request,
        lambda: waitlist.claim(event, me, actor=me),
        f"The place is yours: you are enrolled in “{event.title}”.",
    )
    return _back_to_event(event)


@require_POST
@login_required
def move(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    event, person = _managed_event_and_person(request, pk, user_pk)
    direction = DIRECTIONS.get(request.POST.get("direction", ""))
    if direction is None:
        messages.error(request, "Move someone up or down the waitlist.")
        return _back_to_people(event)
    report_outcome(
        request,
        lambda: waitlist.move(
            event, person, "up" if direction == "up" else "down", actor=_member(request)
        ),
        lambda now_at: f"{person.name} is now number {now_at} on the waitlist.",
    )
    return _back_to_people(event)


def _promoted(person: User, promotion: waitlist.Promotion) -> str:
    raised = (
        f" The capacity was raised to {promotion.capacity_raised_to} to make room."
        if promotion.capacity_raised_to is not None
        else ""
    )
    return f"{person.name} has a place on the event now.{raised}"


@require_POST
@login_required
def promote(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    event, person = _managed_event_and_person(request, pk, user_pk)
    report_outcome(
        request,
        lambda: waitlist.promote(event, person, actor=_member(request)),
        lambda promotion: _promoted(person, promotion),
    )
    return _back_to_people(event)


@require_POST
@login_required
def remove(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    event, person = _managed_event_and_person(request, pk, user_pk)
    report_outcome(
        request,
        lambda: waitlist.leave(event, person, actor=_member(request)),
        f"{person.name} is off the waitlist.",
    )
    return _back_to_people(event)
