"""The mailbox viewer (UI port): what Outlook would show each seeded person.

Pick a person, see their week (events placed by day and hour, cancelled ones struck through,
their answer shown), their inbox of meeting messages, and open an event to accept, decline or
tentatively accept it as them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from m365_emulator.errors import GraphError
from m365_emulator.graph import serialize, timezones
from m365_emulator.graph.model import Event

if TYPE_CHECKING:
    from m365_emulator.backend import Backend, User

HOUR_PX = 44
ZONES = (
    "UTC",
    "W. Europe Standard Time",
    "GMT Standard Time",
    "Eastern Standard Time",
    "Pacific Standard Time",
    "Tokyo Standard Time",
)
RESPONSE_LABELS = {
    "organizer": "Organizer",
    "accepted": "Accepted",
    "tentativelyAccepted": "Tentative",
    "declined": "Declined",
    "notResponded": "Not responded",
    "none": "No response",
}
MESSAGE_LABELS = {
    "meetingRequest": "Invitation",
    "meetingCancelled": "Cancellation",
    "meetingAccepted": "Accepted",
    "meetingTenativelyAccepted": "Tentative",
    "meetingDeclined": "Declined",
}

_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
)
_env.globals["quote"] = lambda value: quote(str(value), safe="")


@dataclass
class Placed:
    """An event placed on the week grid."""

    event: Event
    top: int
    height: int
    start: datetime
    end: datetime


def _render(name: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**context))


def viewer_routes(backend: Backend, attach_loop: Callable[[Backend], None]) -> list[BaseRoute]:
    store = backend.graph

    def person(request: Request) -> User:
        user = backend.user(request.path_params["upn"])
        if user is None:
            raise GraphError(404, "ErrorItemNotFound", "No such person.")
        return user

    def zone_of(request: Request) -> str:
        wanted = request.query_params.get("tz", "UTC")
        return wanted if timezones.is_known(wanted) else "UTC"

    async def people(request: Request) -> Response:
        with backend.lock:
            tenants = sorted(backend.tenants.values(), key=lambda t: t.domain)
            groups = [
                (
                    t,
                    sorted(
                        (
                            u
                            for u in backend.users.values()
                            if u.tenant_id == t.id and u.has_mailbox
                        ),
                        key=lambda u: u.upn,
                    ),
                )
                for t in tenants
            ]
        return _render("mailbox/people.html", groups=groups)

    async def week(request: Request) -> Response:
        user = person(request)
        zone_name = zone_of(request)
        today = timezones.from_utc(backend.clock.now(), zone_name).date()
        try:
            anchor = date.fromisoformat(request.query_params.get("week", ""))
        except ValueError:
            anchor = _first_event_day(store.events(user), zone_name, backend.clock.now()) or today
        monday = anchor - timedelta(days=anchor.weekday())
        days = [monday + timedelta(days=i) for i in range(7)]
        placed, first_hour, last_hour = _place(store.events(user), days, zone_name)
        return _render(
            "mailbox/week.html",
            user=user,
            days=days,
            today=today,
            placed=placed,
            hours=range(first_hour, last_hour),
            first_hour=first_hour,
            hour_px=HOUR_PX,
            zone_name=zone_name,
            zones=ZONES,
            previous=(monday - timedelta(days=7)).isoformat(),
            following=(monday + timedelta(days=7)).isoformat(),
            agenda=_agenda(store.events(user), zone_name),
            labels=RESPONSE_LABELS,
            unread=sum(1 for m in store.messages(user) if not m.is_read),
        )

    async def inbox(request: Request) -> Response:
        user = person(request)
        zone_name = zone_of(request)
        messages = sorted(store.messages(user), key=lambda m: m.received, reverse=True)
        rows = [
            {
                "message": m,
                "label": MESSAGE_LABELS.get(m.meeting_message_type, m.meeting_message_type),
                "received": timezones.from_utc(m.received, zone_name),
                "start": timezones.from_utc(m.start, zone_name),
                "end": timezones.from_utc(m.end, zone_name),
            }
            for m in messages
        ]
        return _render("mailbox/inbox.html", user=user, rows=rows, zone_name=zone_name)

    async def event_page(request: Request) -> Response:
        user = person(request)
        zone_name = zone_of(request)
        event = store.event(user, request.path_params["event_id"])
        body = serialize.body_as(event.props.get("body") or {}, "text")["content"]
        return _render(
            "mailbox/event.html",
            user=user,
            event=event,
            body=body,
            start=timezones.from_utc(event.start, zone_name),
            end=timezones.from_utc(event.end, zone_name),
            zone_name=zone_name,
            labels=RESPONSE_LABELS,
            location=(event.props.get("location") or {}).get("displayName") or "",
            error=request.query_params.get("error"),
        )

    async def respond(request: Request) -> Response:
        attach_loop(backend)
        user = person(request)
        event_id = request.path_params["event_id"]
        # A plain urlencoded form; parsed here so the viewer needs no multipart library.
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        target = f"/mailboxes/{quote(user.upn)}/events/{quote(event_id)}"
        try:
            store.respond(
                user,
                event_id,
                str(form.get("response", "")),
                comment=str(form.get("comment") or ""),
                send_response=form.get("sendResponse") is not None,
            )
        except GraphError as exc:
            return RedirectResponse(f"{target}?error={quote(exc.message)}", status_code=303)
        return RedirectResponse(target, status_code=303)

    async def not_found(request: Request, exc: GraphError) -> Response:
        return _render("mailbox/missing.html", message=exc.message)

    def guarded(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def wrapped(request: Request) -> Response:
            try:
                result: Response = await endpoint(request)
            except GraphError as exc:
                response = await not_found(request, exc)
                response.status_code = exc.status
                return response
            return result

        return wrapped

    return [
        Route("/mailboxes", guarded(people), methods=["GET"]),
        Route("/mailboxes/{upn}", guarded(week), methods=["GET"]),
        Route("/mailboxes/{upn}/inbox", guarded(inbox), methods=["GET"]),
        Route("/mailboxes/{upn}/events/{event_id}", guarded(event_page), methods=["GET"]),
        Route("/mailboxes/{upn}/events/{event_id}/respond", guarded(respond), methods=["POST"]),
    ]


def _first_event_day(events: list[Event], zone_name: str, now: datetime) -> date | None:
    """Open on the week of the next (or latest) event, where there is something to see."""
    if not events:
        return None
    upcoming = [e for e in events if e.end >= now]
    chosen = (
        min(upcoming, key=lambda e: e.start) if upcoming else max(events, key=lambda e: e.start)
    )
    return timezones.from_utc(chosen.start, zone_name).date()


def _place(
    events: list[Event], days: list[date], zone_name: str
) -> tuple[dict[date, list[Placed]], int, int]:
    placed: dict[date, list[Placed]] = {day: [] for day in days}
    first_hour, last_hour = 8, 19
    for event in events:
        start = timezones.from_utc(event.start, zone_name)
        end = timezones.from_utc(event.end, zone_name)
        if start.date() not in placed:
            continue
        first_hour = min(first_hour, start.hour)
        end_hour = end.hour + (1 if end.minute else 0) if end.date() == start.date() else 24
        last_hour = max(last_hour, end_hour)
        placed[start.date()].append(Placed(event, 0, 0, start, end))
    for items in placed.values():
        for item in items:
            minutes = (item.start.hour - first_hour) * 60 + item.start.minute
            length = max(25, int((item.end - item.start).total_seconds() // 60))
            item.top = minutes * HOUR_PX // 60
            item.height = min(length, (24 - item.start.hour) * 60) * HOUR_PX // 60
        items.sort(key=lambda p: p.start)
    return placed, first_hour, last_hour


def _agenda(events: list[Event], zone_name: str) -> list[dict[str, Any]]:
    rows = []
    for event in sorted(events, key=lambda e: e.start):
        rows.append(
            {
                "event": event,
                "start": timezones.from_utc(event.start, zone_name),
                "end": timezones.from_utc(event.end, zone_name),
            }
        )
    return rows
