"""Rooms: the tenant's rooms read from Graph's places API, the ones an admin offers, the room an
organizer books for an event (invited as a ``resource`` attendee), and the room's answer.

A room mailbox answers by itself (auto-accept, declining when it is already booked) or through
its delegate, later. Outlook reports the answer as the room attendee's status; Convene keeps it
on the booking, shows it on the event page and the dashboard, and tells the organizer when a
room declines, with the reason read from the room's free/busy (booked at that time, or refused
by its delegate). Works for any event; a series books the room for every session the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from convene import permissions
from convene.accounts.models import User
from convene.events import services as event_services
from convene.events.errors import NotAllowed
from convene.events.models import Event
from convene.outlook.microsoft.graph import GraphClient
from convene.outlook.microsoft.places import RoomInfo, room_info
from convene.outlook.models import CalendarLink, LogKind, Room, RoomBooking, record
from convene.outlook.outbound import queueing

# --- the tenant's rooms (admin) -----------------------------------------------------------


def read_tenant_rooms(client: GraphClient) -> int:
    """Read every room of the tenant (and which room list holds it); returns how many."""
    found: dict[str, RoomInfo] = {}
    for place in client.list_places("room"):
        info = room_info(place)
        if info is not None:
            found[info.email] = info
    for room_list in client.list_places("roomList"):
        list_email = str(room_list.get("emailAddress") or "").lower()
        if not list_email:
            continue
        for place in client.list_places("room", room_list=list_email):
            info = room_info(place, room_list=list_email)
            if info is not None:
                found[info.email] = info
    now = timezone.now()
    with transaction.atomic():
        for info in found.values():
            Room.objects.update_or_create(
                email=info.email,
                defaults={
                    "name": info.name,
                    "capacity": info.capacity,
                    "building": info.building,
                    "floor_number": info.floor_number,
                    "room_list": info.room_list,
                    "listed": True,
                    "read_at": now,
                },
            )
        Room.objects.exclude(email__in=list(found)).update(listed=False, offered=False)
    return len(found)


def offer(room_ids: Iterable[int], *, actor_id: int) -> None:
    """Offer exactly these rooms to organizers."""
    wanted = set(room_ids)
    with transaction.atomic():
        Room.objects.filter(pk__in=wanted, listed=True).update(offered=True)
        Room.objects.exclude(pk__in=wanted).update(offered=False)
    record(
        LogKind.SETTINGS,
        "rooms_offered",
        message=f"Rooms offered to organizers: {len(wanted)}.",
        user_id=actor_id,
    )


def offered() -> list[Room]:
    return list(Room.objects.filter(offered=True, listed=True))


# --- an event's room (organizer) ----------------------------------------------------------


def book(
    event: Event,
    room: Room | None,
    *,
    actor: User,
    use_capacity: bool,
    enqueue: queueing.Enqueue,
) -> None:
    """Hold the event in ``room`` (None: no room); the room is invited with the next push."""
    if not permissions.can_edit_event(actor, event):
        raise NotAllowed("Only the event's organizers may choose its room.")
    if room is not None and not (room.offered and room.listed):
        raise NotAllowed("That room is not offered in Convene.")
    with transaction.atomic():
        current = RoomBooking.objects.filter(event=event).first()
        if room is None:
            if current is not None:
                current.delete()
        elif current is None or current.room_id != room.pk:
            RoomBooking.objects.update_or_create(
                event=event,
                defaults={
                    "room": room,
                    "answer": RoomBooking.Answer.WAITING,
                    "reason": "",
                    "answered_at": None,
                },
            )
        if room is not None and use_capacity and room.capacity:
            details = event_services.EventDetails.of(event)
            event_services.update_event(
                event,
                event_services.EventDetails(**{**details.__dict__, "capacity": room.capacity}),
                actor=actor,
            )
    link = CalendarLink.objects.filter(event=event).first()
    if link is not None:
        queueing.retry_now(link, enqueue, compare_again=True)
