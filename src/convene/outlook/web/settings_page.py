"""The Outlook settings page as every view that answers with it renders it: the settings form,
Test connection and the consent pages' returns."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from convene.outlook.mailboxes.platform import Diagnosis
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import Job, Mode, OutlookSettings
from convene.outlook.web.forms import OutlookSettingsForm


def render_settings(
    request: HttpRequest,
    form: OutlookSettingsForm,
    *,
    diagnosis: Diagnosis | None = None,
    status: int = 200,
) -> HttpResponse:
    registration = AppRegistration.from_settings()
    return render(
        request,
        "outlook/settings.html",
        {
            "form": form,
            "outlook": OutlookSettings.load(),
            "registration": registration,
            "missing": registration.missing(),
            "modes": Mode,
            "redirect_uri": registration.absolute(reverse("outlook:callback")),
            "consent_redirect_uri": registration.absolute(reverse("outlook:admin_consent_done")),
            "diagnosis": diagnosis,
            "switch_job": Job.objects.filter(kind=Job.Kind.MODE_SWITCH).first(),
        },
        status=status,
    )
