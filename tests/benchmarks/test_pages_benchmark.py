"""The pages benchmark (scenario P) at CI size, for correctness: every page of one event makes
the same SQL queries for its 2,000 people as for 50, and none is over 100 KB. Timings are for
``make bench``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


def test_the_pages_scenario_meets_its_targets(tmp_path: Path) -> None:
    out = tmp_path / "pages.json"
    command = [
        sys.executable, "-m", "benchmarks.scenarios", "pages",
        "--size", "ci", "--no-baseline", "--out", str(out),
    ]  # fmt: skip
    # The scenario's stack makes its own PostgreSQL database.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HUEY_REDIS_URL")}
    finished = subprocess.run(
        command, cwd=REPOSITORY, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    (result,) = json.loads(out.read_text())

    checked = {f["name"]: f["met"] for f in result["figures"] if f["met"] is not None}
    assert len(checked) == 12 and all(checked.values()), checked
