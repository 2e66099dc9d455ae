"""The Graph route table: which operation a method and path name, and the handler that answers.

Apart from the handlers (``api.py``) so that adding an endpoint is one line here plus its handler
there. Paths are below ``/v1.0``; mailbox routes match what follows ``me/`` or ``users/{id}/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from m365_emulator.graph.api import GlobalHandler, GraphApi, Handler

MAILBOX = re.compile(r"^(?P<prefix>me|users/(?P<user>[^/]+))(?:/(?P<rest>.*))?$", re.IGNORECASE)
_CAL = r"(?:calendar/|calendars/(?P<calendar>[^/]+)/)?"
_ACTION = r"(?:microsoft\.graph\.)?"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: str
    write: bool
    handler: Handler
    mail: bool = False  # needs a mail permission, not a calendar one


GlobalRoute = tuple[str, re.Pattern[str], str, "GlobalHandler"]


def global_routes(api: GraphApi) -> list[GlobalRoute]:
    """Routes outside a mailbox: the signed-in user, users, places, subscriptions."""
    return [
        ("GET", re.compile(r"^me$", re.I), "users.get", api.get_user),
        ("GET", re.compile(r"^users/(?P<user>[^/]+)$", re.I), "users.get", api.get_user),
        (
            "GET",
            re.compile(r"^places/microsoft\.graph\.room$", re.I),
            "places.rooms",
            api.list_rooms,
        ),
        (
            "GET",
            re.compile(r"^places/microsoft\.graph\.roomlist$", re.I),
            "places.roomLists",
            api.list_room_lists,
        ),
        (
            "GET",
            re.compile(r"^places/(?P<roomlist>[^/]+)/microsoft\.graph\.roomlist/rooms$", re.I),
            "places.roomListRooms",
            api.list_rooms,
        ),
        (
            "POST",
            re.compile(r"^subscriptions$", re.I),
            "subscriptions.create",
            api.create_subscription,
        ),
        (
            "GET",
            re.compile(r"^subscriptions$", re.I),
            "subscriptions.list",
            api.list_subscriptions,
        ),
        (
            "GET",
            re.compile(r"^subscriptions/(?P<sid>[^/]+)$", re.I),
            "subscriptions.get",
            api.get_subscription,
        ),
        (
            "PATCH",
            re.compile(r"^subscriptions/(?P<sid>[^/]+)$", re.I),
            "subscriptions.update",
            api.renew_subscription,
        ),
        (
            "DELETE",
            re.compile(r"^subscriptions/(?P<sid>[^/]+)$", re.I),
            "subscriptions.delete",
            api.delete_subscription,
        ),
        (
            "POST",
            re.compile(rf"^subscriptions/(?P<sid>[^/]+)/{_ACTION}reauthorize$", re.I),
            "subscriptions.reauthorize",
            api.reauthorize_subscription,
        ),
    ]


def mailbox_routes(api: GraphApi) -> list[Route]:
    """Routes inside one mailbox (its calendar, events, messages)."""

    def r(
        method: str,
        pattern: str,
        operation: str,
        handler: Handler,
        write: bool = False,
        mail: bool = False,
    ) -> Route:
        return Route(
            method, re.compile(f"^{pattern}$", re.IGNORECASE), operation, write, handler, mail
        )

    event = rf"{_CAL}events/(?P<event>[^/]+)"
    return [
        r("GET", rf"{_CAL}events", "events.list", api.list_events),
        r("POST", rf"{_CAL}events", "events.create", api.create_event, write=True),
        r("GET", event, "events.get", api.get_event),
        r("GET", rf"{event}/instances", "events.instances", api.list_instances),
        r("PATCH", event, "events.update", api.update_event, write=True),
        r("DELETE", event, "events.delete", api.delete_event, write=True),
        r("POST", rf"{event}/{_ACTION}cancel", "events.cancel", api.cancel_event, write=True),
        r(
            "POST",
            rf"{event}/{_ACTION}accept",
            "events.accept",
            api.respond("accept"),
            write=True,
        ),
        r(
            "POST",
            rf"{event}/{_ACTION}decline",
            "events.decline",
            api.respond("decline"),
            write=True,
        ),
        r(
            "POST",
            rf"{event}/{_ACTION}tentativelyAccept",
            "events.tentativelyAccept",
            api.respond("tentativelyAccept"),
            write=True,
        ),
        r(
            "GET",
            rf"{_CAL}calendarView/{_ACTION}delta(?:\(\))?",
            "calendarView.delta",
            api.delta,
        ),
        r("GET", rf"{_CAL}calendarView", "calendarView.list", api.calendar_view),
        r("POST", rf"{_CAL}{_ACTION}getSchedule", "calendar.getSchedule", api.get_schedule),
        r("GET", "calendar", "calendar.get", api.get_calendar),
        r("GET", "calendars", "calendars.list", api.list_calendars),
        r("GET", "calendars/(?P<calendar>[^/]+)", "calendar.get", api.get_calendar),
        r("GET", "messages", "messages.list", api.list_messages, mail=True),
    ]
