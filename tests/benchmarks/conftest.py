"""The benchmark checks need PostgreSQL and Redis: they run with ``make test-postgres`` (or
``make bench-ci``), i.e. when DATABASE_URL points at PostgreSQL, and are deselected otherwise."""

from __future__ import annotations

import os

import pytest
from tests.postgres_only import deselect_unless_on_postgres, header

HERE = os.path.dirname(__file__)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    deselect_unless_on_postgres(HERE, config, items)


def pytest_report_header(config: pytest.Config) -> str | None:
    return header("tests/benchmarks", "they run against PostgreSQL")
