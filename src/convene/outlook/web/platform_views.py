"""Admin pages of the platform calendar: Test connection, admin consent, switching modes.

Thin, like every view here: they check who is asking and call ``platform`` / ``modeswitch``.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from convene import permissions
from convene.accounts.models import User
from convene.core.access import requires
from convene.core.text import counted
from convene.outlook import tasks
from convene.outlook.mailboxes import platform
from convene.outlook.microsoft import identity
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import (
    CalendarLink,
    Job,
    LinkState,
    LogKind,
    Mode,
    OutlookSettings,
    record,
)
from convene.outlook.moves import engine, modeswitch
from convene.outlook.outbound import queueing
from convene.outlook.web.forms import (
    ModeSwitchForm,
    OutlookSettingsForm,
    PlatformMailboxForm,
    parse_pool,
)
from convene.outlook.web.settings_page import render_settings

# --- Test connection ----------------------------------------------------------------------


@require_POST
@requires(permissions.is_site_admin)
def test_connection(request: HttpRequest) -> HttpResponse:
    """Try the service mailbox typed on the settings page (saved or not) against Microsoft."""
    form = OutlookSettingsForm(
        request.POST, missing_configuration=AppRegistration.from_settings().missing()
    )
    mailbox = PlatformMailboxForm(request.POST)
    if not mailbox.is_valid():
        messages.error(request, "Type the service mailbox's address to test it.")
        return render_settings(request, form, status=400)
    registration = AppRegistration.from_settings().for_platform()
    address = mailbox.cleaned_data["service_mailbox"]
    remember_typed(request, address, mailbox.cleaned_data["platform_tenant"])
    tenant = mailbox.cleaned_data["platform_tenant"] or platform.tenant_for(
        address, OutlookSettings(service_mailbox=address)
    )
    try:
        others = parse_pool(str(request.POST.get("pool_mailboxes", "")), address)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return render_settings(request, form, status=400)
    diagnosis = platform.test_connection(registration, address, tenant)
    # Every mailbox of the pool is tried the same way: each must be readable and writable.
    pool_diagnoses = [
        platform.test_connection(
            registration,
            other,
            mailbox.cleaned_data["platform_tenant"]
            or platform.tenant_for(other, OutlookSettings(service_mailbox=other)),
        )
        for other in others
    ]
    return render_settings(request, form, diagnosis=diagnosis, pool_diagnoses=pool_diagnoses)


# --- admin consent for the platform's tenant ----------------------------------------------

CONSENT_SESSION_KEY = "outlook_platform_consents"
CONSENT_STATE_PREFIX = "platform."
CONSENT_TTL_SECONDS = 15 * 60
TYPED_SESSION_KEY = "outlook_platform_typed"


@require_POST
@requires(permissions.is_site_admin)
def start_admin_consent(request: HttpRequest) -> HttpResponse:
    """Send the admin to Microsoft to grant Convene its application permission there."""
    mailbox = PlatformMailboxForm(request.POST)
    if not mailbox.is_valid():
        messages.error(request, "Type the service mailbox's address first.")
        return redirect("outlook:settings")
    address = mailbox.cleaned_data["service_mailbox"]
    remember_typed(request, address, mailbox.cleaned_data["platform_tenant"])
    tenant = mailbox.cleaned_data["platform_tenant"] or platform.tenant_for(
        address, OutlookSettings(service_mailbox=address)
    )
    state = CONSENT_STATE_PREFIX + secrets.token_urlsafe(24)
    pending = _pending_consents(request)
    pending[state] = {
        "tenant": tenant,
        "started": time.time(),
        # Given back to the settings form afterwards: the admin typed it, maybe unsaved.
        "typed": {
            "service_mailbox": address,
            "platform_tenant": mailbox.cleaned_data["platform_tenant"],
        },
    }
    request.session[CONSENT_SESSION_KEY] = pending
    registration = AppRegistration.from_settings().for_platform()
    url = identity.admin_consent_page(
        registration,
        tenant,
        registration.absolute(reverse("outlook:admin_consent_done")),
        state,
        application=True,
    )
    return HttpResponseRedirect(url)


def is_platform_consent(request: HttpRequest) -> bool:
    return request.GET.get("state", "").startswith(CONSENT_STATE_PREFIX)


def platform_consent_done(request: HttpRequest) -> HttpResponse:
    """Microsoft's answer to a consent started from the settings page: only in the session
    that started it, once; the result is shown on the settings page."""
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    if not permissions.is_site_admin(request.user):
        raise PermissionDenied
    pending = _pending_consents(request)
    started = pending.pop(request.GET.get("state", ""), None)
    request.session[CONSENT_SESSION_KEY] = pending
    if started is None:
        return render(
            request,
            "outlook/admin_consent_done.html",
            {
                "granted": False,
                "detail": "This answer does not belong to an admin consent started from this "
                "browser session (used already, expired or forged). Nothing was recorded.",
            },
            status=400,
        )
    tenant = started["tenant"]
    typed = started.get("typed", {})
    remember_typed(request, typed.get("service_mailbox", ""), typed.get("platform_tenant", ""))
    granted = request.GET.get("admin_consent", "").lower() == "true" and "error" not in request.GET
    detail = request.GET.get("error_description", "").split("\r\n")[0][:500]
    record(
        LogKind.AUTHORIZATION,
        "platform_admin_consent",
        status="granted" if granted else request.GET.get("error", "refused"),
        message=f"Admin consent for tenant {tenant}: {'granted' if granted else detail}",
        user_id=request.user.pk,
        tenant=tenant,
    )
    if granted:
        # Events that failed for want of consent need no one to press "Retry".
        failing = CalendarLink.objects.filter(mode=Mode.PLATFORM, state=LinkState.FAILING)
        for link in failing:
            queueing.retry_now(link, tasks.enqueue_sync)
        messages.success(
            request,
            f"Admin consent granted in tenant {tenant}. Use “Test connection” to check that "
            "Convene reaches the service mailbox.",
        )
    else:
        messages.error(request, f"Admin consent was not granted in tenant {tenant}. {detail}")
    return redirect("outlook:settings")


def remember_typed(request: HttpRequest, service_mailbox: str, platform_tenant: str) -> None:
    """Keep the service mailbox (and tenant) the admin typed and tested or went to consent
    with, saved or not: the settings page shows them again (after Test connection, after
    coming back from Microsoft, after a reload) until the settings are saved."""
    request.session[TYPED_SESSION_KEY] = {
        "service_mailbox": service_mailbox,
        "platform_tenant": platform_tenant,
    }


def typed_before_consent(request: HttpRequest) -> dict[str, str]:
    """What ``remember_typed`` kept, for the settings form's initial values."""
    typed: dict[str, str] = request.session.get(TYPED_SESSION_KEY, {})
    return {
        name: str(typed[name]) for name in ("service_mailbox", "platform_tenant") if name in typed
    }


