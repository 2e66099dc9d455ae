"""What the Outlook integration adds to other apps' pages (profile, event detail)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from convene import permissions
from convene.accounts.models import User
from convene.outlook import links
from convene.outlook.microsoft import mapping
from convene.outlook.models import (
    AttendeeReply,
    CalendarLink,
    LinkState,
    OutlookConnection,
    OutlookSettings,
)


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
    link = CalendarLink.objects.filter(event=event).select_related("event").first()
    return {
        "outlook": OutlookSettings.load(),
        "outlook_link": link,
        "outlook_replies": replies_by_answer(event),
        "outlook_only_attendees": (
            link.last_pushed.get(mapping.OUTLOOK_ONLY_ATTENDEES, []) if link else []
        ),
        "outlook_may_publish_again": link is not None and links.can_publish_again(link),
        "outlook_settling": link is not None and is_settling(link),
    }


def is_settling(link: CalendarLink) -> bool:
    """Will the sync state change by itself soon (a sync under way, or a failure that is
    retried automatically)? The panel then refreshes itself until it will not, so nobody has
    to reload the page to see "Synced"."""
    if link.state == LinkState.FAILING:
        return link.retries_automatically
    return link.state == LinkState.PENDING or (link.state == LinkState.SYNCED and link.is_behind)


def replies_by_answer(event: Any) -> list[tuple[str, list[AttendeeReply]]]:
    """Answers given in Outlook, grouped for the organizer: (heading, replies) per answer."""
    rows = AttendeeReply.objects.filter(event=event).select_related("user").order_by("email")
    groups: list[tuple[str, str, list[AttendeeReply]]] = [
        (answer, heading, []) for answer, heading in REPLY_HEADINGS
    ]
    by_answer: dict[str, list[AttendeeReply]] = {answer: found for answer, _, found in groups}
    for row in rows:
        if row.response in by_answer:
            by_answer[row.response].append(row)
    return [(heading, found) for _, heading, found in groups if found]


REPLY_HEADINGS = (
    ("accepted", "Accepted"),
    ("tentativelyAccepted", "Tentative"),
    ("declined", "Declined"),
)
