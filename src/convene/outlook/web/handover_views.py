"""The admin's page for handing over the events of someone who left. Thin: it checks who is
asking and calls ``handover``."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from convene import permissions
from convene.accounts.models import User
from convene.core.access import requires
from convene.outlook import tasks
from convene.outlook.models import OutlookSettings
from convene.outlook.moves import engine, handover
from convene.outlook.web.forms import HandoverForm


@require_http_methods(["GET", "POST"])
@requires(permissions.is_site_admin)
def handover_page(request: HttpRequest, user_id: int) -> HttpResponse:
    """GET: the choice, and with one made, the preview with numbers. POST: start the job."""
    leaver = get_object_or_404(User, pk=user_id)
    admin = request.user
    assert isinstance(admin, User)  # the decorator has checked it
    running = engine.running_job()
    if running is not None:
        messages.info(request, "A mode switch or handover is still running; this is its progress.")
        return redirect("outlook:job", job_id=running.pk)
    data = request.POST if request.method == "POST" else request.GET
    # A GET without a choice shows the form; a POST is always a choice, even an empty one.
    form = HandoverForm(data if request.method == "POST" or "target" in data else None)
    the_plan = None
    problem = ""
    if form.is_bound and form.is_valid():
        values = form.cleaned_data
        try:
            choice = handover.choice_from(values["target"], values["person"] or "")
            if request.method == "POST":
                job = handover.start(
                    leaver,
                    choice,
                    fingerprint=values["fingerprint"],
                    actor=admin,
                    enqueue_job=tasks.enqueue_move_job,
                )
                return redirect("outlook:job", job_id=job.pk)
            the_plan = handover.plan(leaver, choice, actor=admin)
        except handover.HandoverRefused as exc:
            problem = str(exc)
        except engine.PlanChanged as exc:
            messages.warning(request, str(exc))
            the_plan = handover.plan(leaver, choice, actor=admin)
        except engine.MoveRunning as exc:
            problem = str(exc)
    elif form.is_bound:
        problem = "Choose who takes the events over."
    outlook = OutlookSettings.load()
    return render(
        request,
        "outlook/handover.html",
        {
            "leaver": leaver,
            "form": form,
            "plan": the_plan,
            "problem": problem,
            "platform_available": handover.platform_available(outlook),
            "outlook": outlook,
            "waiting": dict(handover.waiting()).get(leaver, 0),
        },
        status=400 if problem else 200,
    )
