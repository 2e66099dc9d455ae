"""The scale-out benchmark at CI size, checked for correctness only (issue 7): PostgreSQL,
Huey on Redis, three worker processes, the emulator with Microsoft's limits as a process of its
own; every event exactly once in Outlook with exactly its people, and never more than four
requests in flight on one mailbox across the processes.

Timings are not checked here: CI machines are shared. ``make bench`` measures them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from benchmarks.stack import reachable

REPOSITORY = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


@pytest.fixture
def servers() -> dict[str, str]:
    """Environment for the run: the PostgreSQL server of DATABASE_URL, a Redis database and
    database names of the CI run's own."""
    env = {
        "POSTGRES_URL": os.environ["DATABASE_URL"],
        "BENCH_REDIS_URL": os.environ.get("BENCH_CI_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "BENCH_DATABASE_PREFIX": "convene_bench_ci",
    }
    problems = reachable(env["POSTGRES_URL"], env["BENCH_REDIS_URL"])
    if problems:
        message = "; ".join(f"{name} is not reachable ({why})" for name, why in problems.items())
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}, and CI requires it.")
        pytest.skip(f"{message}: start it to run the scale-out check.")
    return env


def run_scale_out(env: dict[str, str], out: Path) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "benchmarks.scenarios", "scale-out",
        "--size", "ci", "--threads", "4", "--no-baseline", "--out", str(out),
    ]  # fmt: skip
    finished = subprocess.run(
        command,
        cwd=REPOSITORY,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    (result,) = json.loads(out.read_text())
    return {figure["name"]: figure["value"] for figure in result["figures"]}


def test_scale_out_writes_each_event_once_within_the_mailbox_limit(
    servers: dict[str, str], tmp_path: Path
) -> None:
    figures = run_scale_out(servers, tmp_path / "result.json")

    assert figures["events in the owner mailboxes"] == 48
    assert figures["events written twice (by iCalUId / transactionId)"] == 0
    assert figures["events whose attendees differ from Convene's"] == 0
    # 8 events per mailbox and 12 threads: the limit was reached, and never passed.
    assert 1 <= figures["most requests in flight on one mailbox"] <= 4
