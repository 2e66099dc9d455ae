"""Cross-cutting behaviour of the API port: request ids and Graph error bodies."""

from __future__ import annotations

import uuid

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from m365_emulator.backend import Backend
from m365_emulator.errors import GraphError


class RequestIdMiddleware:
    """Give every request a ``request-id`` and echo ``client-request-id``, as Graph does.

    Both ids are kept in ``request.state`` (``request_id``, ``client_request_id``) so error
    bodies can repeat them.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        client_request_id = _header(scope, b"client-request-id") or request_id
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_request_id"] = client_request_id

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("request-id", request_id)
                headers.setdefault("client-request-id", client_request_id)
            await send(message)

        await self.app(scope, receive, send_with_ids)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def graph_error_response(backend: Backend, request: Request, exc: GraphError) -> Response:
    request_id = getattr(request.state, "request_id", None) or str(uuid.uuid4())
    client_request_id = getattr(request.state, "client_request_id", None) or request_id
    body = {
        "error": {
            "code": exc.code,
            "message": exc.message,
            "innerError": {
                "date": backend.clock.now().strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }
    headers = dict(exc.headers)
    headers["request-id"] = request_id
    headers["client-request-id"] = client_request_id
    return JSONResponse(body, status_code=exc.status, headers=headers)


def not_found_response(backend: Backend, request: Request, exc: HTTPException) -> Response:
    """Unknown Graph paths answer like Graph (400 BadRequest), others with a JSON 404/405."""
    if request.url.path.startswith("/v1.0"):
        segment = request.url.path.removeprefix("/v1.0/").split("/")[0]
        return graph_error_response(
            backend,
            request,
            GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'."),
        )
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
