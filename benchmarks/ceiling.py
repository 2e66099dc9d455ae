"""The fastest any client may go under Microsoft's limits: the ceiling backfills are held to.

Outlook's limits are per app and mailbox: at most ``C`` = 4 requests in flight and ``W`` =
10,000 requests per ``T`` = 10 minutes. Each request takes ``L`` (the mean answer time: the
emulator's latency plus half its jitter, 80 + 40/2 = 100 ms, from the request's arrival to its
answer; the emulator spends its own work on a request within that time, and delivers a
create's invitations after answering it, as Exchange's transport does: see
``m365_emulator.graph.api`` and ``transport``). Mailboxes are independent, so

* a mailbox that needs ``n <= W`` requests needs at least ``ceil(n / C)`` rounds of ``L``:
  ``t = ceil(n / C) * L``;
* beyond ``W`` it also waits for new windows: ``t = (k - 1) * T + ceil((n - (k - 1) * W) / C) * L``
  with ``k = ceil(n / W)`` windows;
* the whole job takes the slowest mailbox's ``t`` (all mailboxes proceed side by side), and the
  ceiling throughput is ``N / max(t)`` requests per second.

The steady-state rate over many mailboxes is ``sum over mailboxes of min(C / L, W / T)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

CONCURRENCY = 4
WINDOW_REQUESTS = 10_000
WINDOW_SECONDS = 600.0

FORMULA = (
    "ceiling wall time = max over mailboxes of ceil(n/C) x L (n: requests on the mailbox, "
    "C = 4 in flight, L = mean latency; + a 10-minute wait per 10,000 requests beyond the "
    "first window); ceiling rate = requests / that time"
)


@dataclass(frozen=True)
class Ceiling:
    seconds: float  # shortest possible wall time
    per_second: float  # requests per second at that wall time


def mean_latency(latency_ms: float, jitter_ms: float) -> float:
    """Seconds: the emulator adds ``latency + uniform(0, jitter)``."""
    return (latency_ms + jitter_ms / 2) / 1000


def mailbox_seconds(requests: int, latency: float) -> float:
    if requests <= 0:
        return 0.0
    windows = math.ceil(requests / WINDOW_REQUESTS)
    last = requests - (windows - 1) * WINDOW_REQUESTS
    return (windows - 1) * WINDOW_SECONDS + math.ceil(last / CONCURRENCY) * latency


def ceiling(requests_per_mailbox: Iterable[int], latency: float) -> Ceiling:
    counts = list(requests_per_mailbox)
    seconds = max((mailbox_seconds(n, latency) for n in counts), default=0.0)
    total = sum(counts)
    return Ceiling(seconds=seconds, per_second=total / seconds if seconds else 0.0)
