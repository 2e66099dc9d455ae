"""Rooms as Graph's places API describes them (resources/room.md, roomlist.md). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RoomInfo:
    email: str
    name: str
    capacity: int | None
    building: str
    floor_number: int | None
    room_list: str = ""  # the email address of the room list it was found in


def room_info(place: dict[str, Any], room_list: str = "") -> RoomInfo | None:
    """A room from its place JSON; None without an email address (it cannot be invited)."""
    email = place.get("emailAddress")
    if not isinstance(email, str) or "@" not in email:
        return None
    return RoomInfo(
        email=email.strip().lower()[:254],
        name=str(place.get("displayName") or email)[:200],
        capacity=_whole(place.get("capacity")),
        building=str(place.get("building") or "")[:100],
        floor_number=_whole(place.get("floorNumber")),
        room_list=room_list,
    )


def _whole(value: Any) -> int | None:
    # Graph's own example answers capacity as a string ("50"); the CSDL says Int32.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
