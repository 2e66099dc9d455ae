"""docs/security.md names, for each defence, the test that proves it: those tests exist."""

from __future__ import annotations

import re
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
THREAT_MODEL = (REPOSITORY / "docs" / "security.md").read_text()
TESTS = REPOSITORY / "tests"


def defined_tests() -> set[str]:
    names: set[str] = set()
    for module in TESTS.rglob("test_*.py"):
        names.update(re.findall(r"^\s*def (test_\w+)", module.read_text(), re.MULTILINE))
    return names


def test_every_test_the_threat_model_names_exists() -> None:
    named = set(re.findall(r"::(test_\w+)", THREAT_MODEL))
    named |= set(re.findall(r"`(test_\w+)`", THREAT_MODEL))
    assert len(named) > 20
    assert sorted(named - defined_tests()) == []


def test_every_test_file_the_threat_model_names_exists() -> None:
    paths = set(re.findall(r"(tests/[\w/]+\.py)", THREAT_MODEL))
    assert sorted(p for p in paths if not (REPOSITORY / p).is_file()) == []
    modules = {module.name for module in TESTS.rglob("*.py")}
    short = set(re.findall(r"`(test_\w+\.py|\w+_table\.py)", THREAT_MODEL))
    assert len(short) > 5
    assert sorted(short - modules) == []
