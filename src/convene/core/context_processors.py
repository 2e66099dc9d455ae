from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from convene import permissions
from convene.core import notices
from convene.core.extensions import admin_links, calendar_integrations


def navigation(request: HttpRequest) -> dict[str, Any]:
    """What the shared layout's menu needs on every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_can_create_events": permissions.can_create_events(user),
        "nav_is_site_admin": permissions.is_site_admin(user),
        "nav_calendar_integrations": calendar_integrations(),
        "nav_admin_links": admin_links(),
        "nav_unread_notices": notices.unread_count(user),
    }
