"""The pages benchmark (scenario P) at CI size, for correctness: every page of one event makes
the same SQL queries for its 2,000 people as for 50, and none is over 100 KB. Timings are for
``make bench``."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.benchmark_scenarios import run_scenario

pytestmark = pytest.mark.postgres


def test_the_pages_scenario_meets_its_targets(tmp_path: Path) -> None:
    # The scenario's stack makes its own PostgreSQL database.
    result = run_scenario("pages", tmp_path, timeout=600)

    checked = result.targets_met
    assert len(checked) == 12 and all(checked.values()), checked
