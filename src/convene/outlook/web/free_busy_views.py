"""The double-booking warning, asked by htmx from the event form, the room picker and the event
page (for the person about to enroll). Thin: reads what was typed, asks ``free_busy``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from convene import permissions
from convene.accounts.models import User
from convene.events import series
from convene.events.models import EnrollmentRole, Event
from convene.events.timezones import LocalTimeError, localize
from convene.outlook import free_busy
from convene.outlook.models import OutlookSettings, Room

_MUST_ATTEND = (EnrollmentRole.ORGANIZER, EnrollmentRole.PRESENTER)


@require_POST
@login_required
def free_busy_warning(request: HttpRequest) -> HttpResponse:
    """Who among the event's co-organizers, presenters and room is busy at the typed time."""
    asker = request.user
    assert isinstance(asker, User)
    if not permissions.can_create_events(asker):
        raise PermissionDenied
    event = _event(request.POST.get("event", ""))
    if event is not None and not permissions.can_edit_event(asker, event):
        raise PermissionDenied
    session = _typed_session(request.POST, event)
    if session is None:
        return HttpResponse("")
    attendees: list[free_busy.Attendee] = []
    if event is not None:
        for enrollment in event.enrollments.select_related("user").filter(role__in=_MUST_ATTEND):
            if enrollment.user_id != asker.pk:
                attendees.append(free_busy.Attendee(enrollment.user.email, enrollment.user.name))
    room = _room(request.POST.get("room", ""), event)
    if room is not None:
        attendees.append(free_busy.Attendee(room.email, room.name))
    itself = free_busy.Itself(event.title, event.start, event.end) if event is not None else None
    return _answer(request, asker, attendees, [session], own=False, itself=itself)


@require_GET
@login_required
def my_free_busy(request: HttpRequest, event_id: int) -> HttpResponse:
    """A gentle note for a person about to enroll whose own calendar is busy then."""
    asker = request.user
    assert isinstance(asker, User)
    event = get_object_or_404(Event, pk=event_id)
    mine = [free_busy.Attendee(asker.email, "You")]
    itself = free_busy.Itself(event.title, event.start, event.end)
    return _answer(request, asker, mine, [(event.start, event.end)], own=True, itself=itself)


@require_POST
@login_required
def people_free_busy(request: HttpRequest, event_id: int) -> HttpResponse:
    """On Manage people: whether the co-organizer or presenter about to be added is busy at
    the event's time (for a series, in which of its coming sessions). Attendees chose to
    come: they are not asked about."""
    asker = request.user
    assert isinstance(asker, User)
    event = get_object_or_404(Event, pk=event_id)
    if not permissions.can_manage_event(asker, event):
        raise PermissionDenied
    email = request.POST.get("email", "").strip().lower()
    if request.POST.get("role", "") not in _MUST_ATTEND or event.is_cancelled:
        return HttpResponse("")
    try:
        validate_email(email)
    except ValidationError:
        return HttpResponse("")
    person = User.objects.filter(email__iexact=email).first()
    if person is not None and event.enrollments.filter(user=person, role__in=_MUST_ATTEND).exists():
        return HttpResponse("")  # already there: nothing new to warn about
    sessions = [
        (session.start, session.end)
        for session in series.sessions(event)
        if not session.is_past and not session.is_cancelled
    ]
    if not sessions:
        return HttpResponse("")
    who = free_busy.Attendee(email, person.name if person is not None else email)
    itself = free_busy.Itself(event.title, event.start, event.end)
    return _answer(request, asker, [who], sessions, own=False, itself=itself, still="add them")


def _answer(
    request: HttpRequest,
    asker: User,
    attendees: list[free_busy.Attendee],
    sessions: list[tuple[datetime, datetime]],
    *,
    own: bool,
    itself: free_busy.Itself | None,
    still: str = "save",
) -> HttpResponse:
    client = free_busy.client_for(asker, OutlookSettings.load())
    if client is None or not attendees:
        return HttpResponse("")
    found = free_busy.check(client, attendees, sessions, itself=itself)
    context: dict[str, Any] = {
        "check": found,
        "own": own,
        "by_person": _by_person(found),
        "still": still,
    }
    return render(request, "outlook/_free_busy.html", context)


def _by_person(found: free_busy.Check) -> list[tuple[str, str, list[int]]]:
    """(who, how, which sessions, 1-based) for each person or room that clashes."""
    seen: dict[tuple[str, str], list[int]] = {}
    for clash in found.clashes:
        seen.setdefault((clash.label, clash.state), []).append(clash.session + 1)
    return [(label, state, sessions) for (label, state), sessions in seen.items()]


def _event(raw: str) -> Event | None:
    return Event.objects.filter(pk=int(raw)).first() if raw.isdigit() else None


def _room(raw: str, event: Event | None) -> Room | None:
    if raw.isdigit():
        return Room.objects.filter(pk=int(raw), offered=True, listed=True).first()
    if event is not None and not raw:
        booking = getattr(event, "room_booking", None)
        return booking.room if booking is not None else None
    return None


def _typed_session(
    data: Mapping[str, str], event: Event | None
) -> tuple[datetime, datetime] | None:
    """The start and end typed in the form (local, in its time zone), else the event's."""
    zone = data.get("timezone") or (event.timezone if event is not None else "")
    raw_start, raw_end = data.get("start", ""), data.get("end", "")
    if raw_start and raw_end and zone:
        try:
            start = localize(datetime.fromisoformat(raw_start), zone)
            end = localize(datetime.fromisoformat(raw_end), zone)
        except (ValueError, LocalTimeError, KeyError):
            return None
        return (start, end) if end > start else None
    if event is not None:
        return event.start, event.end
    return None
