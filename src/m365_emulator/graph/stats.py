"""Counters of what clients asked and what the emulator answered, for tests and benchmarks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_app: Counter[str] = Counter()
            self.by_mailbox: Counter[str] = Counter()
            self.by_operation: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.throttled = 0
            self.throttled_by_mailbox: Counter[str] = Counter()
            self.notifications: Counter[str] = Counter()
            self.batches_by_mailbox: Counter[str] = Counter()
            # Wall-clock times (epoch seconds) of the first request's arrival and the last
            # answer since the reset: the span a client's requests took, for benchmarks.
            self.first_started: float | None = None
            self.last_answered: float | None = None

    def request(
        self,
        app: str | None,
        mailbox: str | None,
        operation: str,
        status: int,
        started: float | None = None,
    ) -> None:
        """One Graph request answered (``started``: when it arrived, ``time.time()``)."""
        with self._lock:
            if started is not None and (self.first_started is None or started < self.first_started):
                self.first_started = started
            self.last_answered = time.time()
            self.total += 1
            if app:
                self.by_app[app] += 1
            if mailbox:
                self.by_mailbox[mailbox] += 1
            self.by_operation[operation] += 1
            self.by_status[str(status)] += 1
            if status == 429:
                self.throttled += 1
                if mailbox:
                    self.throttled_by_mailbox[mailbox] += 1

    def batch(self, mailboxes: set[str]) -> None:
        """A JSON batch ran; counted once for each mailbox its requests addressed."""
        with self._lock:
            for mailbox in mailboxes:
                self.batches_by_mailbox[mailbox] += 1

    def notification(self, outcome: str) -> None:
        with self._lock:
            self.notifications[outcome] += 1

    def snapshot(self, max_concurrency: list[dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": {
                    "total": self.total,
                    "byApp": dict(self.by_app),
                    "byMailbox": dict(self.by_mailbox),
                    "byOperation": dict(self.by_operation),
                    "byStatus": dict(self.by_status),
                    "firstStarted": self.first_started,
                    "lastAnswered": self.last_answered,
                },
                "maxConcurrency": max_concurrency,
                "batches": {"byMailbox": dict(self.batches_by_mailbox)},
                "throttled": {
                    "total": self.throttled,
                    "byMailbox": dict(self.throttled_by_mailbox),
                },
                "notifications": {
                    "delivered": self.notifications["delivered"],
                    "failed": self.notifications["failed"],
                    "retried": self.notifications["retried"],
                    "suppressed": self.notifications["suppressed"],
                    "lifecycleDelivered": self.notifications["lifecycleDelivered"],
                    "lifecycleFailed": self.notifications["lifecycleFailed"],
                    "unmatched": self.notifications["unmatched"],
                },
            }
