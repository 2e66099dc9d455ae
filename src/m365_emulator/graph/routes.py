"""Routes of the Graph area: the Graph API, its control endpoints and the mailbox viewer."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from m365_emulator.errors import GraphError
from m365_emulator.graph.api import GraphApi, GraphRequest, GraphResponse
from m365_emulator.graph.batch import run_batch
from m365_emulator.graph.control import control_routes as _control_routes
from m365_emulator.graph.viewer import viewer_routes
from m365_emulator.identity.access import authenticate

if TYPE_CHECKING:
    from m365_emulator.backend import Backend

# Graph's own content type for JSON answers.
JSON_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)
SWEEP_SECONDS = 1.0


def attach_loop(backend: Backend) -> None:
    """Deliver notifications and run subscription housekeeping on the server's loop."""
    store = backend.graph
    loop = asyncio.get_running_loop()
    if store.notifier.bind(loop):

        def tick() -> None:
            store.subscriptions.sweep()
            if not loop.is_closed():
                loop.call_later(SWEEP_SECONDS, tick)

        loop.call_later(SWEEP_SECONDS, tick)


def api_routes(backend: Backend) -> list[BaseRoute]:
    """Mounted under ``/v1.0`` on the TLS API port."""
    api = GraphApi(backend)

    async def endpoint(request: Request) -> Response:
        attach_loop(backend)
        backend.graph.subscriptions.sweep()
        backend.graph.provision_due_meetings()
        caller = authenticate(backend, request)
        graph_request = GraphRequest(
            method=request.method,
            path=request.path_params["path"],
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
            caller=caller,
            base_url=f"{request.url.scheme}://{request.url.netloc}/v1.0",
        )
        if graph_request.path.strip("/").lower() == "$batch":
            if request.method != "POST":
                raise GraphError(405, "BadRequest", "Batch requests must be POSTed.")
            status = 500
            started = time.time()
            try:
                response = await run_batch(api, graph_request)
                status = response.status
            except GraphError as exc:
                status = exc.status
                raise
            finally:
                backend.graph.stats.request(caller.client_id, None, "batch", status, started)
        else:
            response = await api.dispatch(graph_request)
        return render(response)

    return [
        Route(
            "/{path:path}",
            endpoint,
            methods=["GET", "POST", "PATCH", "DELETE", "PUT"],
        )
    ]


def render(response: GraphResponse) -> Response:
    if response.body is None:
        return Response(status_code=response.status, headers=response.headers)
    return JSONResponse(
        response.body, status_code=response.status, headers=response.headers, media_type=JSON_TYPE
    )


def control_routes(backend: Backend) -> list[BaseRoute]:
    """Mounted under ``/_emulator`` on the API port (mailboxes, respond, stats)."""
    return _control_routes(backend, attach_loop)


def ui_routes(backend: Backend) -> list[BaseRoute]:
    """Mounted on the plain-HTTP UI port (the mailbox viewer)."""
    return viewer_routes(backend, attach_loop)
