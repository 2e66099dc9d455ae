"""The waitlist's races need PostgreSQL, as production has it (row locks that SQLite does not
have): they run with ``make test-postgres`` and are deselected otherwise, saying so."""

from __future__ import annotations

import os

import pytest
from tests.postgres_only import deselect_unless_on_postgres, header

HERE = os.path.dirname(__file__)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    deselect_unless_on_postgres(HERE, config, items)


def pytest_report_header(config: pytest.Config) -> str | None:
    return header("tests/convene/outlook/waitlist_races", "they need PostgreSQL's row locks")
