"""Regenerate ``graph-calendar-subset.json`` from Microsoft's Graph v1.0 CSDL.

Run by hand when the schema should follow a newer CSDL::

    python -m m365_emulator.graph.schema.build_subset path/to/v1.0-Prod.csdl

The subset holds the types the emulator returns or accepts (events, attendees, calendars,
meeting messages, subscriptions, change notifications), every type their properties use, their
base types, and the members of every enum involved. Tests and request validation read only the
committed JSON, never the CSDL.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT_TYPES = (
    "event",
    "calendar",
    "eventMessage",
    "eventMessageRequest",
    "eventMessageResponse",
    "singleValueLegacyExtendedProperty",
    "subscription",
    "changeNotification",
    "changeNotificationCollection",
    "resourceData",
    "timeSlot",
    "room",
    "roomList",
    "scheduleInformation",
)
SOURCE = (
    "microsoftgraph/msgraph-metadata, schemas/v1.0-Prod.csdl at commit f54f11b6; "
    "MIT License, Copyright (c) 2018 Microsoft Graph"
)
OUTPUT = Path(__file__).with_name("graph-calendar-subset.json")
_EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def _strip(type_name: str) -> tuple[str, bool]:
    """'Collection(graph.attendee)' -> ('graph.attendee', True)."""
    if type_name.startswith("Collection(") and type_name.endswith(")"):
        return type_name[len("Collection(") : -1], True
    return type_name, False


def build(csdl_path: Path) -> dict[str, Any]:
    root = ET.parse(csdl_path).getroot()  # noqa: S314 - trusted local file
    schema = next(s for s in root.iter(f"{_EDM}Schema") if s.get("Namespace") == "microsoft.graph")
    structured: dict[str, ET.Element] = {}
    enums: dict[str, ET.Element] = {}
    for element in schema:
        name = element.get("Name")
        if name is None:
            continue
        if element.tag in (f"{_EDM}EntityType", f"{_EDM}ComplexType"):
            structured[name] = element
        elif element.tag == f"{_EDM}EnumType":
            enums[name] = element

    types: dict[str, Any] = {}
    used_enums: set[str] = set()
    pending = list(ROOT_TYPES)
    while pending:
        name = pending.pop()
        if name in types:
            continue
        element = structured[name]
        base = element.get("BaseType")
        entry: dict[str, Any] = {
            "kind": "entity" if element.tag == f"{_EDM}EntityType" else "complex",
            "baseType": base.removeprefix("graph.") if base else None,
            "abstract": element.get("Abstract") == "true",
            "openType": element.get("OpenType") == "true",
            "properties": {},
            "navigationProperties": {},
        }
        if base:
            pending.append(base.removeprefix("graph."))
        for prop in element.findall(f"{_EDM}Property"):
            type_name = prop.get("Type", "")
            entry["properties"][prop.get("Name")] = {
                "type": type_name,
                "nullable": prop.get("Nullable") != "false",
            }
            inner, _ = _strip(type_name)
            if inner.startswith("graph."):
                short = inner.removeprefix("graph.")
                if short in enums:
                    used_enums.add(short)
                else:
                    pending.append(short)
        for nav in element.findall(f"{_EDM}NavigationProperty"):
            entry["navigationProperties"][nav.get("Name")] = {"type": nav.get("Type")}
        types[name] = entry
    return {
        "source": SOURCE,
        "types": dict(sorted(types.items())),
        "enums": {
            name: {
                "isFlags": enums[name].get("IsFlags") == "true",
                "members": [m.get("Name") for m in enums[name].findall(f"{_EDM}Member")],
            }
            for name in sorted(used_enums)
        },
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    subset = build(Path(argv[1]))
    OUTPUT.write_text(json.dumps(subset, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(subset['types'])} types, {len(subset['enums'])} enums)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
