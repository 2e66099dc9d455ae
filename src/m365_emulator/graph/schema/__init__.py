"""Microsoft's Graph v1.0 schema, reduced to the calendar types (see README.md)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_SUBSET = Path(__file__).with_name("graph-calendar-subset.json")


@cache
def schema() -> dict[str, Any]:
    """The committed subset: ``{"types": {...}, "enums": {...}}``."""
    data: dict[str, Any] = json.loads(_SUBSET.read_text(encoding="utf-8"))
    return data


def properties_of(type_name: str) -> dict[str, dict[str, Any]]:
    """Structural and navigation properties of a type, including those of its base types."""
    return _properties_of(type_name)


@cache
def _properties_of(type_name: str) -> dict[str, dict[str, Any]]:
    types = schema()["types"]
    found: dict[str, dict[str, Any]] = {}
    current: str | None = type_name
    while current is not None:
        entry = types[current]
        for name, prop in entry["properties"].items():
            found.setdefault(name, prop)
        for name, nav in entry["navigationProperties"].items():
            found.setdefault(name, {"type": nav["type"], "nullable": True, "navigation": True})
        current = entry["baseType"]
    return found


def enum_members(enum_name: str) -> list[str] | None:
    """Members of ``enum_name``, or None when it is not an enum of the subset."""
    entry = schema()["enums"].get(enum_name)
    return None if entry is None else list(entry["members"])
