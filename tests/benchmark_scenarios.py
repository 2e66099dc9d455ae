"""Running one benchmark scenario at CI size from a test in tests/benchmarks, the way
``make bench-ci`` does: ``python -m benchmarks.scenarios <name> --size ci --no-baseline --out
<file>`` in a process of its own, then its JSON read back. The tests check the figures for
correctness; timings are for ``make bench`` (CI machines are shared).

A scenario either builds its own stack (SQLite database and queue in its var dir, or a
PostgreSQL database of its own), or, with ``SharedServers``, runs on the CI run's PostgreSQL and
a Redis database set aside for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from benchmarks.stack import reachable

REPOSITORY = Path(__file__).resolve().parents[1]
# What the test process itself runs on; a scenario with its own stack must not inherit it.
TEST_RUN_SERVERS = ("DATABASE_URL", "HUEY_REDIS_URL")


@dataclass(frozen=True)
class SharedServers:
    """The PostgreSQL server of DATABASE_URL and a Redis database, for a scenario whose workers
    are processes of their own. Each scenario has its own Redis database and database-name
    prefix so that two of them never share state."""

    redis_db: int
    database_prefix: str

    def environment(self, scenario: str) -> dict[str, str]:
        """The variables the scenario reads; skips the test when a server is not reachable, and
        fails it on CI, where both must be."""
        redis_url = os.environ.get("BENCH_CI_REDIS_URL", f"redis://127.0.0.1:6379/{self.redis_db}")
        env = {
            "POSTGRES_URL": os.environ["DATABASE_URL"],
            "BENCH_REDIS_URL": redis_url,
            "BENCH_DATABASE_PREFIX": self.database_prefix,
        }
        problems = reachable(env["POSTGRES_URL"], env["BENCH_REDIS_URL"])
        if problems:
            message = "; ".join(
                f"{name} is not reachable ({why})" for name, why in problems.items()
            )
            if os.environ.get("CI") == "true":
                pytest.fail(f"{message}, and CI requires it.")
            pytest.skip(f"{message}: start it to run the {scenario} check.")
        return env


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario's result: its figures by name (each with ``value`` and ``met``, which is
    None for a figure without a target) and its free-form details."""

    figures: dict[str, dict[str, Any]]
    details: dict[str, Any]

    @property
    def values(self) -> dict[str, Any]:
        return {name: figure["value"] for name, figure in self.figures.items()}

    @property
    def targets_met(self) -> dict[str, bool]:
        """Whether each figure that has a target met it."""
        with_targets = {name: f for name, f in self.figures.items() if f["met"] is not None}
        return {name: figure["met"] for name, figure in with_targets.items()}


def run_scenario(
    name: str,
    out_dir: Path,
    *,
    timeout: float,
    threads: int | None = None,
    servers: SharedServers | None = None,
) -> ScenarioResult:
    """Runs scenario ``name`` at CI size and returns its result; the test fails with the end of
    the scenario's output when it does not finish cleanly."""
    out = out_dir / f"{name}.json"
    command = [sys.executable, "-m", "benchmarks.scenarios", name, "--size", "ci"]
    if threads is not None:
        command += ["--threads", str(threads)]
    command += ["--no-baseline", "--out", str(out)]
    if servers is None:
        env = {k: v for k, v in os.environ.items() if k not in TEST_RUN_SERVERS}
    else:
        env = {**os.environ, **servers.environment(name)}
    finished = subprocess.run(
        command, cwd=REPOSITORY, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    (result,) = json.loads(out.read_text())
    figures = {figure["name"]: figure for figure in result["figures"]}
    return ScenarioResult(figures=figures, details=result["details"])
