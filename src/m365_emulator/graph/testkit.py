"""Helpers for tests that drive the Graph area: a webhook receiver and event bodies.

``WebhookReceiver`` is a tiny threaded HTTP server on loopback that answers Graph's validation
handshake and records every notification it receives; tests (ours and Convene's) point
subscriptions at it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class WebhookReceiver:
    """Records POSTed notifications; behaviour is adjustable while it runs.

    * ``echo_validation``: answer ``?validationToken=`` with the token (else with ``wrong``).
    * ``validation_delay``: seconds to wait before answering a validation request.
    * ``fail_next``: answer this many notifications with ``fail_status`` before accepting.
    * ``delay``: seconds to wait before answering a notification.
    """

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.validations: list[str] = []
        self.attempts = 0
        self.echo_validation = True
        self.validation_delay = 0.0
        self.fail_next = 0
        self.fail_status = 503
        self.delay = 0.0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/notify"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def notifications(self) -> list[dict[str, Any]]:
        """Every notification received, flattened out of their collections."""
        with self._lock:
            return [item for body in self.received for item in body.get("value", [])]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` notifications arrived; return them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.notifications()
            if len(found) >= count:
                return found
            time.sleep(0.01)
        return self.notifications()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                token = parse_qs(urlsplit(self.path).query).get("validationToken")
                if token:
                    receiver.validations.append(token[0])
                    time.sleep(receiver.validation_delay)
                    answer = token[0] if receiver.echo_validation else "wrong"
                    self._answer(200, answer.encode(), "text/plain")
                    return
                with receiver._lock:
                    receiver.attempts += 1
                    failing = receiver.fail_next > 0
                    if failing:
                        receiver.fail_next -= 1
                time.sleep(receiver.delay)
                if failing:
                    self._answer(receiver.fail_status, b"", "text/plain")
                    return
                with receiver._lock:
                    receiver.received.append(json.loads(raw or b"{}"))
                self._answer(202, b"", "text/plain")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


def event_body(
    subject: str = "Planning",
    start: str = "2030-03-04T10:00:00",
    end: str = "2030-03-04T11:00:00",
    time_zone: str = "UTC",
    attendees: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """A create-event body as a client sends it."""
    body: dict[str, Any] = {
        "subject": subject,
        "start": {"dateTime": start, "timeZone": time_zone},
        "end": {"dateTime": end, "timeZone": time_zone},
    }
    if attendees:
        body["attendees"] = [
            {"emailAddress": {"address": address}, "type": "required"} for address in attendees
        ]
    body.update(extra)
    return body
