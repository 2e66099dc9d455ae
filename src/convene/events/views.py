"""Event pages. Thin: they read, check ``convene.permissions`` and call ``services``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from convene import permissions
from convene.accounts.models import User
from convene.core.access import deny_unless, requires
from convene.core.extensions import event_form_gates, event_form_notes
from convene.events import roster, series, services
from convene.events.drafts import draft_key, drop_draft, read_draft
from convene.events.errors import EventError, InvalidEvent, UnknownPerson
from convene.events.forms import AddPersonForm, CancelEventForm, ChangeRoleForm, EventForm
from convene.events.models import EnrollmentRole, Event, not_over
from convene.events.outcome_messages import report_outcome
from convene.events.recurrence import Rule
from convene.events.series_forms import RepeatForm

EVENTS_PER_PAGE = 10
MANAGERS_ONLY = "Only the organizers of this event may manage who is on it."


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
    # Counts and the first few people of each role: the same queries for 20 people or 20,000.
    people = roster.short_lists(event)
    attendees = next(group.count for group in people if group.role == EnrollmentRole.ATTENDEE)
    mine = event.enrollments.filter(user=_member(request)).first()
    missing = series.misses_by_session(event)
    my_misses = {
        on
        for on, misses in missing.items()
        if any(m.enrollment.user_id == request.user.pk for m in misses)
    }
    return render(
        request,
        "events/detail.html",
        {
            "event": event,
            "sessions": [
                (s, missing.get(s.on, []), s.on in my_misses) for s in series.sessions(event)
            ]
            if series.is_series(event)
            else [],
            "series_words": series.describe_series(event),
            "people": people,
            "my_enrollment": mine,
            "attendee_count": attendees,
            "is_full": event.is_full(),
        },
    )


def _bound_event_form(request: HttpRequest, event: Event | None) -> tuple[EventForm, RepeatForm]:
    """The form (and how the event repeats) with what was just posted, or with a kept draft
    (see ``drafts``), or empty."""
    data = request.POST if request.method == "POST" else read_draft(request)
    return (
        EventForm(
            data, initial=EventForm.initial_for(event), planner_zone=_member(request).time_zone
        ),
        RepeatForm(data, prefix="repeat", initial=RepeatForm.initial_for(event)),
    )


def _previewed(
    request: HttpRequest, form: EventForm, repeat: RepeatForm, event: Event | None
) -> dict[str, Any] | None:
    """What the form shows before saving: the sessions of the rule, in words and as a list,
    and (editing a series) what a new pattern does to sessions already changed. None when the
    form should be saved now: no preview asked for and nothing to confirm."""
    rule = repeat.rule()
    asked = "preview" in request.POST
    shown: dict[str, Any] = {}
    if rule is not None:
        shown["preview"] = series.preview(form.details(), rule)
    if event is not None and rule != series.rule_of(event) and rule is not None:
        effects = series.pattern_effects(event, rule, form.details().start, form.details().end)
        if effects.kept or effects.dropped:
            shown["effects"] = effects.in_words()
            # Said beforehand: saving again (with this shown) confirms it.
            asked = asked or request.POST.get("confirm_pattern") != rule_fingerprint(rule)
            shown["confirm_pattern"] = rule_fingerprint(rule)
    return shown if asked else None


def rule_fingerprint(rule: Rule) -> str:
    """The pattern a confirmation was given for (a changed pattern asks again)."""
    return repr(rule)


def _form_error(form: EventForm, repeat: RepeatForm, problem: InvalidEvent) -> None:
    """A refusal goes to the field it names, in whichever of the two forms has it."""
    if problem.field in repeat.fields:
        repeat.add_error(problem.field, str(problem))
    elif problem.field == "ends":
        repeat.add_error("count", str(problem))
    else:
        form.add_error(problem.field if problem.field in form.fields else None, str(problem))


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
    form, repeat = _bound_event_form(request, None)
    shown: dict[str, Any] = {}
    if request.method == "POST" and form.is_valid() and repeat.is_valid():
        try:
            previewed = _previewed(request, form, repeat, None)
            if previewed is not None:
                shown = previewed
            else:
                if (gated := _gate_response(request, None)) is not None:
                    return gated
                rule = repeat.rule()
                creator = _member(request)
                event = (
                    series.create_series(form.details(), rule, creator=creator)
                    if rule is not None
                    else services.create_event(form.details(), creator=creator)
                )
                drop_draft(request, draft_key(request))
                messages.success(request, f"“{event.title}” is scheduled.")
                return redirect(event)
        except InvalidEvent as problem:
            _form_error(form, repeat, problem)
    return _render_form(request, form, repeat, None, shown)


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
    form, repeat = _bound_event_form(request, event)
    shown: dict[str, Any] = {}
    if request.method == "POST" and form.is_valid() and repeat.is_valid():
        try:
            previewed = _previewed(request, form, repeat, event)
            if previewed is not None:
                shown = previewed
            else:
                if (gated := _gate_response(request, event)) is not None:
                    return gated
                changed, _ = series.update_series(
                    event, form.details(), repeat.rule(), actor=_member(request)
                )
                drop_draft(request, draft_key(request))
                messages.success(
                    request, "Event saved." if changed else "Nothing to save: no changes."
                )
                return redirect(event)
        except InvalidEvent as problem:
            _form_error(form, repeat, problem)
        except EventError as problem:
            messages.error(request, str(problem))
            return redirect(event)
    return _render_form(request, form, repeat, event, shown)


def _render_form(
    request: HttpRequest,
    form: EventForm,
    repeat: RepeatForm,
    event: Event | None,
    shown: dict[str, Any],
) -> HttpResponse:
    """The event form, with how the event repeats and its preview (``shown``); with the draft
    it was filled from, if any (which it offers to discard), and what installed apps want said
    beside the Save button."""
    return render(
        request,
        "events/form.html",
        {
            "form": form,
            "repeat": repeat,
            "event": event,
            **shown,
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
        reason = form.cleaned_data["reason"]
        report_outcome(
            request,
            lambda: services.cancel_event(event, actor=_member(request), reason=reason),
            f"“{event.title}” is cancelled.",
        )
        return redirect(event)
    return render(request, "events/cancel.html", {"form": form, "event": event})


@require_POST
@login_required
def enroll(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    report_outcome(
        request,
        lambda: services.enroll(event, _member(request), actor=_member(request)),
        f"You are enrolled in “{event.title}”.",
    )
    return redirect(event)


@require_POST
@login_required
def unenroll(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    me = _member(request)
    report_outcome(
        request,
        lambda: services.unenroll(event, me, actor=me, reason="Left in Convene"),
        f"You are no longer on “{event.title}”.",
    )
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
    return render(
        request,
        "events/people.html",
        {
            "event": event,
            "form": form,
            "roles": EnrollmentRole.choices,
            "invitable": invitable,
            "invitable_role": invitable_role,
            **_people_page(request, event),
        },
    )


def _people_page(request: HttpRequest, event: Event) -> dict[str, Any]:
    """The list part of Manage people: counts by role, the search (name or email, a role), and
    one page of the people it finds. A page number that is not one (a word, 0, past the end)
    shows the nearest page and says so."""
    query = request.GET.get("q", "").strip()
    role = request.GET.get("role", "")
    if role not in EnrollmentRole.values:
        role = ""
    asked = request.GET.get("page", "")
    page = Paginator(roster.matching(event, query, role), roster.PEOPLE_PER_PAGE).get_page(asked)
    shown_instead = asked not in ("", str(page.number)) and page.paginator.count > 0
    kept = _list_state(request.GET)
    by_role = roster.counts(event)
    return {
        "people_page": page,
        "people_query": query,
        "people_role": role,
        "people_counts": [(each.value, each.label, n) for each, n in by_role.items()],
        "people_total": sum(by_role.values()),
        "people_page_note": f"There is no page “{asked}”: this is page {page.number}."
        if shown_instead
        else "",
        "people_filters": _list_query(kept, without="page"),
        "people_back": kept.urlencode(),
        # Each row's buttons post to its person's own URL, this one with the id appended: one
        # reversal per page rather than two per row (4,005 for 2,000 people before paging).
        "people_url": reverse("events:people", args=[event.pk]),
    }


def _list_state(source: QueryDict) -> QueryDict:
    """Only the list's own parameters (search, role, page), whatever else was sent."""
    kept = QueryDict(mutable=True)
    for name in ("q", "role", "page"):
        if value := source.get(name, "").strip():
            kept[name] = value
    return kept