def forget_typed(request: HttpRequest) -> None:
    """The settings were saved: what is saved is what the page shows from now on."""
    request.session.pop(TYPED_SESSION_KEY, None)


def _pending_consents(request: HttpRequest) -> dict[str, Any]:
    now = time.time()
    pending: dict[str, Any] = dict(request.session.get(CONSENT_SESSION_KEY, {}))
    return {s: e for s, e in pending.items() if now - e["started"] < CONSENT_TTL_SECONDS}


# --- switching modes ----------------------------------------------------------------------

DESTINATION_FIELDS = ("mode", "service_mailbox", "platform_tenant")


def switch_needing_review(values: dict[str, Any]) -> str | None:
    """The preview URL when saving these settings would move events (or one is moving)."""
    destination = modeswitch.Destination(
        values["mode"], values["service_mailbox"], values["platform_tenant"]
    )
    if destination == modeswitch.Destination.current():
        return None
    if engine.running_job() is None and not modeswitch.plan(destination).total:
        return None
    query = urlencode({name: values[name] for name in DESTINATION_FIELDS})
    return f"{reverse('outlook:mode_switch')}?{query}"


def without_destination(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if name not in DESTINATION_FIELDS}


@requires(permissions.is_site_admin)
def mode_switch(request: HttpRequest) -> HttpResponse:
    """GET: what switching would do, with numbers. POST: do it (as a job)."""
    running = engine.running_job()
    if running is not None:
        messages.info(request, "A mode switch or handover is still running; this is its progress.")
        return redirect("outlook:job", job_id=running.pk)
    form = ModeSwitchForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for e in form.non_field_errors()) or "Invalid.")
        return redirect("outlook:settings")
    values = form.cleaned_data
    destination = modeswitch.Destination(
        values["mode"], values["service_mailbox"], values["platform_tenant"]
    )
    if request.method == "POST":
        try:
            job = modeswitch.start(
                destination,
                fingerprint=values["fingerprint"],
                actor_id=_admin_id(request),
                enqueue_job=tasks.enqueue_move_job,
            )
        except modeswitch.PlanChanged as exc:
            messages.warning(request, str(exc))
        except engine.MoveRunning as exc:
            messages.info(request, str(exc))
            return redirect("outlook:settings")
        else:
            if job is None:
                messages.success(request, "Switched. No event had to move.")
                return redirect("outlook:settings")
            return redirect("outlook:job", job_id=job.pk)
    the_plan = modeswitch.plan(destination)
    return render(
        request,
        "outlook/mode_switch.html",
        {
            "plan": the_plan,
            "origin": modeswitch.Destination.current(),
            "values": {name: values[name] for name in DESTINATION_FIELDS},
        },
    )


@requires(permissions.is_site_admin)
def job_page(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=job_id)
    return render(request, "outlook/job.html", engine.job_context(job))


@require_POST
@requires(permissions.is_site_admin)
def resume_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=job_id)
    try:
        count = engine.resume(job, actor_id=_admin_id(request), enqueue_job=tasks.enqueue_move_job)
    except engine.PlanChanged as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Trying {counted(count, 'event')} again.")
    return redirect("outlook:job", job_id=job.pk)


def _admin_id(request: HttpRequest) -> int:
    # Every view here requires a signed-in admin; the decorators have checked it.
    assert isinstance(request.user, User)
    return int(request.user.pk)
