"""What the Outlook integration adds to other apps' pages (profile, event detail)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from convene import permissions
from convene.accounts.models import User
from convene.outlook.models import CalendarLink, OutlookConnection, OutlookSettings


def profile_context(request: HttpRequest, page: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(request.user, User):
        return {}
    return {
        "outlook": OutlookSettings.load(),
        "outlook_connection": OutlookConnection.objects.filter(user=request.user).first(),
        "outlook_may_connect": permissions.can_create_events(request.user),
    }


def event_context(request: HttpRequest, page: Mapping[str, Any]) -> Mapping[str, Any]:
    event = page.get("event")
    if event is None or not permissions.can_manage_event(request.user, event):
        return {"outlook_link": None}
    return {
        "outlook": OutlookSettings.load(),
        "outlook_link": CalendarLink.objects.filter(event=event).first(),
    }
