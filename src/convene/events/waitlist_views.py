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
from convene.events.errors import EventError
from convene.events.models import Event

MANAGERS_ONLY = "Only the organizers of this event may manage its waitlist."
DIRECTIONS = {"up": "up", "down": "down"}


def _member(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _back_to_event(event: Event) -> HttpResponse:
    return redirect(f"{event.get_absolute_url()}#enrollment")


def _back_to_people(event: Event) -> HttpResponse:
    return redirect(f"{event.get_absolute_url()}people/#waitlist")


@require_POST
@login_required
def join(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    me = _member(request)
    try:
        entry = waitlist.join(event, me, actor=me)
    except EventError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(
            request,
            f"You are on the waitlist of “{event.title}”, number {waitlist.position(entry)}.",
        )
    return _back_to_event(event)


@require_POST
@login_required
def leave(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    me = _member(request)
    try:
        waitlist.leave(event, me, actor=me)
    except EventError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"You left the waitlist of “{event.title}”.")
    return _back_to_event(event)


@require_POST
@login_required
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    me = _member(request)
    try:
        waitlist.claim(event, me, actor=me)
    except EventError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"The place is yours: you are enrolled in “{event.title}”.")
    return _back_to_event(event)


@require_POST
@login_required
def move(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_manage_event(request.user, event), MANAGERS_ONLY)
    person = get_object_or_404(User, pk=user_pk)
    direction = DIRECTIONS.get(request.POST.get("direction", ""))
    if direction is None:
        messages.error(request, "Move someone up or down the waitlist.")
        return _back_to_people(event)
    try:
        now_at = waitlist.move(
            event, person, "up" if direction == "up" else "down", actor=_member(request)
        )
    except EventError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"{person.name} is now number {now_at} on the waitlist.")
    return _back_to_people(event)


@require_POST
@login_required
def promote(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_manage_event(request.user, event), MANAGERS_ONLY)
    person = get_object_or_404(User, pk=user_pk)
    try:
        promotion = waitlist.promote(event, person, actor=_member(request))
    except EventError as problem:
        messages.error(request, str(problem))
    else:
        raised = (
            f" The capacity was raised to {promotion.capacity_raised_to} to make room."
            if promotion.capacity_raised_to is not None
            else ""
        )
        messages.success(request, f"{person.name} has a place on the event now.{raised}")
    return _back_to_people(event)


@require_POST
@login_required
def remove(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_manage_event(request.user, event), MANAGERS_ONLY)
    person = get_object_or_404(User, pk=user_pk)
    try:
        waitlist.leave(event, person, actor=_member(request))
    except EventError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"{person.name} is off the waitlist.")
    return _back_to_people(event)
