from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from convene.core.access import requires
from convene.operations.models import AdminAlert
from convene.permissions import is_site_admin


@requires(is_site_admin)
def alert_list(request: HttpRequest) -> HttpResponse:
    """Open alerts with their fix, then the last cleared ones."""
    alerts = list(AdminAlert.objects.all()[:100])
    return render(
        request,
        "operations/alerts.html",
        {
            "open_alerts": [alert for alert in alerts if alert.is_open],
            "cleared": [alert for alert in alerts if not alert.is_open][:30],
        },
    )