def _list_query(kept: QueryDict, without: str) -> str:
    rest = kept.copy()
    rest.pop(without, None)
    return rest.urlencode()


def _back_to_people(request: HttpRequest, event: Event) -> HttpResponse:
    """Manage people again, on the page and search the action was taken from."""
    back = _list_state(QueryDict(request.POST.get("back", ""))).urlencode()
    url = reverse("events:people", args=[event.pk])
    return redirect(f"{url}?{back}" if back else url)


@require_POST
@login_required
def remove_person(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_manage_event(request.user, event), MANAGERS_ONLY)
    person = get_object_or_404(User, pk=user_pk)
    report_outcome(
        request,
        lambda: services.unenroll(
            event, person, actor=_member(request), reason="Removed by an organizer"
        ),
        f"{person.name} removed from the event.",
    )
    return _back_to_people(request, event)


@require_POST
@login_required
def change_role(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_manage_event(request.user, event), MANAGERS_ONLY)
    person = get_object_or_404(User, pk=user_pk)
    # Manage people is one form for the whole page: each row's role is named after its person.
    chosen = request.POST.get(f"role-{user_pk}", request.POST.get("role"))
    form = ChangeRoleForm({"role": chosen})
    if not form.is_valid():
        messages.error(request, "Choose one of the roles in the list.")
        return _back_to_people(request, event)
    role = EnrollmentRole(form.cleaned_data["role"])
    report_outcome(
        request,
        lambda: services.change_role(event, person, role, actor=_member(request)),
        lambda enrollment: f"{person.name} is now {enrollment.get_role_display().lower()}.",
    )
    return _back_to_people(request, event)


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
    # a series is past once its last session has ended
    if tab == "past":
        mine = mine.exclude(not_over(now, "event__")).order_by("-event__start")
    else:
        mine = mine.filter(not_over(now, "event__")).order_by("event__start")
    groups = [
        (role.label, [e.event for e in mine if e.role == role])
        for role in (EnrollmentRole.ORGANIZER, EnrollmentRole.PRESENTER, EnrollmentRole.ATTENDEE)
    ]
    return render(
        request,
        "events/mine.html",
        {"groups": groups, "tab": tab, "tabs": MY_EVENTS_TABS},
    )
