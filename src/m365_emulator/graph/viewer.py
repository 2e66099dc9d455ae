"""The mailbox viewer (UI port): what Outlook would show each seeded person.

Pick a person, see their week (events placed by day and hour, side by side when they overlap,
today and the current time marked, cancelled ones struck through, their answer shown), their
inbox of meeting messages, and open an event to accept, decline or tentatively accept it as them.
Times are shown in a zone the page names: the one asked for, else the zone the person's next
meeting was created in (Outlook would use the mailbox's own zone, which the emulator has not).
"""

from __future__ import annotations

import re
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
from m365_emulator.graph import serialize, series, timezones
from m365_emulator.graph.model import Event

if TYPE_CHECKING:
    from m365_emulator.backend import Backend, User

HOUR_PX = 60
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
# What the person can still do about an event, as Outlook's reading pane words it.
RESPONSE_HINTS = {
    "notResponded": "You have not answered this invitation yet.",
    "none": "You have not answered this invitation yet.",
    "accepted": "You accepted. You can still change your answer.",
    "tentativelyAccepted": "You answered tentative. You can still change your answer.",
    "declined": "You declined. You can still change your answer.",
}
_LINE_BREAKS = re.compile(r"<br\s*/?>|</p>|</div>|</li>|</tr>", re.IGNORECASE)
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
    """An event placed on the week grid: ``top``/``height`` in pixels, and side by side with
    the events it overlaps (``lane`` of ``lanes`` columns)."""

    event: Event
    top: int
    height: int
    start: datetime
    end: datetime
    lane: int = 0
    lanes: int = 1

    @property
    def left_percent(self) -> float:
        return 100 * self.lane / self.lanes

    @property
    def width_percent(self) -> float:
        return 100 / self.lanes


def _render(name: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**context))


