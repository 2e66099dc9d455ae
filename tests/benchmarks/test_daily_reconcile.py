"""The daily reconcile benchmark (scenario R) at CI size, for correctness: nothing changed in
Outlook -> no PATCH, no message, at most one listing per 50 events of a mailbox; copies edited
in Outlook -> exactly those read and put back. Timings are for ``make bench``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


def test_the_daily_reconcile_scenario_meets_its_targets(tmp_path: Path) -> None:
    out = tmp_path / "reconcile.json"
    command = [
        sys.executable, "-m", "benchmarks.scenarios", "reconcile",
        "--size", "ci", "--threads", "4", "--no-baseline", "--out", str(out),
    ]  # fmt: skip
    # The scenario's stack makes its own database and queue (SQLite in its var dir).
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HUEY_REDIS_URL")}
    finished = subprocess.run(
        command, cwd=REPOSITORY, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    (result,) = json.loads(out.read_text())

    checked = {f["name"]: f["met"] for f in result["figures"] if f["met"] is not None}
    assert checked and all(checked.values()), checked
