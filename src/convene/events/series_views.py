"""Pages for one session of a series: change it, cancel it, say you will miss it. Thin: they
check ``convene.permissions`` and call ``convene.events.series``."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from convene import permissions
from convene.accounts.models import User
from convene.core.access import deny_unless
from convene.events import series
from convene.events.errors import EventError, InvalidEvent
from convene.events.models import Event
from convene.events.outcome_messages import report_outcome
from convene.events.series_forms import CancelSessionForm, SessionForm


def _session(event: Event, on: str) -> series.Session:
    try:
        wanted = date.fromisoformat(on)
    except ValueError:
        raise Http404("No such session") from None
    found = next((s for s in series.sessions(event) if s.on == wanted), None)
    if found is None or not series.is_series(event):
        raise Http404("No such session")
    return found


def _member(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@login_required
def session_edit(request: HttpRequest, pk: int, on: str) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_edit_event(request.user, event))
    session = _session(event, on)
    form = SessionForm(
        request.POST or None, initial=SessionForm.initial_for(session), zone=event.timezone
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = series.change_session(
                event, session.on, form.details(), actor=_member(request)
            )
        except InvalidEvent as problem:
            form.add_error(problem.field if problem.field in form.fields else None, str(problem))
        except EventError as problem:
            messages.error(request, str(problem))
            return redirect(event)
        else:
            messages.success(
                request,
                f"Session {session.number} saved." if changed else "Nothing to save: no changes.",
            )
            return redirect(event)
    return render(
        request,
        "events/session_form.html",
        {"event": event, "session": session, "form": form, "cancel_form": CancelSessionForm()},
    )


@require_POST
@login_required
def session_cancel(request: HttpRequest, pk: int, on: str) -> HttpResponse:
    event = get_object_or_404(Event, pk=pk)
    deny_unless(permissions.can_cancel_event(request.user, event))
    session = _session(event, on)
    form = CancelSessionForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "events/session_form.html",
            {
                "event": event,
                "session": session,
                "form": SessionForm(initial=SessionForm.initial_for(session), zone=event.timezone),
                "cancel_form": form,
            },
        )
    message = form.cleaned_data["message"]
    report_outcome(
        request,
        lambda: series.cancel_session(event, session.on, actor=_member(request), message=message),
        f"Session {session.number} is cancelled.",
    )
    return redirect(event)


@require_POST
@login_required
def session_attendance(request: HttpRequest, pk: int, on: str) -> HttpResponse:
    """The signed-in person will miss this session, or will come after all."""
    event = get_object_or_404(Event, pk=pk)
    session = _session(event, on)
    me = _member(request)
    try:
        if request.POST.get("attend") == "no":
            series.will_miss(event, session.on, me, actor=me)
            messages.success(request, f"Noted: you will miss session {session.number}.")
        else:
            series.will_attend(event, session.on, me, actor=me)
            messages.success(request, f"Noted: you will come to session {session.number}.")
    except EventError as problem:
        messages.error(request, str(problem))
    return redirect(event)
