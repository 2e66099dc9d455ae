"""The webhook's short way through an ASGI server.

Under ASGI, Django runs a synchronous view, and the hooks of each middleware, in a thread it
starts for that one request (asgiref's thread-sensitive context). For Graph's notifications
that costs several times what the webhook itself does: at 200 a second the endpoint fell
minutes behind. The webhook needs none of the middleware (no session, user, CSRF token or
page), so ``WebhookFastPath`` hands its two paths straight to the same view functions Django
routes to (and WSGI servers use), on a few long-lived threads, and everything else to Django.
The view still gets a real ``HttpRequest``, the host is still checked against
``ALLOWED_HOSTS``, and ``request_started`` / ``request_finished`` still run (they manage the
database connections).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from typing import Any

from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
View = Callable[[HttpRequest], HttpResponse]

# Each notification holds a thread for a database read or two: a few threads keep up with
# hundreds a second, and bound how many database connections the endpoint opens.
THREADS = 4
# Graph's deliveries are small (a notification is about half a kilobyte; a batch a few of
# them). A body above this is checked on a thread of its own, one at a time: a flood of large
# forged batches then waits behind itself instead of holding the threads that genuine
# notifications need (issue 19: ten at once delayed a real one from 10 ms to 6.4 s).
LARGE_BODY_BYTES = 32_000
# That one thread also shares the interpreter with the others: a flood kept it parsing without
# a pause and held Python's lock from genuine notifications (p99 in seconds). After each large
# body it rests this many times the CPU the body cost, so the flood gets at most a fifth of
# the process, and at most this many large bodies wait at once (each up to 1 MB in memory);
# more are answered 503, which Graph, for a genuine batch, delivers again later.
LARGE_BODY_REST = 4
LARGE_BODIES_WAITING = 32


class WebhookFastPath:
    """ASGI application: the webhook's paths to its views directly, the rest to ``django``."""

    def __init__(self, django: ASGIApp) -> None:
        self.django = django
        self._views: dict[str, View] | None = None
        self._threads = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="webhook")
        self._large = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-large")
        self._large_waiting = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = self._view(scope) if scope["type"] == "http" else None
        if view is None:
            await self.django(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the sender hung up
        loop = asyncio.get_running_loop()
        if len(body) <= LARGE_BODY_BYTES:
            response = await loop.run_in_executor(self._threads, _handle, view, scope, body)
        elif self._large_waiting >= LARGE_BODIES_WAITING:
            response = HttpResponse(status=503)
        else:
            self._large_waiting += 1  # only the event loop's thread counts them
            try:
                response = await loop.run_in_executor(self._large, _handle_large, view, scope, body)
            finally:
                self._large_waiting -= 1
        await _send_response(send, response)

    def close_connections(self) -> None:
        """Close the database connections the threads keep (persistent ones, with
        ``CONN_MAX_AGE``): before a database is dropped, as at the end of a test run."""
        barrier = threading.Barrier(THREADS)

        def close() -> None:
            barrier.wait(timeout=10)  # one job per thread: each closes its own
            connections.close_all()

        for job in [self._threads.submit(close) for _ in range(THREADS)]:
            job.result(timeout=15)
        self._large.submit(connections.close_all).result(timeout=15)

    def _view(self, scope: Scope) -> View | None:
        if self._views is None:
            # Imported on first use: Django's apps are ready by then.
            from django.urls import reverse

            from convene.outlook.inbound import webhook

            self._views = {
                reverse("outlook:webhook"): webhook.notifications,
                reverse("outlook:webhook_lifecycle"): webhook.lifecycle,
            }
        path = str(scope.get("path", ""))
        root = str(scope.get("root_path", ""))
        if root and path.startswith(root):
            path = path[len(root) :]
        return self._views.get(path)


async def _read_body(receive: Receive) -> bytes | None:
    """The body, cut one byte past the view's limit (so it still answers 413 for more)."""
    from convene.outlook.inbound.webhook import MAX_BODY_BYTES

    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk[: MAX_BODY_BYTES + 1 - size])
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _handle_large(view: View, scope: Scope, body: bytes) -> HttpResponse:
    """``_handle``, then a rest in proportion to the CPU it took (see LARGE_BODY_REST)."""
    started = time.thread_time()
    try:
        return _handle(view, scope, body)
    finally:
        time.sleep(LARGE_BODY_REST * (time.thread_time() - started))


def _handle(view: View, scope: Scope, body: bytes) -> HttpResponse:
    """Run in a pool thread, as Django's own handler would run the view."""
    signals.request_started.send(sender=WebhookFastPath, scope=scope)
    try:
        request = ASGIRequest(scope, BytesIO(body))
        try:
            request.get_host()
        except DisallowedHost:
            return HttpResponse(status=400)
        return view(request)
    except Exception:
        log.exception("The webhook failed")
        return HttpResponse(status=500)
    finally:
        for connection in connections.all(initialized_only=True):
            if _keeps_own_connection(connection.settings_dict):
                connection.close_at = None
        signals.request_finished.send(sender=WebhookFastPath)


def _keeps_own_connection(settings: Mapping[str, Any]) -> bool:
    """These few threads live as long as the server: without a pool each keeps its database
    connection (opening one, with its set-up, cost twice the notification itself when SQLite's
    CONN_MAX_AGE of 0 closed it after every request). A pooled connection goes back to the
    pool after each notification instead: five idle webhook threads holding five of the web
    process's pooled connections would starve its pages. A connection in error or left in a
    transaction is still closed by ``request_finished``, and a CONN_MAX_AGE above 0 applies."""
    return settings["CONN_MAX_AGE"] == 0 and not settings.get("OPTIONS", {}).get("pool")


async def _send_response(send: Send, response: HttpResponse) -> None:
    content = response.content
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.items()
    ]
    headers += [
        (b"content-length", str(len(content)).encode()),
        (b"x-content-type-options", b"nosniff"),
    ]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": content})
