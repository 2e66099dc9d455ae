"""The OData query options and Prefer headers Graph's calendar endpoints honour.

``$filter`` understands what calendar clients use: comparisons on event properties joined by
``and``, and ``singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '...')``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from m365_emulator.errors import GraphError
from m365_emulator.graph import timezones
from m365_emulator.graph.model import Event
from m365_emulator.graph.payload import parse_iso

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000

_PREFER_ITEM = re.compile(r'\s*([\w.\-]+)\s*(?:=\s*("(?:[^"]*)"|[^,;\s]+))?')
_ANY = re.compile(
    r"^singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*(.*)\)$", re.IGNORECASE | re.DOTALL
)
_COMPARISON = re.compile(
    r"^([\w/]+)\s+(eq|ne|gt|ge|lt|le)\s+('(?:[^']|'')*'|true|false|null|[-\d.:TZ+]+)$",
    re.IGNORECASE,
)
_EXPAND_EXT = re.compile(
    r"^singleValueExtendedProperties(?:\(\s*\$filter\s*=\s*(.*)\))?$", re.IGNORECASE | re.DOTALL
)

Predicate = Callable[[Event], bool]


def bad_query(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


@dataclass
class Preferences:
    timezone: str | None = None
    body_type: str = "html"
    max_page_size: int | None = None
    applied: list[str] = field(default_factory=list)


def preferences(headers: Mapping[str, str]) -> Preferences:
    """``Prefer`` header values Graph applies, and the ``Preference-Applied`` echo."""
    found = Preferences()
    raw = headers.get("prefer", "")
    for match in _PREFER_ITEM.finditer(raw.replace(";", ",")):
        name, value = match.group(1).lower(), (match.group(2) or "").strip('"')
        if name == "outlook.timezone" and value:
            # Graph refuses a zone it does not know here too (a GET answered 400
            # TimeZoneNotSupportedException: microsoftgraph/msgraph-sample-rubyrailsapp#195).
            if not timezones.is_supported(value):
                raise timezones.not_supported(value)
            found.timezone = value
            found.applied.append(f'outlook.timezone="{value}"')
        elif name == "outlook.body-content-type" and value.lower() in ("text", "html"):
            found.body_type = value.lower()
            found.applied.append(f'outlook.body-content-type="{value.lower()}"')
        elif name == "odata.maxpagesize" and value.isdigit() and int(value) > 0:
            found.max_page_size = min(int(value), MAX_PAGE_SIZE)
            found.applied.append(f"odata.maxpagesize={found.max_page_size}")
    return found


@dataclass
class Query:
    select: list[str] | None = None
    top: int | None = None
    skip: int = 0
    predicate: Predicate | None = None
    expand_extended: list[str] | None = None
    order: Callable[[list[Event]], list[Event]] | None = None


def parse_query(params: Mapping[str, str]) -> Query:
    query = Query()
    if params.get("$select"):
        query.select = [p.strip() for p in params["$select"].split(",") if p.strip()]
    if params.get("$top"):
        query.top = _non_negative(params["$top"], "$top")
        if query.top > MAX_PAGE_SIZE:
            query.top = MAX_PAGE_SIZE
    if params.get("$skip"):
        query.skip = _non_negative(params["$skip"], "$skip")
    if params.get("$filter"):
        query.predicate = parse_filter(params["$filter"])
    if params.get("$expand"):
        query.expand_extended = parse_expand(params["$expand"])
    if params.get("$orderby"):
        query.order = parse_orderby(params["$orderby"])
    return query


def _non_negative(raw: str, name: str) -> int:
    if not raw.isdigit():
        raise bad_query(f"Invalid value '{raw}' for query option '{name}'.")
    return int(raw)


# ----- $filter -------------------------------------------------------------------------------


def parse_filter(text: str) -> Predicate:
    clauses = _split_and(text.strip())
    predicates = [_clause(clause) for clause in clauses]
    return lambda event: all(p(event) for p in predicates)


def _split_and(text: str) -> list[str]:
    """Split on top-level ``and`` (outside quotes and parentheses)."""
    parts: list[str] = []
    depth, quoted, start, i = 0, False, 0, 0
    lower = text.lower()
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and lower.startswith(" and ", i):
            parts.append(text[start:i].strip())
            i += 5
            start = i
            continue
        i += 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _clause(text: str) -> Predicate:
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    any_match = _ANY.match(text)
    if any_match:
        return _extended_any(any_match.group(1), any_match.group(2))
    comparison = _COMPARISON.match(text)
    if comparison is None:
        raise bad_query(f"Invalid filter clause: '{text}'.")
    path, op, literal = comparison.groups()
    getter = _FIELDS.get(path.lower())
    if getter is None:
        raise bad_query(
            f"Could not find a property named '{path}' on type 'microsoft.graph.event'."
        )
    expected = _literal(literal)
    return _compare(getter, op.lower(), expected)


def _extended_any(var: str, body: str) -> Predicate:
    wanted_id: str | None = None
    wanted_value: str | None = None
    for clause in _split_and(body.strip()):
        match = _COMPARISON.match(clause.strip("() "))
        if match is None or match.group(2).lower() != "eq":
            raise bad_query(f"Invalid filter clause: '{clause}'.")
        path = match.group(1).lower()
        value = _literal(match.group(3))
        if path == f"{var.lower()}/id":
            wanted_id = str(value).lower()
        elif path == f"{var.lower()}/value":
            wanted_value = str(value)
        else:
            raise bad_query(f"Invalid filter clause: '{clause}'.")
    if wanted_id is None:
        raise bad_query("The extended property filter must compare the property id.")

    def matches(event: Event) -> bool:
        found = event.extended.get(wanted_id)
        return found is not None and (wanted_value is None or found[1] == wanted_value)

    return matches


def _literal(raw: str) -> Any:
    if raw.startswith("'"):
        return raw[1:-1].replace("''", "'")
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if "T" in raw or "-" in raw[1:]:
        return parse_iso(raw, "$filter")
    try:
        return float(raw) if "." in raw else int(raw)
    except ValueError:
        raise bad_query(f"Invalid literal '{raw}' in $filter.") from None


def _compare(getter: Callable[[Event], Any], op: str, expected: Any) -> Predicate:
    def test(event: Event) -> bool:
        actual = getter(event)
        value = expected
        if isinstance(actual, datetime) and isinstance(value, str):
            value = parse_iso(value, "$filter")
        if isinstance(actual, datetime) and isinstance(value, datetime) and value.tzinfo is None:
            actual = actual.replace(tzinfo=None)
        if op == "eq":
            return bool(actual == value)
        if op == "ne":
            return bool(actual != value)
        if actual is None or value is None:
            return False
        if op == "gt":
            return bool(actual > value)
        if op == "ge":
            return bool(actual >= value)
        if op == "lt":
            return bool(actual < value)
        return bool(actual <= value)

    return test


_FIELDS: dict[str, Callable[[Event], Any]] = {
    "subject": lambda e: e.subject,
    "icaluid": lambda e: e.ical_uid,
    "id": lambda e: e.id,
    "transactionid": lambda e: e.transaction_id,
    "iscancelled": lambda e: e.is_cancelled,
    "isorganizer": lambda e: e.is_organizer,
    "isallday": lambda e: bool(e.props.get("isAllDay")),
    "showas": lambda e: e.props.get("showAs"),
    "importance": lambda e: e.props.get("importance"),
    "start/datetime": lambda e: e.start,
    "end/datetime": lambda e: e.end,
    "createddatetime": lambda e: e.created,
    "lastmodifieddatetime": lambda e: e.modified,
    "organizer/emailaddress/address": lambda e: e.organizer_address.lower(),
    "responsestatus/response": lambda e: e.response,
    "type": lambda e: e.type,
    "seriesmasterid": lambda e: e.series_master_id,
}


# ----- $expand and $orderby ------------------------------------------------------------------


def parse_expand(text: str) -> list[str]:
    """Extended property ids asked for by ``$expand=singleValueExtendedProperties($filter=...)``."""
    match = _EXPAND_EXT.match(text.strip())
    if match is None:
        raise bad_query(f"Parsing OData Select and Expand failed: unsupported $expand '{text}'.")
    if match.group(1) is None:
        raise bad_query(
            "Expanding singleValueExtendedProperties requires a $filter on the property id."
        )
    ids: list[str] = []
    for part in re.split(r"\s+or\s+", match.group(1).strip(), flags=re.IGNORECASE):
        comparison = _COMPARISON.match(part.strip("() "))
        if (
            comparison is None
            or comparison.group(1).lower() != "id"
            or comparison.group(2).lower() != "eq"
        ):
            raise bad_query(f"Invalid $expand filter: '{part}'.")
        ids.append(str(_literal(comparison.group(3))))
    return ids


_ORDER_KEYS: dict[str, Callable[[Event], Any]] = {
    "start/datetime": lambda e: e.start,
    "end/datetime": lambda e: e.end,
    "createddatetime": lambda e: e.created,
    "lastmodifieddatetime": lambda e: e.modified,
    "subject": lambda e: e.subject.lower(),
}


def parse_orderby(text: str) -> Callable[[list[Event]], list[Event]]:
    keys: list[tuple[Callable[[Event], Any], bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or words[0].lower() not in _ORDER_KEYS:
            raise bad_query(f"Unsupported $orderby '{part.strip()}'.")
        descending = len(words) > 1 and words[1].lower() == "desc"
        keys.append((_ORDER_KEYS[words[0].lower()], descending))

    def order(events: list[Event]) -> list[Event]:
        result = list(events)
        for key, descending in reversed(keys):
            result.sort(key=key, reverse=descending)
        return result

    return order
