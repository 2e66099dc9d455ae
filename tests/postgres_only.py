"""Test folders that need PostgreSQL (and Redis), as production has them: they run with
``make test-postgres`` (DATABASE_URL at PostgreSQL) and are deselected otherwise, saying so."""

from __future__ import annotations

import os

import pytest


def on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def deselect_unless_on_postgres(
    folder: str, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if on_postgres():
        return
    mine = [item for item in items if str(item.path).startswith(folder)]
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]


def header(folder: str, why: str) -> str | None:
    if on_postgres():
        return None
    return f"{folder}: deselected ({why}: make test-postgres)"
