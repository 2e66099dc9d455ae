"""The mailbox viewer (UI port): what Outlook would show each seeded person.

Pick a person, see their week (events placed by day and hour, side by side when they overlap,
today and the current time marked, cancelled ones struck through, their answer shown), their
inbox of meeting messages, and open an event to accept, decline or tentatively accept it as them.
Times are shown in a zone the page names: the one asked for, else the zone the person's next
meeting was created in (Outlook would use the mailbox's own zone, which the emulator has not).

As in Outlook on the web, a mailbox is the signed-in owner's only: its pages send anyone else
to the viewer's sign-in page (the emulator's users and passwords; the session is the identity
platform's single sign-on cookie, so signing in once at either serves both), and an answer must
carry the form's token for that session. Another page in the same browser cannot answer for
someone. The control API (``/_emulator/``, for tests) is unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
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
from m365_emulator.graph.model import Attendee, Event
from m365_emulator.identity.pages import SESSION_COOKIE

if TYPE_CHECKING:
    from m365_emulator.backend import Backend
    from m365_emulator.directory import User

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

    # Signs the answer forms' tokens; new per emulator process, as sessions are.
    form_key = secrets.token_bytes(32)

    def person(request: Request) -> User:
        user = backend.user(request.path_params["upn"])
        if user is None:
            raise GraphError(404, "ErrorItemNotFound", "No such person.")
        return user

    def session_of(request: Request) -> str:
        return request.cookies.get(SESSION_COOKIE, "")

    def signed_in(request: Request) -> User | None:
        user_id = backend.identity.session_user_id(session_of(request))
        return backend.user(user_id) if user_id else None

    def form_token(session: str) -> str:
        return hmac.new(form_key, session.encode(), hashlib.sha256).hexdigest()

    def owner(request: Request) -> User:
        """The mailbox's person, who must be the one signed in; else ``SignInFirst``."""
        user = person(request)
        current = signed_in(request)
        if current is None or current.id != user.id:
            raise SignInFirst(user)
        return user

    def zone_of(request: Request, events: list[Event]) -> str:
        wanted = request.query_params.get("tz", "")
        if wanted and timezones.is_known(wanted):
            return wanted
        return _usual_zone(events, backend.clock.now())

    async def people(request: Request) -> Response:
        tenants = sorted(backend.all_tenants(), key=lambda t: t.domain)
        groups = [
            (t, sorted((u for u in backend.users_in(t.id) if u.has_mailbox), key=lambda u: u.upn))
            for t in tenants
        ]
        return _render("mailbox/people.html", groups=groups)

    async def week(request: Request) -> Response:
        user = owner(request)
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
        shown = store.calendar_view(user, week_start, week_start + timedelta(days=8))
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
        user = owner(request)
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
        user = owner(request)
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
            attendees=_as_seen_by(event, user),
            csrf_token=form_token(session_of(request)),
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
        current = signed_in(request)
        if (
            current is None
            or current.id != user.id
            or not hmac.compare_digest(
                str(form.get("csrf_token", "")), form_token(session_of(request))
            )
        ):
            return _render_status(
                "mailbox/not_yours.html",
                403,
                message=f"Only {user.display_name}, signed in here, can answer for them.",
            )
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

    async def sign_in(request: Request) -> Response:
        next_url = _local(request.query_params.get("next", ""))
        if request.method == "GET":
            return _render(
                "mailbox/sign_in.html",
                username=request.query_params.get("login_hint", ""),
                next_url=next_url,
                problem="",
            )
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        username = str(form.get("username", "")).strip()
        user = backend.user(username) if username else None
        if user is None or not user.has_mailbox or str(form.get("password", "")) != user.password:
            page = _render(
                "mailbox/sign_in.html",
                username=username,
                next_url=next_url,
                problem="Your account or password is incorrect.",
            )
            page.status_code = 401
            return page
        response = RedirectResponse(next_url or f"/mailboxes/{quote(user.upn)}", status_code=303)
        response.set_cookie(
            SESSION_COOKIE, backend.identity.new_session(user.id), httponly=True, samesite="lax"
        )
        return response

    async def sign_out(request: Request) -> Response:
        backend.identity.end_session(session_of(request))
        response = RedirectResponse("/mailboxes", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def not_found(request: Request, exc: GraphError) -> Response:
        return _render("mailbox/missing.html", message=exc.message)

    def guarded(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def wrapped(request: Request) -> Response:
            try:
                result: Response = await endpoint(request)
            except SignInFirst as exc:
                wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(
                    f"/mailboxes/sign-in?next={quote(wanted, safe='')}"
                    f"&login_hint={quote(exc.user.upn, safe='')}",
                    status_code=303,
                )
            except GraphError as exc:
                response = await not_found(request, exc)
                response.status_code = exc.status
                return response
            return result

        return wrapped

    return [
        # Before "/mailboxes/{upn}", which would take "sign-in" for a person.
        Route("/mailboxes/sign-in", sign_in, methods=["GET", "POST"]),
        Route("/mailboxes/sign-out", sign_out, methods=["POST"]),
        Route("/mailboxes", guarded(people), methods=["GET"]),
        Route("/mailboxes/{upn}", guarded(week), methods=["GET"]),
        Route("/mailboxes/{upn}/inbox", guarded(inbox), methods=["GET"]),
        Route("/mailboxes/{upn}/events/{event_id}", guarded(event_page), methods=["GET"]),
        Route("/mailboxes/{upn}/events/{event_id}/respond", guarded(respond), methods=["POST"]),
    ]


class SignInFirst(Exception):
    """The page is ``user``'s mailbox and they are not the one signed in."""

    def __init__(self, user: User) -> None:
        super().__init__(user.upn)
        self.user = user


def _local(url: str) -> str:
    """``url`` if it is a page of the viewer, else "" (no redirect off the emulator)."""
    return url if url.startswith("/mailboxes/") and "\\" not in url else ""


def _render_status(name: str, status: int, **context: Any) -> HTMLResponse:
    response = _render(name, **context)
    response.status_code = status
    return response


def _as_seen_by(event: Event, user: User) -> list[Attendee]:
    """The attendee table of the mailbox's own copy: the owner's own row shows the answer they
    gave (their copy keeps it as its ``responseStatus``; the list came from the organizer)."""
    if event.is_organizer:
        return list(event.attendees)
    own = user.upn.lower()
    return [
        replace(attendee, response=event.response) if attendee.key == own else attendee
        for attendee in event.attendees
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
