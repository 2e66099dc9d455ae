"""Graph v1.0 calendar requests: the handlers, and access, limits and statistics around each.

Which handler answers which method and path is the route table in ``operations.py``.

Both the HTTP endpoint and ``$batch`` run requests through ``GraphApi.dispatch``, so a batched
request is authorized, throttled and counted exactly like a direct one.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from m365_emulator.errors import GraphError
from m365_emulator.graph import (
    delta,
    freebusy,
    message_query,
    odata,
    places,
    serialize,
    series,
    users,
)
from m365_emulator.graph.model import Event, looks_like_item_id
from m365_emulator.graph.operations import MAILBOX, Route, global_routes, mailbox_routes
from m365_emulator.graph.payload import parse_iso, parse_json_body
from m365_emulator.graph.subscriptions import parse_resource
from m365_emulator.graph.subscriptions import to_json as subscription_json
from m365_emulator.identity.access import MAIL_READ_SCOPES, Caller, mailbox_for

if TYPE_CHECKING:
    from m365_emulator.backend import Backend
    from m365_emulator.directory import User
    from m365_emulator.graph.store import GraphStore

GRAPH_ROOT = "https://graph.microsoft.com/v1.0"


@dataclass
class GraphRequest:
    method: str
    path: str  # below /v1.0, without the leading slash, percent-decoded
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    caller: Caller
    base_url: str  # the client's view of .../v1.0, for nextLink and deltaLink
    # Set once the mailbox is known, for statistics.
    mailbox_upn: str | None = None


@dataclass
class GraphResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Context:
    """What a mailbox handler gets: the request, the mailbox owner, path parameters."""

    request: GraphRequest
    owner: User
    prefix: str  # "me" or "users/{ref}" as the client wrote it
    params: dict[str, str]


Handler = Callable[[Context], Awaitable[GraphResponse]]
GlobalHandler = Callable[[GraphRequest, dict[str, str]], Awaitable[GraphResponse]]


class GraphApi:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.store: GraphStore = backend.graph
        self._random = random.Random()
        self._mailbox_routes = mailbox_routes(self)
        self._global_routes = global_routes(self)

    # ----- dispatch ------------------------------------------

    async def dispatch(self, request: GraphRequest) -> GraphResponse:
        """Answer one Graph request; raises GraphError for error answers (after counting them)."""
        operation, app = "unknown", request.caller.client_id
        status = 500
        started = time.time()
        try:
            found = self._match(request)
            if found is None:
                segment = request.path.split("/")[0] or request.path
                raise GraphError(
                    400, "BadRequest", f"Resource not found for the segment '{segment}'."
                )
            operation, run = found
            response = await run()
            status = response.status
            return response
        except GraphError as exc:
            status = exc.status
            raise
        finally:
            self.store.stats.request(app, request.mailbox_upn, operation, status, started)

    def _match(
        self, request: GraphRequest
    ) -> tuple[str, Callable[[], Awaitable[GraphResponse]]] | None:
        path = request.path.strip("/")
        method = request.method.upper()
        for route_method, pattern, operation, global_handler in self._global_routes:
            match = pattern.match(path)
            if match and route_method == method:
                return operation, functools.partial(
                    self._run_global, global_handler, request, match.groupdict()
                )
        mailbox = MAILBOX.match(path)
        if mailbox is None:
            return None
        rest = mailbox.group("rest") or ""
        methods_seen = False
        for route in self._mailbox_routes:
            match = route.pattern.match(rest)
            if match is None:
                continue
            methods_seen = True
            if route.method != method:
                continue
            params = {k: v for k, v in match.groupdict().items() if v is not None}
            run = functools.partial(
                self._run_mailbox,
                request,
                route,
                mailbox.group("prefix"),
                mailbox.group("user"),
                params,
            )
            return route.operation, run
        if methods_seen:
            raise GraphError(405, "BadRequest", f"The HTTP method '{method}' is not allowed here.")
        return None

    async def _run_global(
        self, handler: GlobalHandler, request: GraphRequest, params: dict[str, str]
    ) -> GraphResponse:
        return await self._in_answer_time(functools.partial(handler, request, params))

    async def _run_mailbox(
        self,
        request: GraphRequest,
        route: Route,
        prefix: str,
        user_ref: str | None,
        params: dict[str, str],
    ) -> GraphResponse:
        owner = mailbox_for(
            self.backend, request.caller, user_ref, write=route.write, mail=route.mail
        )
        request.mailbox_upn = owner.upn
        calendar = params.get("calendar")
        if calendar is not None and calendar != self.store.mailbox(owner).calendar_id:
            if not looks_like_item_id(calendar):
                raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
            raise GraphError(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        with self.store.limits.slot(request.caller.client_id, owner.id):
            # Microsoft's answer time is spent holding the mailbox slot: that is what makes
            # "4 requests in flight" the limit a client meets.
            return await self._in_answer_time(
                functools.partial(route.handler, Context(request, owner, prefix, params))
            )

    async def _in_answer_time(
        self, handle: Callable[[], Awaitable[GraphResponse]]
    ) -> GraphResponse:
        """Answer after Microsoft's answer time: the configured latency (+ jitter) and
        Exchange's service time, counted from the start of the request. Half of it passes
        before the request takes effect, the rest after.

        The emulator's own work on the request (the handler, and waiting for the event loop
        while it serves other requests) is spent within that time, not added to it: Exchange's
        work is part of Microsoft's answer time, and one Python process doing all of
        Microsoft's work would otherwise make every request slower than the latency it was
        given (the platform backfill measured 100 ms + 15 ms). Only work longer than the
        remaining time makes an answer late."""
        config = self.backend.config
        delay_ms = config.latency_ms + self._random.uniform(0, config.jitter_ms)
        if config.mailbox_service_ms:
            delay_ms += self._random.uniform(0.5, 1.5) * config.mailbox_service_ms
        if delay_ms <= 0:
            return await handle()
        loop = asyncio.get_running_loop()
        due = loop.time() + delay_ms / 1000
        await asyncio.sleep(delay_ms / 2000)
        try:
            return await handle()
        finally:
            left = due - loop.time()
            if left > 0:
                await asyncio.sleep(left)

    # ----- events ------------------------------------------

    async def list_events(self, ctx: Context) -> GraphResponse:
        events = series.list_events(self.store.events(ctx.owner))
        return self._page(ctx, events, "events", default_order=lambda e: e.created)

    async def calendar_view(self, ctx: Context) -> GraphResponse:
        start, end = _window(ctx.request.query)
        events = self.store.calendar_view(ctx.owner, start, end)
        return self._page(ctx, events, "calendarView", default_order=lambda e: e.start)

    async def list_instances(self, ctx: Context) -> GraphResponse:
        master = self._event(ctx)
        start, end = _window(ctx.request.query)
        events = self.store.instances(ctx.owner, master, start, end)
        collection = f"events('{quote(master.id, safe='')}')/instances"
        return self._page(ctx, events, collection, default_order=lambda e: e.start)

    async def get_event(self, ctx: Context) -> GraphResponse:
        event = self._event(ctx)
        query = odata.parse_query(ctx.request.query)
        prefs = odata.preferences(ctx.request.headers)
        body = self._event_json(event, ctx, query, prefs)
        context = self._collection_context(ctx, "events", query.select) + "/$entity"
        return GraphResponse(200, {"@odata.context": context, **body}, _applied(prefs))

    async def create_event(self, ctx: Context) -> GraphResponse:
        event, _created = self.store.create_event(ctx.owner, parse_json_body(ctx.request.body))
        prefs = odata.preferences(ctx.request.headers)
        # Microsoft's create examples answer start/end in the zones the request named.
        body = self._event_json(event, ctx, odata.Query(), prefs, own_zones=True)
        context = self._collection_context(ctx, "events", None) + "/$entity"
        location = f"{ctx.request.base_url}/users('{ctx.owner.id}')/events('{event.id}')"
        return GraphResponse(
            201, {"@odata.context": context, **body}, {**_applied(prefs), "Location": location}
        )

    async def update_event(self, ctx: Context) -> GraphResponse:
        self._unchanged_event(ctx)
        event = self.store.update_event(
            ctx.owner, ctx.params["event"], parse_json_body(ctx.request.body)
        )
        prefs = odata.preferences(ctx.request.headers)
        body = self._event_json(event, ctx, odata.Query(), prefs, own_zones=True)
        context = self._collection_context(ctx, "events", None) + "/$entity"
        return GraphResponse(200, {"@odata.context": context, **body}, _applied(prefs))

    async def delete_event(self, ctx: Context) -> GraphResponse:
        self._unchanged_event(ctx)
        self.store.delete_event(ctx.owner, ctx.params["event"])
        return GraphResponse(204)

    async def cancel_event(self, ctx: Context) -> GraphResponse:
        self._unchanged_event(ctx)
        body = _lower_keys(parse_json_body(ctx.request.body))
        self.store.cancel_event(ctx.owner, ctx.params["event"], str(body.get("comment") or ""))
        return GraphResponse(202)

    def respond(self, action: str) -> Handler:
        async def handler(ctx: Context) -> GraphResponse:
            self._event(ctx)
            body = _lower_keys(parse_json_body(ctx.request.body))
            send = body.get("sendresponse", True)
            self.store.respond(
                ctx.owner,
                ctx.params["event"],
                action,
                comment=str(body.get("comment") or ""),
                send_response=send is not False,
            )
            return GraphResponse(202)

        return handler

    # ----- delta ------------------------------------------

    async def delta(self, ctx: Context) -> GraphResponse:
        query = ctx.request.query
        box = self.store.mailbox(ctx.owner)
        token = query.get("$skiptoken") or query.get("$deltatoken")
        if token:
            state = delta.decode(self.store, token, ctx.owner.id)
            if "$deltatoken" in query and "$skiptoken" not in query:
                state = self.store.delta_round(ctx.owner, state.start, state.end, since=state.since)
        else:
            start, end = _window(query)
            state = self.store.delta_round(ctx.owner, start, end)
        prefs = odata.preferences(ctx.request.headers)
        page_size = prefs.max_page_size or odata.DEFAULT_PAGE_SIZE
        with self.store.lock:
            page = delta.next_page(box, state, page_size)
            items: list[dict[str, Any]] = [
                {
                    "@odata.type": "#microsoft.graph.event",
                    **serialize.event_json(
                        item, zone_name=prefs.timezone, body_type=prefs.body_type
                    ),
                }
                if isinstance(item, Event)
                else {
                    "@odata.type": "#microsoft.graph.event",
                    "id": item,
                    "@removed": {"reason": "deleted"},
                }
                for item in page.items
            ]
        link = f"{ctx.request.base_url}/{ctx.prefix}/calendarView/delta?"
        body: dict[str, Any] = {
            "@odata.context": f"{GRAPH_ROOT}/$metadata#Collection(event)",
            "value": items,
        }
        encoded = delta.encode(self.store, page.state)
        if page.done:
            body["@odata.deltaLink"] = f"{link}$deltatoken={encoded}"
        else:
            body["@odata.nextLink"] = f"{link}$skiptoken={encoded}"
        return GraphResponse(200, body, _applied(prefs))

    # ----- calendars and messages ------------------------------------------

    def _calendar_json(self, ctx: Context) -> dict[str, Any]:
        owner = ctx.owner
        return serialize.calendar_json(
            self.store.mailbox(owner).calendar_id,
            owner.display_name,
            owner.upn,
            owner.online_meeting_providers,
            owner.default_online_meeting_provider,
        )

    async def get_calendar(self, ctx: Context) -> GraphResponse:
        body = self._calendar_json(ctx)
        return GraphResponse(
            200, {"@odata.context": self._context_url(ctx, "calendars/$entity"), **body}
        )

    async def list_calendars(self, ctx: Context) -> GraphResponse:
        body = self._calendar_json(ctx)
        return GraphResponse(
            200, {"@odata.context": self._context_url(ctx, "calendars"), "value": [body]}
        )

    async def list_messages(self, ctx: Context) -> GraphResponse:
        query = message_query.parse(dict(ctx.request.query))
        prefs = odata.preferences(ctx.request.headers)
        messages = message_query.apply(self.store.messages(ctx.owner), query)
        top = query.top or odata.DEFAULT_PAGE_SIZE
        chosen = messages[query.skip : query.skip + top]
        with_body = bool(ctx.request.caller.scopes & MAIL_READ_SCOPES)
        value = []
        for message in chosen:
            data = serialize.message_json(message, with_body=with_body, body_type=prefs.body_type)
            data = message_query.shaped(data, query.select)
            if query.expand_event is not None and message.event_id is not None:
                data["event"] = self._message_event(ctx, message.event_id, query.expand_event)
            value.append(data)
        body: dict[str, Any] = {
            "@odata.context": self._context_url(ctx, "messages"),
            "value": value,
        }
        if query.skip + top < len(messages):
            body["@odata.nextLink"] = self._next_link(ctx, query.skip + top, top)
        return GraphResponse(200, body, _applied(prefs))

    def _message_event(self, ctx: Context, event_id: str, select: list[str]) -> Any:
        """The event a meeting message is about (``$expand=microsoft.graph.eventMessage/event``),
        or null when it is no longer in the calendar."""
        try:
            event = self.store.event(ctx.owner, event_id)
        except GraphError:
            return None
        return serialize.event_json(event, select=select or None)

    # ----- free/busy and places ------------------------------------------

    async def get_schedule(self, ctx: Context) -> GraphResponse:
        schedules, start, end, interval = freebusy.parse_request(parse_json_body(ctx.request.body))
        prefs = odata.preferences(ctx.request.headers)
        asker = (
            self.backend.user(ctx.request.caller.user_id) if ctx.request.caller.user_id else None
        )
        value = [
            freebusy.schedule_information(
                self.store,
                asker,
                ctx.owner.tenant_id,
                address,
                start,
                end,
                interval,
                prefs.timezone,
            )
            for address in schedules
        ]
        body = {
            "@odata.context": (
                f"{GRAPH_ROOT}/$metadata#Collection(microsoft.graph.scheduleInformation)"
            ),
            "value": value,
        }
        return GraphResponse(200, body, _applied(prefs))

    async def list_rooms(self, request: GraphRequest, params: dict[str, str]) -> GraphResponse:
        places.check_access(self.backend, request.caller)
        tenant = request.caller.tenant_id
        listed = params.get("roomlist")
        if listed is not None:
            found = places.room_list(self.backend, tenant, listed)
            context = (
                f"{GRAPH_ROOT}/$metadata#places('{quote(found.email, safe='')}')"
                "/microsoft.graph.roomList/rooms"
            )
            rooms = places.rooms(self.backend, tenant, found.email)
        else:
            context = f"{GRAPH_ROOT}/$metadata#places/microsoft.graph.room"
            rooms = places.rooms(self.backend, tenant)
        return self._places_page(request, context, [places.room_json(r) for r in rooms])

    async def list_room_lists(self, request: GraphRequest, _: dict[str, str]) -> GraphResponse:
        places.check_access(self.backend, request.caller)
        found = places.room_lists(self.backend, request.caller.tenant_id)
        context = f"{GRAPH_ROOT}/$metadata#places/microsoft.graph.roomList"
        return self._places_page(request, context, [places.room_list_json(r) for r in found])

    def _places_page(
        self, request: GraphRequest, context: str, items: list[dict[str, Any]]
    ) -> GraphResponse:
        query = odata.parse_query(
            {k: v for k, v in request.query.items() if k in ("$top", "$skip")}
        )
        top = query.top if query.top is not None else places.DEFAULT_PAGE_SIZE
        body: dict[str, Any] = {
            "@odata.context": context,
            "value": items[query.skip : query.skip + top],
        }
        if top > 0 and query.skip + top < len(items):
            params = {k: v for k, v in request.query.items() if k not in ("$skip", "$top")}
            params.update({"$top": str(top), "$skip": str(query.skip + top)})
            body["@odata.nextLink"] = (
                f"{request.base_url}/{request.path}?{urlencode(params, safe='$/:')}"
            )
        return GraphResponse(200, body)

    # ----- users ------------------------------------------

    async def get_user(self, request: GraphRequest, params: dict[str, str]) -> GraphResponse:
        user, basic_only = users.readable_user(self.backend, request.caller, params.get("user"))
        query = odata.parse_query({k: v for k, v in request.query.items() if k == "$select"})
        body = users.user_json(user, select=query.select, basic_only=basic_only)
        selected = f"({','.join(query.select)})" if query.select else ""
        context = f"{GRAPH_ROOT}/$metadata#users{selected}/$entity"
        return GraphResponse(200, {"@odata.context": context, **body})

    # ----- subscriptions ------------------------------------------

    async def create_subscription(self, request: GraphRequest, _: dict[str, str]) -> GraphResponse:
        body = parse_json_body(request.body)
        user_ref = parse_resource(body.get("resource"))
        owner = mailbox_for(self.backend, request.caller, user_ref, write=False)
        request.mailbox_upn = owner.upn
        subscription = await self.store.subscriptions.create(
            request.caller, owner.id, owner.tenant_id, body
        )
        data = {
            "@odata.context": f"{GRAPH_ROOT}/$metadata#subscriptions/$entity",
            **subscription_json(subscription),
        }
        return GraphResponse(201, data)

    async def list_subscriptions(self, request: GraphRequest, _: dict[str, str]) -> GraphResponse:
        found = self.store.subscriptions.visible_to(request.caller)
        return GraphResponse(
            200,
            {
                "@odata.context": f"{GRAPH_ROOT}/$metadata#subscriptions",
                "value": [subscription_json(s) for s in found],
            },
        )

    async def get_subscription(
        self, request: GraphRequest, params: dict[str, str]
    ) -> GraphResponse:
        found = self.store.subscriptions.get(request.caller, params["sid"])
        return GraphResponse(
            200,
            {
                "@odata.context": f"{GRAPH_ROOT}/$metadata#subscriptions/$entity",
                **subscription_json(found),
            },
        )

    async def renew_subscription(
        self, request: GraphRequest, params: dict[str, str]
    ) -> GraphResponse:
        found = self.store.subscriptions.renew(
            request.caller, params["sid"], parse_json_body(request.body)
        )
        return GraphResponse(
            200,
            {
                "@odata.context": f"{GRAPH_ROOT}/$metadata#subscriptions/$entity",
                **subscription_json(found),
            },
        )

    async def delete_subscription(
        self, request: GraphRequest, params: dict[str, str]
    ) -> GraphResponse:
        self.store.subscriptions.delete(request.caller, params["sid"])
        return GraphResponse(204)

    async def reauthorize_subscription(
        self, request: GraphRequest, params: dict[str, str]
    ) -> GraphResponse:
        self.store.subscriptions.reauthorize(request.caller, params["sid"])
        return GraphResponse(204)

    # ----- helpers ------------------------------------------

    def _event(self, ctx: Context) -> Event:
        event = self.store.event(ctx.owner, ctx.params["event"])
        calendar = ctx.params.get("calendar")
        if calendar is not None and event.calendar_id != calendar:
            raise GraphError(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        return event

    def _unchanged_event(self, ctx: Context) -> Event:
        """The event a write names, refused with 412 when the request's ``If-Match`` names
        another version of it (Graph's optimistic concurrency: the etag is ``W/"changeKey"``,
        and ``*`` matches any version). Checked and written with no await in between, so no
        other request changes the event meanwhile."""
        event = self._event(ctx)
        wanted = ctx.request.headers.get("if-match")
        if wanted is not None and not etag_matches(wanted, event.change_key):
            raise GraphError(412, "ErrorIrresolvableConflict", CONFLICT_MESSAGE)
        return event

    def _event_json(
        self,
        event: Event,
        ctx: Context,
        query: odata.Query,
        prefs: odata.Preferences,
        own_zones: bool = False,
    ) -> dict[str, Any]:
        return serialize.event_json(
            event,
            zone_name=prefs.timezone,
            body_type=prefs.body_type,
            select=query.select,
            extended_ids=query.expand_extended,
            own_zones=own_zones,
        )

    def _page(
        self,
        ctx: Context,
        events: list[Event],
        collection: str,
        default_order: Callable[[Event], Any],
    ) -> GraphResponse:
        query = odata.parse_query(ctx.request.query)
        prefs = odata.preferences(ctx.request.headers)
        if query.predicate is not None:
            events = [e for e in events if query.predicate(e)]
        events = query.order(events) if query.order else sorted(events, key=default_order)
        top = (
            query.top if query.top is not None else (prefs.max_page_size or odata.DEFAULT_PAGE_SIZE)
        )
        chosen = events[query.skip : query.skip + top]
        body: dict[str, Any] = {
            "@odata.context": self._collection_context(ctx, collection, query.select),
            "value": [self._event_json(e, ctx, query, prefs) for e in chosen],
        }
        if query.skip + top < len(events) and top > 0:
            body["@odata.nextLink"] = self._next_link(ctx, query.skip + top, top)
        return GraphResponse(200, body, _applied(prefs))

    def _next_link(self, ctx: Context, skip: int, top: int) -> str:
        params = {k: v for k, v in ctx.request.query.items() if k not in ("$skip", "$top")}
        params["$top"] = str(top)
        params["$skip"] = str(skip)
        return f"{ctx.request.base_url}/{ctx.request.path}?{urlencode(params, safe='$/:')}"

    def _context_url(self, ctx: Context, what: str) -> str:
        return f"{GRAPH_ROOT}/$metadata#users('{ctx.owner.id}')/{what}"

    def _collection_context(self, ctx: Context, collection: str, select: list[str] | None) -> str:
        """``@odata.context`` of an event collection as Graph writes it: the user as the path
        named them, the calendar segment the path went through, and the ``$select`` list
        (``users('{id}')/calendars('{calendar}')/events(subject,start)``)."""
        user = ctx.owner.id if ctx.prefix.lower() == "me" else ctx.prefix.split("/", 1)[1]
        segment = ""
        if "calendar" in ctx.params:
            segment = f"calendars('{quote(ctx.params['calendar'], safe='')}')/"
        elif ctx.request.path.strip("/")[len(ctx.prefix) :].lower().startswith("/calendar/"):
            segment = "calendar/"
        selected = f"({','.join(select)})" if select else ""
        return (
            f"{GRAPH_ROOT}/$metadata#users('{quote(user, safe='')}')/"
            f"{segment}{collection}{selected}"
        )


CONFLICT_MESSAGE = (
    "The send or update operation could not be performed because the change key passed in "
    "the request does not match the current change key for the item."
)


def etag_matches(if_match: str, change_key: str) -> bool:
    """Whether an ``If-Match`` value (one or more etags, weak or strong, or ``*``) names the
    item's current version."""
    for tag in if_match.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag.strip('"') == change_key:
            return True
    return False


def _window(query: Mapping[str, str]) -> tuple[datetime, datetime]:
    raw_start = _get_ci(query, "startDateTime")
    raw_end = _get_ci(query, "endDateTime")
    if not raw_start or not raw_end:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
        )
    start, end = parse_iso(raw_start, "startDateTime"), parse_iso(raw_end, "endDateTime")
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    end = end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)
    return start, end


def _get_ci(query: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in query.items() if k.lower() == wanted), None)


def _lower_keys(body: dict[str, Any]) -> dict[str, Any]:
    # The CSDL names action parameters in PascalCase (Comment, SendResponse); clients send
    # camelCase.
    return {key.lower(): value for key, value in body.items()}


def _applied(prefs: odata.Preferences) -> dict[str, str]:
    return {"Preference-Applied": ", ".join(prefs.applied)} if prefs.applied else {}
