"""Reading event bodies sent by clients: checked against Graph's schema, turned into model values.

Outlook refuses properties the type does not have and enum values it does not know, so the
emulator does too (a client that sends them would fail against Microsoft).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from m365_emulator.errors import GraphError
from m365_emulator.graph import timezones
from m365_emulator.graph.model import Attendee
from m365_emulator.graph.schema import enum_members, properties_of

# Properties a client may set on create and update.
WRITABLE = frozenset(
    {
        "subject",
        "body",
        "start",
        "end",
        "location",
        "locations",
        "attendees",
        "importance",
        "sensitivity",
        "showAs",
        "isAllDay",
        "isReminderOn",
        "reminderMinutesBeforeStart",
        "responseRequested",
        "allowNewTimeProposals",
        "hideAttendees",
        "categories",
        "isOnlineMeeting",
        "onlineMeetingProvider",
        "transactionId",
        "singleValueExtendedProperties",
        "recurrence",
    }
)
# Simple properties stored as sent (after schema checks), with the values Outlook gives a new event.
DEFAULTS: dict[str, Any] = {
    "subject": "",
    "importance": "normal",
    "sensitivity": "normal",
    "showAs": "busy",
    "isAllDay": False,
    "isReminderOn": True,
    "reminderMinutesBeforeStart": 15,
    "responseRequested": True,
    "allowNewTimeProposals": True,
    "hideAttendees": False,
    "categories": [],
}
PLAIN = frozenset(DEFAULTS) | {"body", "location", "locations"}


def parse_json_body(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise GraphError(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and "
            "payload is of valid JSON format.",
        ) from None
    if not isinstance(data, dict):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    return data


def _unknown_property(name: str, type_name: str) -> GraphError:
    return GraphError(
        400,
        "RequestBodyRead",
        f"The property '{name}' does not exist on type 'Microsoft.OutlookServices.{type_name}'. "
        "Make sure to only use property names that are defined by the type or mark the type as "
        "open type.",
    )


def check_against_schema(type_name: str, data: dict[str, Any]) -> None:
    """400 for unknown properties, wrong JSON types or illegal enum values, like Graph.

    Enum members are read without regard to case, as Graph reads them (Microsoft's own examples
    send ``"contentType": "HTML"`` and ``"type": "Required"``), and rewritten in ``data`` to the
    schema's casing, which is how Graph answers them.
    """
    props = properties_of(type_name)
    for name, value in data.items():
        if name.startswith("@odata.") or "@odata." in name:
            continue
        prop = props.get(name)
        if prop is None:
            raise _unknown_property(name, type_name[:1].upper() + type_name[1:])
        data[name] = _check_value(prop["type"], value, name)


def _check_value(type_name: str, value: Any, where: str) -> Any:
    """The value as Graph reads it (enum members in the schema's casing), or a 400."""
    if value is None:
        return None
    if type_name.startswith("Collection("):
        if not isinstance(value, list):
            raise _invalid(where, "an array")
        inner = type_name[len("Collection(") : -1]
        return [_check_value(inner, item, f"{where}[{index}]") for index, item in enumerate(value)]
    if type_name in ("Edm.String", "Edm.Guid", "Edm.DateTimeOffset", "Edm.Binary", "Edm.Date"):
        if not isinstance(value, str):
            raise _invalid(where, "a string")
        return value
    if type_name == "Edm.Boolean":
        if not isinstance(value, bool):
            raise _invalid(where, "true or false")
        return value
    if type_name in ("Edm.Int32", "Edm.Int64"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(where, "an integer")
        return value
    if type_name == "Edm.Double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _invalid(where, "a number")
        return value
    short = type_name.removeprefix("graph.")
    members = enum_members(short)
    if members is not None:
        found = (
            next((m for m in members if m.lower() == value.lower()), None)
            if isinstance(value, str)
            else None
        )
        if found is None:
            raise GraphError(
                400,
                "RequestBodyRead",
                f"Cannot convert the literal '{value}' to the expected type "
                f"'microsoft.graph.{short}'.",
            )
        return found
    if not isinstance(value, dict):
        raise _invalid(where, "an object")
    check_against_schema(short, value)
    return value


def _invalid(where: str, expected: str) -> GraphError:
    return GraphError(
        400, "RequestBodyRead", f"Invalid value for property '{where}': expected {expected}."
    )


def parse_date_time_zone(value: Any, name: str) -> tuple[datetime, str]:
    """A dateTimeTimeZone as (aware UTC instant, zone name as sent)."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise GraphError(400, "ErrorInvalidRequest", f"The '{name}' property must have a dateTime.")
    zone_name = value.get("timeZone") or "UTC"
    if not isinstance(zone_name, str) or not timezones.is_supported(zone_name):
        raise timezones.not_supported(zone_name)
    local = parse_iso(value["dateTime"], name)
    if local.tzinfo is not None:
        return local.astimezone(UTC), zone_name
    return timezones.to_utc(local, zone_name), zone_name


def parse_iso(text: str, name: str) -> datetime:
    """ISO 8601 as Graph writes it, including seven fractional digits."""
    cleaned = text.strip().replace("Z", "+00:00")
    if "." in cleaned:
        head, _, tail = cleaned.partition(".")
        digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
        rest = tail[len(digits) :]
        cleaned = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        raise GraphError(
            400,
            "ErrorInvalidRequest",
            f"The value '{text}' of '{name}' is not a valid date and time.",
        ) from None


def parse_attendees(value: Any, max_attendees: int) -> list[Attendee]:
    if not isinstance(value, list):
        raise _invalid("attendees", "an array")
    if len(value) > max_attendees:
        raise GraphError(
            400,
            "ErrorInvalidRequest",
            f"The maximum number of attendees for an event is {max_attendees}.",
        )
    attendees: list[Attendee] = []
    seen: set[str] = set()
    for raw in value:
        email = raw.get("emailAddress") if isinstance(raw, dict) else None
        address = email.get("address") if isinstance(email, dict) else None
        if not isinstance(email, dict) or not isinstance(address, str) or "@" not in address:
            raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient is not valid.")
        if address.lower() in seen:
            continue
        seen.add(address.lower())
        attendees.append(
            Attendee(
                address=address,
                name=str(email.get("name") or ""),
                type=str(raw.get("type") or "required"),
            )
        )
    return attendees


def parse_extended_properties(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise _invalid("singleValueExtendedProperties", "an array")
    found: list[tuple[str, str]] = []
    for raw in value:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise GraphError(400, "ErrorInvalidRequest", "An extended property must have an id.")
        prop_value = raw.get("value")
        found.append((raw["id"], "" if prop_value is None else str(prop_value)))
    return found
