"""Sampling the worker processes with py-spy while they sync, and where their CPU goes.

py-spy samples only threads that are on the CPU (not waiting on Microsoft or the database), so
the shares below are shares of CPU time. Each sample is put in the *outermost* library it is
in (an ORM query's SQL compilation and its driver call both count as "database"; a JSON parse
inside MSAL counts as MSAL), and Convene's own functions are also counted inclusively.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

CATEGORIES = [
    ("logging", re.compile(r"/logging/")),
    ("MSAL (token cache, silent token)", re.compile(r"/msal/")),
    ("Fernet decrypt/encrypt", re.compile(r"/cryptography/|convene/outlook/microsoft/crypto\.py")),
    ("database (Django ORM + driver)", re.compile(r"/django/db/|sqlite3|psycopg")),
    ("HTTP (httpx, httpcore, TLS)", re.compile(r"/httpx/|/httpcore/|ssl\.py|/h11/")),
    ("HTML sanitizer (nh3)", re.compile(r"nh3")),
    ("JSON", re.compile(r"/json/")),
    ("Huey (queue, scheduling)", re.compile(r"/huey/")),
    ("ASGI server (uvicorn, asgiref, asyncio)", re.compile(r"/uvicorn/|/asgiref/|/asyncio/")),
    ("Django (other)", re.compile(r"/django/")),
]
# Leaf frames of a thread that is waiting, not computing (py-spy sometimes samples them).
_WAITING = re.compile(r"^(Condition\.wait|Event\.wait|Lock\.acquire|sleep|select|poll|recv)")
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    here = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


class Sampler:
    """``py-spy record`` on each worker process until ``stop()``."""

    def __init__(self, pids: list[int], directory: Path) -> None:
        tool = py_spy()
        self.outputs = [directory / f"profile-{pid}.txt" for pid in pids]
        self.processes: list[subprocess.Popen[bytes]] = []
        if tool is None:
            print("  py-spy is not installed (pip install py-spy): no profile", flush=True)
            return
        for pid, output in zip(pids, self.outputs, strict=True):
            self.processes.append(
                subprocess.Popen(
                    [
                        tool,
                        "record",
                        "-p",
                        str(pid),
                        "-f",
                        "raw",
                        "-r",
                        "250",
                        "-o",
                        str(output),
                        "--nonblocking",
                        "--full-filenames",
                        # BENCH_PROFILE_IDLE=1: waiting threads too (where wall time goes).
                        *(["--idle"] if os.environ.get("BENCH_PROFILE_IDLE") == "1" else []),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    def stop(self) -> list[Path]:
        for process in self.processes:
            process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        return [p for p in self.outputs if p.exists()]


def summarize(files: list[Path], events: int, cpu_seconds: float) -> dict[str, Any]:
    """CPU split by library (ms per synced event) and the costliest Convene functions."""
    by_category: Counter[str] = Counter()
    convene: Counter[str] = Counter()
    total = 0
    for file in files:
        for line in file.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not count_text.isdigit():
                continue
            count = int(count_text)
            if _WAITING.match(stack.rsplit(";", 1)[-1]):
                continue
            total += count
            frames = [_FRAME.match(f) for f in stack.split(";")]
            by_category[_category(frames)] += count
            seen = set()
            for frame in frames:
                if frame and "convene/" in frame["file"]:
                    name = f"{_module(frame['file'])}.{frame['function']}"
                    if name not in seen:
                        seen.add(name)
                        convene[name] += count
    if not total or not events:
        return {"samples": total}
    per_event_ms = cpu_seconds * 1000 / events

    def share(count: int) -> dict[str, float]:
        return {
            "share": round(count / total, 3),
            "ms_per_event": round(per_event_ms * count / total, 2),
        }

    return {
        "samples": total,
        "cpu_ms_per_event": round(per_event_ms, 2),
        "by_category": {k: share(v) for k, v in by_category.most_common()},
        "convene_functions_inclusive": {k: share(v) for k, v in convene.most_common(15)},
    }


WRAPPERS = {"Huey (queue, scheduling)", "ASGI server (uvicorn, asgiref, asyncio)"}


def _category(frames: list[re.Match[str] | None]) -> str:
    known = [f for f in frames if f is not None]
    first = next((i for i, f in enumerate(known) if "convene/" in f["file"]), None)
    # Below Convene's first frame (a task or a view calling in), the outermost library wins;
    # stacks without Convene (Huey polling its queue, Django's middleware) go by their own
    # frames. Huey and the ASGI server wrap everything, so they count only when nothing
    # more specific is on the stack.
    wrapper = ""
    for frame in known[first or 0 :]:
        file = frame["file"]
        if "convene/" in file and "crypto.py" not in file:
            continue
        for name, pattern in CATEGORIES:
            if pattern.search(file):
                if name not in WRAPPERS:
                    return name
                wrapper = wrapper or name
    if wrapper:
        return wrapper
    return "Convene's own code" if first is not None else "other (interpreter, threads)"


def _module(file: str) -> str:
    tail = file.split("convene/", 1)[1]
    return "convene." + tail.removesuffix(".py").replace("/", ".")
