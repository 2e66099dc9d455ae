"""The production layout test needs PostgreSQL and Redis, as production does: it runs with
``make test-postgres`` (DATABASE_URL at PostgreSQL) and is deselected otherwise."""

from __future__ import annotations

import os

import pytest

HERE = os.path.dirname(__file__)


def on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if on_postgres():
        return
    mine = [item for item in items if str(item.path).startswith(HERE)]
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]


def pytest_report_header(config: pytest.Config) -> str | None:
    if on_postgres():
        return None
    return "tests/deploy: deselected (production runs on PostgreSQL: make test-postgres)"
