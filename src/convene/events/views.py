"""Event pages. Thin: they read, check ``convene.permissions`` and call ``services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from convene import permissions
from convene.accounts.models import User
from convene.core.access import deny_unless, requires
from convene.core.extensions import event_form_gates, event_form_notes
from convene.events import services
from convene.events.drafts import draft_key, drop_draft, read_draft
from convene.events.errors import EventError, InvalidEvent, UnknownPerson
from convene.events.forms import AddPersonForm, CancelEventForm, ChangeRoleForm, EventForm
from convene.events.models import EnrollmentRole, Event

EVENTS_PER_PAGE = 10
MANAGERS_ONLY = "Only the organizers of this event may manage who is on it."
# Organizers first, then presenters, then attendees (not the roles' alphabetical order).
ROLE_ORDER = Case(
    *(When(role=role, then=Value(rank)) for rank, role in enumerate(EnrollmentRole)),
    output_field=IntegerField(),
)


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
    data = request.POST if request.method == "POST" else read_draft(request)
    return EventForm(
        data, initial=EventForm.initial_for(event), planner_zone=_member(request).time_zone
    )


def _gate_response(request: HttpRequest, event: Event | None) -> HttpResponseBase | None:
    """The first response an installed app wants to send instead of saving, if any."""
    for gate in event_form_gates():
        response = gate(request, event)
        if response is not None:
            return response
    return None


@requires(
    permissions.can_create_events,
    "Only organizers and admins may create events here; an admin can open event creation "
    "to everyone in Site settings.",
)
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
            drop_draft(request, draft_key(request))
            messages.success(request, f"“{event.title}” is scheduled.")
            return redirect(event)
    return _render_form(request, form, None)


@login_required
def event_edit(request: HttpRequest, pk: int) -> HttpResponseBase:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(
        permissions.can_edit_event(request.user, event),
        "Only the organizers of this event may edit it.",
    )
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
            drop_draft(request, draft_key(request))
            messages.success(request, "Event saved." if changed else "Nothing to save: no changes.")
            return redirect(event)
    return _render_form(request, form, event)


def _render_form(request: HttpRequest, form: EventForm, event: Event | None) -> HttpResponse:
    """The event form; with the draft it was filled from, if any (which it offers to discard),
    and what installed apps want said beside the Save button."""
    return render(
        request,
        "events/form.html",
        {
            "form": form,
            "event": event,
            "draft": draft_key(request),
            "save_notes": [
                note for explain in event_form_notes() if (note := explain(request, event))
            ],
        },
    )


@require_POST
@login_required
def discard_draft(request: HttpRequest) -> HttpResponse:
    """Forget a kept draft and show the form it came from as it was before."""
    back = request.POST.get("form", "")
    drop_draft(request, request.POST.get("draft", ""))
    messages.info(request, "What you had typed was discarded.")
    if back == "create" or not back.isdigit():
        return redirect("events:create")
    return redirect("events:edit", pk=int(back))


@login_required
def event_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(
        permissions.can_cancel_event(request.user, event),
        "Only the organizers of this event may cancel it.",
    )
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
    deny_unless(permissions.can_manage_event(request.user, event), MANAGERS_ONLY)
    form = AddPersonForm(request.POST or None)
    # An address nobody uses yet, which the page offers to invite, and the role chosen for it.
    invitable, invitable_role = "", ""
    if request.method == "POST" and form.is_valid():
        email, inviting = form.cleaned_data["email"], form.cleaned_data["invite"]
        role = EnrollmentRole(form.cleaned_data["role"])
        try:
            if inviting:
                enrollment = services.invite_person(
                    event,
                    email,
                    role,
                    actor=_member(request),
                    site_url=request.build_absolute_uri("/"),
                )
            else:
                enrollment = services.add_person_by_email(
                    event, email, role, actor=_member(request)
                )
        except UnknownPerson as problem:
            form.add_error("email", str(problem))
            if not inviting:
                invitable, invitable_role = email, role
        except EventError as problem:
            form.add_error("email", str(problem))
        else:
            invited = (
                " They have been emailed a link to choose a password."
                if enrollment.user.is_invited
                else ""
            )
            messages.success(
                request,
                f"{enrollment.user.name} added as {enrollment.get_role_display().lower()}."
                + invited,
            )
            return redirect("events:people", pk=event.pk)
    enrollments = event.enrollments.select_related("user").order_by(
        ROLE_ORDER, "user__display_name", "user__email"
    )
    return render(
        request,
        "events/people.html",
        {
            "event": event,
            "form": form,
            "enrollments": enrollments,
            "roles": EnrollmentRole.choices,
            "invitable": invitable,
            "invitable_role": invitable_role,
        },
    )


@require_POST
@login_required
def remove_person(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_manage_event(request.user, event), MANAGERS_ONLY)
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
    deny_unless(permissions.can_manage_event(request.user, event), MANAGERS_ONLY)
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


MY_EVENTS_TABS = {"upcoming": "Upcoming", "past": "Past"}


@login_required
def my_events(request: HttpRequest) -> HttpResponse:
    """The person's events by role: upcoming ones soonest first, or (the Past tab) the ones
    that have ended, latest first."""
    tab = request.GET.get("when", "upcoming")
    if tab not in MY_EVENTS_TABS:
        tab = "upcoming"
    now = timezone.now()
    mine = _member(request).enrollments.select_related("event")
    if tab == "past":
        mine = mine.filter(event__end__lt=now).order_by("-event__start")
    else:
        mine = mine.filter(event__end__gte=now).order_by("event__start")
    groups = [
        (role.label, [e.event for e in mine if e.role == role])
        for role in (EnrollmentRole.ORGANIZER, EnrollmentRole.PRESENTER, EnrollmentRole.ATTENDEE)
    ]
    return render(
        request,
        "events/mine.html",
        {"groups": groups, "tab": tab, "tabs": MY_EVENTS_TABS},
    )
