"""The Outlook settings page as every view that answers with it renders it: the settings form,
Test connection and the consent pages' returns."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from convene.outlook.mailboxes import platform
from convene.outlook.mailboxes.platform import Diagnosis
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import Job, Mode, OutlookSettings, SyncLogEntry
from convene.outlook.web.forms import OutlookSettingsForm


def render_settings(
    request: HttpRequest,
    form: OutlookSettingsForm,
    *,
    diagnosis: Diagnosis | None = None,
    pool_diagnoses: list[Diagnosis] | None = None,
    status: int = 200,
) -> HttpResponse:
    registration = AppRegistration.from_settings()
    typed_mailbox = str(form["service_mailbox"].value() or "").strip().lower()
    typed_tenant = str(form["platform_tenant"].value() or "").strip()
    consent_tenant = typed_tenant or (
        platform.tenant_for(typed_mailbox, OutlookSettings(service_mailbox=typed_mailbox))
        if "@" in typed_mailbox
        else ""
    )
    return render(
        request,
        "outlook/settings.html",
        {
            "consent_tenant": consent_tenant,
            "consent": consent_granted(consent_tenant) if consent_tenant else None,
            "form": form,
            "outlook": OutlookSettings.load(),
            "registration": registration,
            "missing": registration.missing(),
            "modes": Mode,
            "redirect_uri": registration.absolute(reverse("outlook:callback")),
            "consent_redirect_uri": registration.absolute(reverse("outlook:admin_consent_done")),
            "diagnosis": diagnosis,
            "pool_diagnoses": pool_diagnoses or [],
            "switch_job": Job.objects.filter(kind=Job.Kind.MODE_SWITCH).first(),
        },
        status=status,
    )


def consent_granted(tenant: str) -> SyncLogEntry | None:
    """The latest admin consent answer recorded for ``tenant``, if it was a grant."""
    latest = (
        SyncLogEntry.objects.filter(action="platform_admin_consent", details__tenant=tenant)
        .order_by("-created_at", "-pk")
        .first()
    )
    return latest if latest is not None and latest.status == "granted" else None
