"""Request-wide behaviour: the person's own time zone, and refusals answered as pages."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.utils import timezone


class PersonalTimeZoneMiddleware:
    """Times about the signed-in person's own activity are shown in their zone (their profile
    setting; the server's until their browser has reported one). Event times are always shown
    in each event's own zone, whatever this says."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        zone = getattr(request.user, "time_zone", "")
        if zone:
            timezone.activate(ZoneInfo(zone))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class RefusalPageMiddleware:
    """A view that refuses someone (``PermissionDenied``, see ``convene.core.access``) gets
    Convene's 403 page, saying why. Django's own handling would log the refusal with a
    traceback, as if something had broken; a refusal is an answer, logged as one line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, PermissionDenied):
            return None
        page = render_to_string("403.html", {"exception": str(exception)}, request=request)
        return HttpResponse(page, status=403)
