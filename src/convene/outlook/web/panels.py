"""What the Outlook integration adds to other apps' pages (profile, event detail)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F
from django.http import HttpRequest
from django.urls import reverse

from convene import permissions
from convene.accounts.models import User
from convene.events.models import OnlineKind
from convene.outlook import links
from convene.outlook.microsoft import mapping
from convene.outlook.models import (
    AttendeeReply,
    CalendarLink,
    LinkState,
    OnlineMeeting,
    OutlookConnection,
    OutlookSettings,
    OverflowCopy,
    Room,
    RoomBooking,
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
        "outlook_only_attendees": outlook_only(link) if link else [],
        "outlook_deleted_copies": (
            list(links.deleted_copies(link).order_by("part").values_list("part", flat=True))
            if link
            else []
        ),
        "outlook_may_publish_again": link is not None and links.can_publish_again(link),
        "outlook_settling": link is not None and is_settling(link),
    }


def outlook_only(link: CalendarLink) -> list[dict[str, Any]]:
    """Who is on the event's Outlook copies (the own copy and its overflow copies) in Outlook
    only: added there, not enrolled in Convene."""
    found: list[dict[str, Any]] = list(link.last_pushed.get(mapping.OUTLOOK_ONLY_ATTENDEES, []))
    for kept in (
        OverflowCopy.objects.filter(link=link)
        .order_by("part")
        .values_list("last_pushed", flat=True)
    ):
        found += kept.get(mapping.OUTLOOK_ONLY_ATTENDEES, [])
    return found


def is_settling(link: CalendarLink) -> bool:
    """Will the sync state change by itself soon (a sync under way, or a failure that is
    retried automatically)? The panel then refreshes itself until it will not, so nobody has
    to reload the page to see "Synced"."""
    if link.state == LinkState.FAILING:
        return link.retries_automatically
    return link.state == LinkState.PENDING or (link.state == LinkState.SYNCED and link.is_behind)


def online_meeting_context(request: HttpRequest, page: Mapping[str, Any]) -> Mapping[str, Any]:
    """The Teams meeting's join details for people on the event; why there is none for the
    people who manage it."""
    event = page.get("event")
    if event is None or not event.is_online or event.online_kind != OnlineKind.TEAMS:
        return {"online_meeting": None}
    manages = permissions.can_manage_event(request.user, event)
    enrolled = (
        isinstance(request.user, User) and event.enrollments.filter(user=request.user).exists()
    )
    if not (manages or enrolled):
        return {"online_meeting": None}
    meeting = OnlineMeeting.objects.filter(event=event).first()
    if meeting is None and not manages:
        return {"online_meeting": None}
    return {
        "online_meeting": meeting or OnlineMeeting(event=event, state=OnlineMeeting.State.MISSING),
        "online_meeting_problem": meeting.problem if meeting is not None and manages else "",
    }


def room_context(request: HttpRequest, page: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event's room and its answer; the room picker for its organizers."""
    event = page.get("event")
    if event is None:
        return {"room_panel": False}
    booking = RoomBooking.objects.filter(event=event).select_related("room").first()
    may_choose = permissions.can_edit_event(request.user, event) and not event.is_cancelled
    choices = list(Room.objects.filter(offered=True, listed=True)) if may_choose else []
    return {
        "room_panel": booking is not None or bool(choices),
        "room_booking": booking,
        "room_may_choose": may_choose,
        "room_choices": choices,
    }


def form_free_busy_context(request: HttpRequest, page: Mapping[str, Any]) -> Mapping[str, Any]:
    """The double-booking warning under the time fields, when Outlook can be asked."""
    outlook = OutlookSettings.load()
    if not outlook.enabled or not permissions.can_create_events(request.user):
        return {"free_busy_url": ""}
    return {"free_busy_url": reverse("outlook:free_busy")}


def people_free_busy_context(request: HttpRequest, page: Mapping[str, Any]) -> Mapping[str, Any]:
    """On Manage people: whether the co-organizer or presenter being added is busy then."""
    event = page.get("event")
    if (
        event is None
        or event.is_cancelled
        or not permissions.can_manage_event(request.user, event)
        or not OutlookSettings.load().enabled
    ):
        return {"people_free_busy_url": ""}
    return {"people_free_busy_url": reverse("outlook:people_free_busy", args=[event.pk])}


def my_free_busy_context(request: HttpRequest, page: Mapping[str, Any]) -> Mapping[str, Any]:
    """For a signed-in person not yet on the event: a note when their calendar is busy."""
    event = page.get("event")
    user = request.user
    if (
        event is None
        or not isinstance(user, User)
        or event.is_cancelled
        or event.enrollments.filter(user=user).exists()
        or not OutlookSettings.load().enabled
    ):
        return {"my_free_busy_url": ""}
    return {"my_free_busy_url": reverse("outlook:my_free_busy", args=[event.pk])}


# How many people each answer names before "and N more" (the counts are always whole).
REPLIES_SHOWN = 10


@dataclass(frozen=True)
class ReplyGroup:
    """One answer on the organizer's panel: how many gave it, and the latest few."""

    heading: str
    count: int
    shown: list[AttendeeReply]

    @property
    def more(self) -> int:
        return self.count - len(self.shown)


def replies_by_answer(event: Any, shown: int = REPLIES_SHOWN) -> list[ReplyGroup]:
    """Answers given in Outlook, grouped for the organizer: per answer its count and the
    latest ``shown`` replies. The same queries for 20 people or 20,000."""
    headings = dict(REPLY_HEADINGS)
    grouped = (
        AttendeeReply.objects.filter(event=event, response__in=headings)
        .order_by()
        .values("response")
        .annotate(n=Count("pk"))
    )
    counts = {row["response"]: row["n"] for row in grouped}
    return [
        ReplyGroup(
            heading,
            counts[answer],
            list(
                AttendeeReply.objects.filter(event=event, response=answer)
                .select_related("user")
                .order_by(F("responded_at").desc(nulls_last=True), "email")[:shown]
            ),
        )
        for answer, heading in REPLY_HEADINGS
        if counts.get(answer)
    ]


REPLY_HEADINGS = (
    ("accepted", "Accepted"),
    ("tentativelyAccepted", "Tentative"),
    ("declined", "Declined"),
)
