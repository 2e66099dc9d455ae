"""Rooms and room lists: Graph's places API and the way a room mailbox answers invitations.

From Microsoft's pages (api-reference/v1.0/api/place-list.md, resources/place.md, room.md,
roomlist.md):

- ``GET /places/microsoft.graph.room`` lists the tenant's rooms, ``GET
  /places/microsoft.graph.roomlist`` its room lists, and ``GET
  /places/{roomlist emailAddress}/microsoft.graph.roomlist/rooms`` the rooms of one list (named
  by its emailAddress, not its id); 100 places per page by default, ``$top``/``$skip`` page.
- Permission: ``Place.Read.All``, delegated or application (app-only needs admin consent).

A room is also a mailbox (seeded as a user with a ``room``), so it can be invited as a
``resource`` attendee and asked for free/busy. How it answers an invitation is its booking
mode: ``autoAccept`` accepts when its calendar is free for every instance and declines (with a
reason) on a conflict, as Exchange's resource booking assistant does; ``delegate`` leaves the
invitation unanswered until a delegate answers through the control API
(``POST /_emulator/mailboxes/{room}/events/{id}/respond``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from m365_emulator.directory import RoomList
from m365_emulator.errors import GraphError
from m365_emulator.graph import freebusy, series

if TYPE_CHECKING:
    from m365_emulator.backend import Backend
    from m365_emulator.directory import User
    from m365_emulator.graph.model import Event
    from m365_emulator.graph.store import GraphStore
    from m365_emulator.identity.access import Caller

DEFAULT_PAGE_SIZE = 100
# How far ahead an auto-accepting room looks at a series' instances (Exchange's booking
# window defaults to 180 days).
BOOKING_WINDOW = timedelta(days=180)
CONFLICT_REASON = "The room is already booked at that time."

_PERMISSIONS = frozenset({"Place.Read.All", "Place.ReadWrite.All"})


def check_access(backend: Backend, caller: Caller) -> None:
    """Place.Read.All (delegated, or application consented in the tenant), else 403."""
    allowed = bool(caller.scopes & _PERMISSIONS)
    if caller.kind == "application":
        allowed = allowed and backend.is_admin_consented(caller.client_id, caller.tenant_id)
    if not allowed:
        raise GraphError(
            403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
        )


def rooms(backend: Backend, tenant_id: str, room_list: str | None = None) -> list[User]:
    found = [
        u
        for u in backend.users.values()
        if u.room is not None
        and u.tenant_id == tenant_id
        and (room_list is None or (u.room.room_list or "").lower() == room_list.lower())
    ]
    return sorted(found, key=lambda u: u.display_name.lower())


def room_list(backend: Backend, tenant_id: str, email: str) -> RoomList:
    found = backend.room_lists.get(email.lower())
    if found is None or found.tenant_id != tenant_id:
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    return found


def room_lists(backend: Backend, tenant_id: str) -> list[RoomList]:
    return sorted(
        (r for r in backend.room_lists.values() if r.tenant_id == tenant_id),
        key=lambda r: r.display_name.lower(),
    )


def room_json(user: User) -> dict[str, Any]:
    info = user.room
    assert info is not None
    return {
        "@odata.type": "#microsoft.graph.room",
        "id": info.id,
        "emailAddress": user.upn,
        "displayName": user.display_name,
        "address": None,
        "geoCoordinates": None,
        "phone": None,
        "nickname": user.display_name,
        "label": None,
        # Graph's own example answers capacity as a string; the CSDL types it Edm.Int32,
        # which is what is answered here.
        "capacity": info.capacity,
        "building": info.building,
        "floorLabel": None,
        "floorNumber": info.floor_number,
        "isWheelChairAccessible": False,
        "bookingType": "standard",
        "tags": [],
        "teamsEnabledState": "unknown",
        "audioDeviceName": None,
        "videoDeviceName": None,
        "displayDeviceName": None,
    }


def room_list_json(found: RoomList) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.roomList",
        "id": found.id,
        "displayName": found.display_name,
        "address": None,
        "geoCoordinates": None,
        "phone": None,
        "emailAddress": found.email,
    }


# ----- the room mailbox's answer -------------------------------------------------------------


def answer_invitation(store: GraphStore, room: User, copy_event: Event) -> None:
    """An auto-accepting room answers at once: accepted when free, declined with the reason
    on a conflict. A delegate-run room leaves the invitation for its delegate."""
    info = room.room
    if info is None or info.booking != "autoAccept" or copy_event.is_cancelled:
        return
    if _conflicts(store, room, copy_event):
        store.respond(room, copy_event.id, "decline", comment=CONFLICT_REASON)
    else:
        store.respond(room, copy_event.id, "accept")


def _conflicts(store: GraphStore, room: User, copy_event: Event) -> bool:
    if copy_event.type == "seriesMaster":
        with store.lock:
            wanted = series.instances(
                store.events(room),
                copy_event,
                copy_event.start,
                copy_event.start + BOOKING_WINDOW,
            )
    else:
        wanted = [copy_event]
    for instance in wanted:
        busy = freebusy.busy_events(
            store, room, instance.start, instance.end, ignore_ical_uid=copy_event.ical_uid
        )
        if any(status in ("busy", "oof") for _event, status in busy):
            return True
    return False
