"""Control endpoints of the Graph area (under ``/_emulator``): look into mailboxes, act as
their owners, drive subscriptions' lifecycle, switch notification delivery, read statistics.

Everything here answers JSON and needs no token: the emulator is a test tool.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from m365_emulator.errors import GraphError
from m365_emulator.graph import serialize
from m365_emulator.graph.sending import limits_from_json
from m365_emulator.graph.subscriptions import to_json as subscription_json

if TYPE_CHECKING:
    from m365_emulator.backend import Backend
    from m365_emulator.directory import User

Endpoint = Callable[[Request], Any]


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise GraphError(400, "BadRequest", "The body must be JSON.") from None
    if not isinstance(data, dict):
        raise GraphError(400, "BadRequest", "The body must be a JSON object.")
    return data


def mailbox_events_json(backend: Backend, user: User) -> list[dict[str, Any]]:
    events = sorted(backend.graph.events(user), key=lambda e: (e.start, e.created))
    return [serialize.event_json(e, extended_ids=list(e.extended)) for e in events]


def control_routes(backend: Backend, attach_loop: Callable[[Backend], None]) -> list[BaseRoute]:
    store = backend.graph

    def user_of(request: Request) -> User:
        user = backend.user(request.path_params["upn"])
        if user is None:
            raise GraphError(404, "ErrorItemNotFound", f"No user {request.path_params['upn']}.")
        return user

    def on_loop(endpoint: Endpoint) -> Endpoint:
        async def wrapped(request: Request) -> Response:
            attach_loop(backend)
            result: Response = await endpoint(request)
            return result

        return wrapped

    async def events(request: Request) -> Response:
        user = user_of(request)
        return JSONResponse({"mailbox": user.upn, "value": mailbox_events_json(backend, user)})

    async def create_event(request: Request) -> Response:
        user = user_of(request)
        event, _ = store.create_event(user, await _body(request))
        return JSONResponse(serialize.event_json(event), status_code=201)

    async def event(request: Request) -> Response:
        user = user_of(request)
        event_id = request.path_params["event_id"]
        if request.method == "DELETE":
            store.delete_event(user, event_id)
            return Response(status_code=204)
        if request.method == "PATCH":
            found = store.update_event(user, event_id, await _body(request))
        else:
            found = store.event(user, event_id)
        return JSONResponse(serialize.event_json(found, extended_ids=list(found.extended)))

    async def respond(request: Request) -> Response:
        user = user_of(request)
        body = await _body(request)
        response = body.get("response")
        if response not in ("accept", "decline", "tentativelyAccept"):
            raise GraphError(
                400, "BadRequest", 'response must be "accept", "decline" or "tentativelyAccept"'
            )
        found = store.respond(
            user,
            request.path_params["event_id"],
            str(response),
            comment=str(body.get("comment") or ""),
            send_response=body.get("sendResponse", True) is not False,
        )
        return JSONResponse(serialize.event_json(found))

    async def messages(request: Request) -> Response:
        user = user_of(request)
        found = sorted(store.messages(user), key=lambda m: m.received)
        return JSONResponse(
            {"mailbox": user.upn, "value": [serialize.message_json(m) for m in found]}
        )

    async def sending(request: Request) -> Response:
        """A mailbox's sending limits and what it sent in the last 24 hours; POST sets its
        limits (any of recipientsPerMessage, recipientsPerDay, messagesPerMinute)."""
        user = user_of(request)
        if request.method == "POST":
            body = await _body(request)
            store.sending.set_limits(
                user.id, limits_from_json(body, store.sending.limits_of(user.id))
            )
        return JSONResponse({"mailbox": user.upn, **store.sending.usage(user.id)})

    async def subscriptions(request: Request) -> Response:
        store.subscriptions.sweep()
        return JSONResponse({"value": [subscription_json(s) for s in store.subscriptions.all()]})

    async def lifecycle(request: Request) -> Response:
        body = await _body(request)
        found = store.subscriptions.trigger(
            request.path_params["subscription_id"], str(body.get("lifecycleEvent"))
        )
        return JSONResponse(subscription_json(found))

    async def notifications(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            settings = store.notifier.settings
            if "enabled" in body:
                settings.enabled = body["enabled"] is True
            if "timeoutSeconds" in body:
                settings.timeout_seconds = float(body["timeoutSeconds"])
            if "retryDelaysSeconds" in body:
                settings.retry_delays = tuple(float(d) for d in body["retryDelaysSeconds"])
        return JSONResponse(store.notifier.settings.to_json())

    async def graph_settings(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            if "processingMs" in body:
                value = body["processingMs"]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise GraphError(400, "BadRequest", "processingMs must be an integer >= 0")
                store.backend.config.mailbox_service_ms = value
        # The same setting as EmulatorConfig.mailbox_service_ms (kept under this name for the
        # clients of this call).
        return JSONResponse({"processingMs": store.backend.config.mailbox_service_ms})

    async def meetings(request: Request) -> Response:
        """A census of one meeting across every mailbox, by subject: who holds which copy,
        and the meeting messages each mailbox received (tests of big events read this rather
        than thousands of mailboxes one by one)."""
        subject = request.query_params.get("subject", "")
        if not subject:
            raise GraphError(400, "BadRequest", "subject is required")

        def upn(owner_id: str) -> str:
            user = backend.user(owner_id)
            return user.upn if user is not None else owner_id

        events = [
            {
                "mailbox": upn(e.owner_id),
                "id": e.id,
                "iCalUId": e.ical_uid,
                "isOrganizer": e.is_organizer,
                "isCancelled": e.is_cancelled,
                "start": e.start.isoformat(),
                "location": str((e.props.get("location") or {}).get("displayName") or ""),
                "attendees": [a.address.lower() for a in e.attendees],
                "hideAttendees": bool(e.props.get("hideAttendees")),
                "showAs": e.props.get("showAs"),
                "isReminderOn": e.props.get("isReminderOn"),
                "isOnlineMeeting": e.is_online_meeting,
                "joinUrl": e.join_url,
                "body": str((e.props.get("body") or {}).get("content") or ""),
                # A series: its master, an exception (changed occurrence) with its master and
                # original start, and the original starts of occurrences cancelled from it.
                "type": e.type,
                "seriesMasterId": e.series_master_id,
                "originalStart": e.original_start.isoformat() if e.original_start else None,
                "cancelledStarts": sorted(start.isoformat() for start in e.cancelled_starts),
            }
            for e in store.events_with_subject(subject)
        ]
        messages = [
            {
                "mailbox": upn(m.owner_id),
                "type": m.meeting_message_type,
                "requestType": m.meeting_request_type,
                "iCalUId": m.ical_uid,
                "to": len(m.to),
            }
            for m in store.messages_with_subject(subject)
        ]
        return JSONResponse({"events": events, "messages": messages})

    async def stats(request: Request) -> Response:
        return JSONResponse(stats_json(backend))

    async def reset_stats(request: Request) -> Response:
        store.stats.reset()
        store.limits.forget_most_in_flight()
        return JSONResponse(stats_json(backend))

    mailbox = "/mailboxes/{upn}"
    return [
        Route(f"{mailbox}/events", on_loop(events), methods=["GET"]),
        Route(f"{mailbox}/events", on_loop(create_event), methods=["POST"]),
        Route(f"{mailbox}/events/{{event_id}}", on_loop(event), methods=["GET", "PATCH", "DELETE"]),
        Route(f"{mailbox}/events/{{event_id}}/respond", on_loop(respond), methods=["POST"]),
        Route(f"{mailbox}/messages", on_loop(messages), methods=["GET"]),
        Route(f"{mailbox}/sending", on_loop(sending), methods=["GET", "POST"]),
        Route("/subscriptions", on_loop(subscriptions), methods=["GET"]),
        Route("/subscriptions/{subscription_id}/lifecycle", on_loop(lifecycle), methods=["POST"]),
        Route("/notifications", on_loop(notifications), methods=["GET", "POST"]),
        Route("/graph/settings", on_loop(graph_settings), methods=["GET", "POST"]),
        Route("/stats", on_loop(stats), methods=["GET"]),
        Route("/meetings", on_loop(meetings), methods=["GET"]),
        Route("/stats/reset", on_loop(reset_stats), methods=["POST"]),
    ]


def stats_json(backend: Backend) -> dict[str, Any]:
    store = backend.graph
    seen = store.limits.most_in_flight()
    rows = []
    for (client_id, user_id), most in sorted(seen.items()):
        user = backend.user(user_id)
        rows.append(
            {"app": client_id, "mailbox": user.upn if user else user_id, "maxConcurrent": most}
        )
    return {**store.stats.snapshot(rows), "transport": {"pending": store.transport.pending}}
