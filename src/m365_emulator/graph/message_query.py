"""The OData query options Graph's ``GET /users/{id}/messages`` honours, for meeting messages.

As Microsoft documents for list messages (user-list-messages.md):

- ``$filter``: comparisons joined by ``and`` on ``receivedDateTime``, ``sentDateTime``,
  ``from/emailAddress/address``, ``sender/emailAddress/address``, ``subject``, ``isRead``;
- ``$orderby`` on ``receivedDateTime`` / ``sentDateTime`` / ``subject``, with the rule for using
  it together with ``$filter``: every property ordered by must be filtered on too, in the same
  order, before any other; otherwise 400 ``InefficientFilter`` "The restriction or sort order
  is too complex for this operation.";
- ``$select`` of the message's own properties (``id`` and ``@odata.type`` always come);
- ``$expand=microsoft.graph.eventMessage/event`` (a cast segment in the expand path; Graph's
  changelog, April 2016), optionally with ``($select=...)``: the event a meeting message is
  about, in the mailbox's own calendar;
- ``$top`` (1 to 1000) and ``$skip``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from m365_emulator.errors import GraphError
from m365_emulator.graph import odata
from m365_emulator.graph.model import MeetingMessage

Predicate = Callable[[MeetingMessage], bool]

_FIELDS: dict[str, Callable[[MeetingMessage], Any]] = {
    "receiveddatetime": lambda m: m.received,
    "sentdatetime": lambda m: m.received,
    "from/emailaddress/address": lambda m: m.sender_address.lower(),
    "sender/emailaddress/address": lambda m: m.sender_address.lower(),
    "subject": lambda m: m.subject,
    "isread": lambda m: m.is_read,
}
_ORDER_KEYS: dict[str, Callable[[MeetingMessage], Any]] = {
    "receiveddatetime": lambda m: m.received,
    "sentdatetime": lambda m: m.received,
    "subject": lambda m: m.subject.lower(),
}
# The properties of a message (the base type) that ``$select`` may name.
MESSAGE_PROPERTIES = frozenset(
    {
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "changeKey",
        "categories",
        "receivedDateTime",
        "sentDateTime",
        "hasAttachments",
        "internetMessageId",
        "subject",
        "bodyPreview",
        "importance",
        "conversationId",
        "isRead",
        "isDraft",
        "body",
        "sender",
        "from",
        "toRecipients",
        "ccRecipients",
        "bccRecipients",
        "replyTo",
    }
)
_EXPAND = re.compile(
    r"^microsoft\.graph\.eventMessage/event(?:\(\s*\$select\s*=\s*([\w,\s]+)\))?$",
    re.IGNORECASE,
)


@dataclass
class MessageQuery:
    predicate: Predicate | None = None
    order: list[tuple[Callable[[MeetingMessage], Any], bool]] | None = None
    select: list[str] | None = None
    # None: no expand; []: the whole event; else the event's properties to keep.
    expand_event: list[str] | None = None
    top: int | None = None
    skip: int = 0


def parse(params: dict[str, str]) -> MessageQuery:
    base = odata.parse_query({k: v for k, v in params.items() if k in ("$top", "$skip")})
    query = MessageQuery(top=base.top, skip=base.skip)
    filtered: list[str] = []
    if params.get("$filter"):
        predicates = []
        for clause in odata._split_and(params["$filter"].strip()):
            path, predicate = _clause(clause)
            filtered.append(path)
            predicates.append(predicate)
        query.predicate = lambda m: all(p(m) for p in predicates)
    if params.get("$orderby"):
        query.order = _order(params["$orderby"], filtered)
    if params.get("$select"):
        query.select = [p.strip() for p in params["$select"].split(",") if p.strip()]
        for name in query.select:
            if name not in MESSAGE_PROPERTIES:
                raise odata.bad_query(
                    f"Could not find a property named '{name}' on type 'microsoft.graph.message'."
                )
    if params.get("$expand"):
        match = _EXPAND.match(params["$expand"].strip())
        if match is None:
            raise odata.bad_query(
                f"Parsing OData Select and Expand failed: unsupported $expand "
                f"'{params['$expand']}'."
            )
        chosen = match.group(1)
        query.expand_event = [p.strip() for p in chosen.split(",") if p.strip()] if chosen else []
    return query


def _clause(text: str) -> tuple[str, Predicate]:
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    comparison = odata._COMPARISON.match(text)
    if comparison is None:
        raise odata.bad_query(f"Invalid filter clause: '{text}'.")
    path, op, literal = comparison.groups()
    getter = _FIELDS.get(path.lower())
    if getter is None:
        raise odata.bad_query(
            f"Could not find a property named '{path}' on type 'microsoft.graph.message'."
        )
    expected = odata._literal(literal)
    if isinstance(expected, str) and "address" in path.lower():
        expected = expected.lower()  # Exchange compares addresses without regard to case
    test = odata._compare(getter, op.lower(), expected)  # type: ignore[arg-type]
    return path.lower(), test  # type: ignore[return-value]


def _order(text: str, filtered: list[str]) -> list[tuple[Callable[[MeetingMessage], Any], bool]]:
    keys: list[tuple[Callable[[MeetingMessage], Any], bool]] = []
    names: list[str] = []
    for part in text.split(","):
        words = part.split()
        if not words or words[0].lower() not in _ORDER_KEYS:
            raise odata.bad_query(f"Unsupported $orderby '{part.strip()}'.")
        names.append(words[0].lower())
        keys.append((_ORDER_KEYS[words[0].lower()], len(words) > 1 and words[1].lower() == "desc"))
    if filtered and filtered[: len(names)] != names:
        raise GraphError(
            400,
            "InefficientFilter",
            "The restriction or sort order is too complex for this operation.",
        )
    return keys


def apply(messages: list[MeetingMessage], query: MessageQuery) -> list[MeetingMessage]:
    """The messages the filter keeps, in the order asked (newest first by default)."""
    found = [m for m in messages if query.predicate is None or query.predicate(m)]
    found.sort(key=lambda m: m.received, reverse=True)
    for key, descending in reversed(query.order or []):
        found.sort(key=key, reverse=descending)
    return found


def shaped(data: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """A message's JSON with only the ``$select``ed properties (and what always comes)."""
    if select is None:
        return data
    kept = {"@odata.type", "@odata.etag", "id", *select}
    return {k: v for k, v in data.items() if k in kept}
