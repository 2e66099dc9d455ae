"""Limits on password guessing (django-axes, state in the database).

Failures are counted per account and per address (``AXES_LOCKOUT_PARAMETERS``), so one
attacker cannot try many passwords on one account, nor one password on many accounts; every
web process reads the same counts. A locked-out person sees the sign-in page again with the
time to wait; an admin sees locked accounts in the admin (Axes' "Access attempts") and unlocks
one by deleting its attempts, which the admin's history records.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.db.models import Max, Q
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from convene.accounts.forms import SignInForm
from convene.accounts.models import normalize_email


def username_of(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The account a sign-in is for, as Convene stores it: "Ada@X" counts against "ada@x"."""
    typed = (credentials or {}).get("username") or request.POST.get("username") or ""
    return normalize_email(str(typed))


def time_to_wait(request: HttpRequest, username: str) -> timedelta:
    """Until the most recent failure for this account or from this address has cooled off."""
    cool_off: timedelta = get_cool_off(request) or timedelta(0)
    address = request.META.get("REMOTE_ADDR", "")
    latest = AccessAttempt.objects.filter(Q(username=username) | Q(ip_address=address)).aggregate(
        latest=Max("attempt_time")
    )["latest"]
    if not isinstance(latest, datetime):
        return cool_off
    return max(latest + cool_off - timezone.now(), timedelta(0))


def wait_in_words(wait: timedelta) -> str:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The sign-in page again, saying why and for how long (429 Too Many Requests)."""
    username = username_of(request, credentials)
    wait = time_to_wait(request, username)
    form = SignInForm(request, initial={"username": username})
    # Not bound (binding would try the password again): an empty cleaning to add the message to.
    form.cleaned_data = {}
    form._errors = ErrorDict()  # type: ignore[attr-defined]
    form.add_error(
        None,
        "Too many failed sign-ins for this account or from this address. "
        f"Try again in {wait_in_words(wait)}, or ask an admin to unlock it.",
    )
    response = render(
        request,
        "accounts/sign_in.html",
        {"form": form, "next": ""},
        status=429,
    )
    response["Retry-After"] = str(max(1, math.ceil(wait.total_seconds())))
    return response
