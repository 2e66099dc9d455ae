"""Outlook's per app and mailbox limits: concurrent requests and requests per time window.

Counters live on the event loop's thread and change only between awaits, but the backend lock
guards them anyway because the UI server or a test may run elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from m365_emulator.errors import GraphError

if TYPE_CHECKING:
    from m365_emulator.backend import Backend

Key = tuple[str, str]  # (app client id, mailbox user id)


class Limits:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._in_flight: dict[Key, int] = {}
        # Fixed windows: key -> (window start timestamp, requests counted in it).
        self._windows: dict[Key, tuple[float, int]] = {}
        self._max_seen: dict[Key, int] = {}

    def reset(self) -> None:
        with self.backend.lock:
            self._in_flight.clear()
            self._windows.clear()
            self._max_seen.clear()

    def forget_most_in_flight(self) -> None:
        with self.backend.lock:
            self._max_seen.clear()

    def most_in_flight(self) -> dict[Key, int]:
        """The most requests each app had in flight on each mailbox at once."""
        with self.backend.lock:
            return dict(self._max_seen)

    @contextmanager
    def slot(self, client_id: str, mailbox_id: str) -> Iterator[None]:
        """Hold one of the app's request slots on this mailbox, or raise Graph's 429."""
        key = (client_id, mailbox_id)
        self._enter(key)
        try:
            yield
        finally:
            with self.backend.lock:
                self._in_flight[key] -= 1

    def _enter(self, key: Key) -> None:
        config = self.backend.config
        with self.backend.lock:
            in_flight = self._in_flight.get(key, 0)
            if config.throttling and in_flight >= config.mailbox_concurrency:
                raise GraphError(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    {"Retry-After": "1"},
                )
            if config.throttling:
                now = self.backend.clock.timestamp()
                started, count = self._windows.get(key, (now, 0))
                if now - started >= config.mailbox_window_seconds:
                    started, count = now, 0
                if count >= config.mailbox_requests_per_window:
                    wait = max(1, math.ceil(started + config.mailbox_window_seconds - now))
                    raise GraphError(
                        429,
                        "TooManyRequests",
                        "Please retry again later.",
                        {"Retry-After": str(wait)},
                    )
                self._windows[key] = (started, count + 1)
            self._in_flight[key] = in_flight + 1
            if in_flight + 1 > self._max_seen.get(key, 0):
                self._max_seen[key] = in_flight + 1
