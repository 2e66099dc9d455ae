"""The daily reconcile benchmark (scenario R) at CI size, for correctness: nothing changed in
Outlook -> no PATCH, no message, at most one listing per 50 events of a mailbox; copies edited
in Outlook -> exactly those read and put back. Timings are for ``make bench``."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.benchmark_scenarios import run_scenario

pytestmark = pytest.mark.postgres


def test_the_daily_reconcile_scenario_meets_its_targets(tmp_path: Path) -> None:
    result = run_scenario("reconcile", tmp_path, threads=4, timeout=300)

    checked = result.targets_met
    assert checked and all(checked.values()), checked
