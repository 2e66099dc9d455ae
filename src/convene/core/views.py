from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from convene.accounts.models import User
from convene.core import notices
from convene.core.access import requires
from convene.core.forms import SiteSettingsForm
from convene.core.models import Notice, SiteSettings
from convene.permissions import can_change_site_settings


@requires(can_change_site_settings)
def site_settings(request: HttpRequest) -> HttpResponse:
    form = SiteSettingsForm(request.POST or None, instance=SiteSettings.load())
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Site settings saved.")
        return redirect("core:site_settings")
    return render(request, "core/site_settings.html", {"form": form})


@login_required
def notice_list(request: HttpRequest) -> HttpResponse:
    """The person's notices, newest first; opening the page marks them read."""
    assert isinstance(request.user, User)
    shown = list(Notice.objects.filter(user=request.user)[:100])
    notices.mark_all_read(request.user)
    return render(request, "core/notices.html", {"notices": shown})
