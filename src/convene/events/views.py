"""Event pages. Thin: they read, check ``convene.permissions`` and call ``services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from convene import permissions
from convene.accounts.models import User
from convene.core.access import deny_unless, requires
from convene.core.extensions import event_form_gates
from convene.events import services
from convene.events.drafts import take_draft
from convene.events.errors import EventError, InvalidEvent
from convene.events.forms import AddPersonForm, CancelEventForm, ChangeRoleForm, EventForm
from convene.events.models import EnrollmentRole, Event, not_over

EVENTS_PER_PAGE = 10


def _member(request: HttpRequest) -> User:
    """The signed-in person (views that call this are behind login_required)."""
    assert isinstance(request.user, User)
    return request.user


@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    events = Event.objects.upcoming().search(query)
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "events/list.html", {"page": page, "query": query})


@login_required
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    enrollments = list(event.enrollments.select_related("user").order_by("user__display_name"))
    people = {
        role.label: [e.user for e in enrollments if e.role == role] for role in EnrollmentRole
    }
    mine = next((e for e in enrollments if e.user_id == request.user.pk), None)
    return render(
        request,
        "events/detail.html",
        {
            "event": event,
            "people": people,
            "my_enrollment": mine,
            "attendee_count": len(people[EnrollmentRole.ATTENDEE.label]),
            "is_full": event.is_full(),
        },
    )


def _bound_event_form(request: HttpRequest, event: Event | None) -> EventForm:
    """The form with what was just posted, or with a kept draft (see ``drafts``), or empty."""
    data = request.POST if request.method == "POST" else take_draft(request)
    if data is not None and request.method != "POST":
        messages.info(request, "Your changes were kept. Check them and save.")
    return EventForm(data, initial=EventForm.initial_for(event))


def _gate_response(request: HttpRequest, event: Event | None) -> HttpResponseBase | None:
    """The first response an installed app wants to send instead of saving, if any."""
    for gate in event_form_gates():
        response = gate(request, event)
        if response is not None:
            return response
    return None


@requires(permissions.can_create_events)
def event_create(request: HttpRequest) -> HttpResponseBase:
    form = _bound_event_form(request, None)
    if request.method == "POST" and form.is_valid():
        if (gated := _gate_response(request, None)) is not None:
            return gated
        try:
            event = services.create_event(form.details(), creator=_member(request))
        except InvalidEvent as problem:
            form.add_error(problem.field, str(problem))
        else:
            messages.success(request, f"“{event.title}” is scheduled.")
            return redirect(event)
    return render(request, "events/form.html", {"form": form, "event": None})


@login_required
def event_edit(request: HttpRequest, pk: int) -> HttpResponseBase:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_edit_event(request.user, event))
    if event.is_cancelled:
        messages.error(request, "This event has been cancelled and can no longer be edited.")
        return redirect(event)
    form = _bound_event_form(request, event)
    if request.method == "POST" and form.is_valid():
        if (gated := _gate_response(request, event)) is not None:
            return gated
        try:
            changed = services.update_event(event, form.details(), actor=_member(request))
        except InvalidEvent as problem:
            form.add_error(problem.field, str(problem))
        except EventError as problem:
            messages.error(request, str(problem))
            return redirect(event)
        else:
            messages.success(request, "Event saved." if changed else "Nothing to save: no changes.")
            return redirect(event)
    return render(request, "events/form.html", {"form": form, "event": event})


@login_required
def event_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_cancel_event(request.user, event))
    if event.is_cancelled:
        messages.info(request, "This event is already cancelled.")
        return redirect(event)
    form = CancelEventForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.cancel_event(event, actor=_member(request), reason=form.cleaned_data["reason"])
        except EventError as problem:
            messages.error(request, str(problem))
        else:
            messages.success(request, f"“{event.title}” is cancelled.")
        return redirect(event)
    return render(request, "events/cancel.html", {"form": form, "event": event})


@require_POST
@login_required
def enroll(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    try:
        services.enroll(event, _member(request), actor=_member(request))
    except EventError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"You are enrolled in “{event.title}”.")
    return redirect(event)


@require_POST
@login_required
def unenroll(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    try:
        services.unenroll(event, _member(request), actor=_member(request), reason="Left in Convene")
    except EventError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"You are no longer on “{event.title}”.")
    return redirect(event)


@login_required
def people(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_manage_event(request.user, event))
    form = AddPersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            enrollment = services.add_person_by_email(
                event,
                form.cleaned_data["email"],
                EnrollmentRole(form.cleaned_data["role"]),
                actor=_member(request),
            )
        except EventError as problem:
            form.add_error("email", str(problem))
        else:
            messages.success(
                request,
                f"{enrollment.user.name} added as {enrollment.get_role_display().lower()}.",
            )
            return redirect("events:people", pk=event.pk)
    enrollments = event.enrollments.select_related("user").order_by("role", "user__email")
    return render(
        request,
        "events/people.html",
        {"event": event, "form": form, "enrollments": enrollments, "roles": EnrollmentRole.choices},
    )


@require_POST
@login_required
def remove_person(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_manage_event(request.user, event))
    person = get_object_or_404(User, pk=user_pk)
    try:
        services.unenroll(event, person, actor=_member(request), reason="Removed by an organizer")
    except EventError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"{person.name} removed from the event.")
    return redirect("events:people", pk=event.pk)


@require_POST
@login_required
def change_role(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_manage_event(request.user, event))
    person = get_object_or_404(User, pk=user_pk)
    form = ChangeRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles in the list.")
        return redirect("events:people", pk=event.pk)
    try:
        enrollment = services.change_role(
            event, person, EnrollmentRole(form.cleaned_data["role"]), actor=_member(request)
        )
    except EventError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"{person.name} is now {enrollment.get_role_display().lower()}.")
    return redirect("events:people", pk=event.pk)


@login_required
def my_events(request: HttpRequest) -> HttpResponse:
    mine = (
        _member(request)
        .enrollments.filter(not_over(timezone.now(), "event__"))
        .select_related("event")
        .order_by("event__start")
    )
    groups = [
        (role.label, [e.event for e in mine if e.role == role])
        for role in (EnrollmentRole.ORGANIZER, EnrollmentRole.PRESENTER, EnrollmentRole.ATTENDEE)
    ]
    return render(
        request,
        "events/mine.html",
        {"groups": groups},
    )
