"""How the tests share out among parallel workers (pytest-xdist, ``make test``).

Most tests run on any worker: each worker has its own test database, emulator, Huey queue
file and settings. Two kinds run together on one worker (``--dist loadgroup``):

- the browser tests of one module (tests/e2e): they share one Chromium, one live server and
  one emulator (package-scoped fixtures, so one set per worker that runs browser tests);
- tests that start worker *processes*: each keeps both cores busy on its own, and two at once
  only make each other's timing assumptions (leases, kills) meaningless.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
BROWSER = HERE / "e2e"
MULTI_PROCESS_FIXTURES = {"worker_process"}
MULTI_PROCESS_FILES = {HERE / "benchmarks" / "test_scale_out.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        if BROWSER in path.parents:
            item.add_marker(pytest.mark.xdist_group(f"browser-{path.stem}"))
        elif path in MULTI_PROCESS_FILES or MULTI_PROCESS_FIXTURES & set(
            getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.xdist_group("processes"))
