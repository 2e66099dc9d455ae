"""Killing a worker process for real (SIGKILL: no cleanup, requests cut mid-flight) at random
moments and starting it again. Used by the crash scenario of ``make bench`` and by its reduced
version in tests/convene/outlook/test_resilience.py."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Callable

Worker = subprocess.Popen[bytes]


def kill_and_restart(
    worker: Worker,
    start: Callable[[], Worker],
    *,
    kills: int,
    dice: random.Random,
    between: tuple[float, float],
    working: Callable[[], None] = lambda: None,
) -> tuple[Worker, list[float]]:
    """Kill ``worker`` ``kills`` times, each after a random pause drawn from ``between``
    seconds, starting a new one each time; returns the last one and when each kill happened
    (``time.monotonic()``). ``working`` returns once the worker is at work (so that a kill
    lands mid-work, not while it is still starting up)."""
    moments = []
    for _ in range(kills):
        working()
        time.sleep(dice.uniform(*between))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        moments.append(time.monotonic())
        worker = start()
    return worker, moments
