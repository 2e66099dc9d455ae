"""Running a few child processes together for development: start them all, stop them all when
asked or as soon as one of them dies.

Each child gets its own process group, so that stopping it also stops whatever it started
(Django's autoreloader runs the server in a grandchild).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

POLL_SECONDS = 0.2
GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: Sequence[str]


@dataclass(frozen=True)
class Outcome:
    """Why supervision ended: ``died`` names the child that exited by itself, if any."""

    died: str | None
    returncode: int | None


class Supervisor:
    def __init__(self, children: Sequence[ChildSpec], env: Mapping[str, str] | None = None):
        self.children = list(children)
        self.env = dict(env) if env is not None else None
        self.stop_requested = threading.Event()
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def request_stop(self, *_: object) -> None:
        """Usable as a signal handler."""
        self.stop_requested.set()

    def run(self) -> Outcome:
        try:
            for child in self.children:
                self.running[child.name] = subprocess.Popen(  # noqa: S603 - our own argv
                    list(child.argv), env=self.env, start_new_session=True
                )
            return self._watch()
        finally:
            self.stop_all()

    def _watch(self) -> Outcome:
        while not self.stop_requested.is_set():
            for name, process in self.running.items():
                returncode = process.poll()
                if returncode is not None:
                    return Outcome(died=name, returncode=returncode)
            self.stop_requested.wait(POLL_SECONDS)
        return Outcome(died=None, returncode=None)

    def stop_all(self) -> None:
        for process in self.running.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for process in self.running.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    # ProcessLookupError: already gone, with its whole group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
