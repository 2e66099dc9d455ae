"""The sync dashboard's view of an event split into several Outlook copies
(``outbound.copies``): each copy, how many people it holds, whether it has the latest version,
and which copy each person is on."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from convene import permissions
from convene.core.access import requires
from convene.events.models import Enrollment
from convene.outlook.models import CalendarLink, CopySeat, OverflowCopy

PEOPLE_PER_PAGE = 50


@dataclass(frozen=True)
class CopyRow:
    part: int
    people: int
    in_outlook: bool  # Outlook has made it
    up_to_date: bool  # it has the event's latest version


def copy_rows(link: CalendarLink) -> list[CopyRow]:
    """The event's own copy, then each overflow copy."""
    seated = dict(
        CopySeat.objects.filter(event_id=link.event_id)
        .values_list("part")
        .annotate(n=Count("pk"))
        .order_by()
    )
    everyone = Enrollment.objects.filter(event_id=link.event_id).count()
    own = everyone - sum(n for part, n in seated.items() if part)
    rows = [CopyRow(0, own, bool(link.graph_id), not link.is_behind)]
    for copy in OverflowCopy.objects.filter(link=link).order_by("part"):
        rows.append(
            CopyRow(
                copy.part,
                seated.get(copy.part, 0),
                bool(copy.graph_id),
                copy.synced_version >= link.desired_version,
            )
        )
    return rows


@require_safe
@requires(permissions.is_site_admin)
def event_copies(request: HttpRequest, event_id: int) -> HttpResponse:
    link = get_object_or_404(
        CalendarLink.objects.select_related("event", "event__created_by"), event_id=event_id
    )
    query = request.GET.get("q", "").strip()[:254]
    people = (
        Enrollment.objects.filter(event_id=event_id).select_related("user").order_by("user__email")
    )
    if query:
        people = people.filter(user__email__icontains=query)
    page = Paginator(people, PEOPLE_PER_PAGE).get_page(request.GET.get("page"))
    seats = dict(
        CopySeat.objects.filter(
            event_id=event_id, user_id__in=[e.user_id for e in page.object_list]
        ).values_list("user_id", "part")
    )
    on_copy = [(enrollment, seats.get(enrollment.user_id, 0)) for enrollment in page]
    return render(
        request,
        "outlook/copies.html",
        {
            "link": link,
            "event": link.event,
            "copies": copy_rows(link),
            "page": page,
            "on_copy": on_copy,
            "query": query,
        },
    )
