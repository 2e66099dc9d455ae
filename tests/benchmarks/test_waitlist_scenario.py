"""The waitlist benchmark (scenario W) at CI size, for correctness and its target: each decline
in Outlook puts the first person waiting on the meeting (p95 within 5 s), the decliner's copy is
cancelled, the second person waiting gets nothing, nobody has two copies."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.benchmark_scenarios import run_scenario

pytestmark = pytest.mark.postgres


def test_the_waitlist_scenario_meets_its_targets(tmp_path: Path) -> None:
    result = run_scenario("waitlist", tmp_path, threads=4, timeout=300)

    assert result.values["declines measured"] == 3
    checked = result.targets_met
    assert len(checked) == 2 and all(checked.values()), checked