def viewer_routes(backend: Backend, attach_loop: Callable[[Backend], None]) -> list[BaseRoute]:
    store = backend.graph

    def person(request: Request) -> User:
        user = backend.user(request.path_params["upn"])
        if user is None:
            raise GraphError(404, "ErrorItemNotFound", "No such person.")
        return user

    def zone_of(request: Request, events: list[Event]) -> str:
        wanted = request.query_params.get("tz", "")
        if wanted and timezones.is_known(wanted):
            return wanted
        return _usual_zone(events, backend.clock.now())

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
        events = store.events(user)
        zone_name = zone_of(request, events)
        now = timezones.from_utc(backend.clock.now(), zone_name)
        today = now.date()
        try:
            anchor = date.fromisoformat(request.query_params.get("week", ""))
        except ValueError:
            anchor = _first_event_day(events, zone_name, backend.clock.now()) or today
        monday = anchor - timedelta(days=anchor.weekday())
        days = [monday + timedelta(days=i) for i in range(7)]
        # The week shows a series as its occurrences, as Outlook's calendar does.
        week_start = timezones.to_utc(datetime.combine(days[0], datetime.min.time()), zone_name)
        with backend.lock:
            shown = series.calendar_view(events, week_start, week_start + timedelta(days=8))
        placed, first_hour, last_hour = _place(shown, days, zone_name)
        now_top = None
        if today in placed and first_hour <= now.hour < last_hour:
            now_top = ((now.hour - first_hour) * 60 + now.minute) * HOUR_PX // 60
        return _render(
            "mailbox/week.html",
            user=user,
            days=days,
            today=today,
            this_week=(today - timedelta(days=today.weekday())).isoformat(),
            now_top=now_top,
            placed=placed,
            hours=range(first_hour, last_hour),
            first_hour=first_hour,
            hour_px=HOUR_PX,
            zone_name=zone_name,
            zones=_zone_choices(events, zone_name),
            previous=(monday - timedelta(days=7)).isoformat(),
            following=(monday + timedelta(days=7)).isoformat(),
            agenda=_agenda(events, zone_name),
            labels=RESPONSE_LABELS,
            unread=sum(1 for m in store.messages(user) if not m.is_read),
        )

    async def inbox(request: Request) -> Response:
        user = person(request)
        zone_name = zone_of(request, store.events(user))
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
        event = store.event(user, request.path_params["event_id"])
        zone_name = zone_of(request, [event])
        return _render(
            "mailbox/event.html",
            user=user,
            event=event,
            body=_readable_body(event.props.get("body") or {}),
            start=timezones.from_utc(event.start, zone_name),
            end=timezones.from_utc(event.end, zone_name),
            zone_name=zone_name,
            own_start=timezones.from_utc(event.start, event.start_zone),
            own_end=timezones.from_utc(event.end, event.start_zone),
            labels=RESPONSE_LABELS,
            hints=RESPONSE_HINTS,
            location=(event.props.get("location") or {}).get("displayName") or "",
            error=request.query_params.get("error"),
            answered=request.query_params.get("answered"),
        )

    async def respond(request: Request) -> Response:
        attach_loop(backend)
        user = person(request)
        event_id = request.path_params["event_id"]
        # A plain urlencoded form; parsed here so the viewer needs no multipart library.
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        target = f"/mailboxes/{quote(user.upn)}/events/{quote(event_id)}"
        answer = str(form.get("response", ""))
        try:
            store.respond(
                user,
                event_id,
                answer,
                comment=str(form.get("comment") or ""),
                send_response=form.get("sendResponse") is not None,
            )
        except GraphError as exc:
            return RedirectResponse(f"{target}?error={quote(exc.message)}", status_code=303)
        return RedirectResponse(f"{target}?answered={quote(answer)}", status_code=303)

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
            length = max(30, int((item.end - item.start).total_seconds() // 60))
            item.top = minutes * HOUR_PX // 60
            item.height = min(length, (24 - item.start.hour) * 60) * HOUR_PX // 60
        items.sort(key=lambda p: (p.start, p.end))
        _share_columns(items)
    return placed, first_hour, last_hour


def _share_columns(items: list[Placed]) -> None:
    """Overlapping events stand side by side, as in Outlook: each cluster of events that
    overlap one another is split into as many columns as it needs at most."""
    cluster: list[Placed] = []
    cluster_end = 0

    def close() -> None:
        lanes = 1 + max((p.lane for p in cluster), default=0)
        for p in cluster:
            p.lanes = lanes

    for item in items:
        if cluster and item.top >= cluster_end:
            close()
            cluster = []
        taken = {p.lane for p in cluster if p.top + p.height > item.top}
        item.lane = next(lane for lane in range(len(cluster) + 1) if lane not in taken)
        cluster.append(item)
        cluster_end = max(cluster_end, item.top + item.height)
    close()


def _usual_zone(events: list[Event], now: datetime) -> str:
    """The zone of the next (or latest) event: where this person's meetings happen."""
    if not events:
        return "UTC"
    upcoming = [e for e in events if e.end >= now]
    chosen = (
        min(upcoming, key=lambda e: e.start) if upcoming else max(events, key=lambda e: e.start)
    )
    return chosen.start_zone if timezones.is_known(chosen.start_zone) else "UTC"


def _zone_choices(events: list[Event], current: str) -> list[str]:
    found = {e.start_zone for e in events if timezones.is_known(e.start_zone)}
    return sorted({*ZONES, *found, current}, key=lambda z: (z != "UTC", z))


def _readable_body(body: dict[str, Any]) -> str:
    """The event's description as plain text with its line breaks kept."""
    if str(body.get("contentType") or "").lower() == "html":
        content = _LINE_BREAKS.sub(lambda m: m.group(0) + "\n", str(body.get("content") or ""))
        body = {"contentType": "html", "content": content}
    text = serialize.body_as(body, "text")["content"]
    lines = "\n".join(line.strip() for line in text.splitlines()).strip()
    return re.sub(r"\n{3,}", "\n\n", lines)


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
