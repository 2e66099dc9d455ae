"""A booked room's answer, however it arrives (the push's answer, a reconcile read): kept on
the booking, explained from the room's free/busy when it is a decline, told to the organizer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from convene.events.models import Event
from convene.outlook import links
from convene.outlook.microsoft import mapping
from convene.outlook.microsoft.graph import GraphClient
from convene.outlook.models import LogKind, Room, RoomBooking, record
from convene.outlook.outbound.snapshots import booked_room

BOOKED_ELSEWHERE = "it is already booked at that time"
REFUSED = "the room's delegate declined the booking"
_BUSY = ("busy", "oof")


def booking_of(event: Event) -> RoomBooking | None:
    return RoomBooking.objects.filter(event=event).select_related("room").first()


def read_answer(event: Event, answer: dict[str, Any], client: GraphClient) -> None:
    """The room's status in an event Outlook answered with (create, update, read)."""
    # Which room, if any, as read with the event; ``note_answer`` reads the booking afresh.
    booking = booked_room(event)
    if booking is None or not answer:
        return
    for reply in mapping.replies(answer):
        if reply.email == booking.room.email.lower():
            note_answer(event, reply.email, reply.response, reply.time, client)


def note_answer(
    event: Event, email: str, response: str, answered_at: datetime | None, client: GraphClient
) -> bool:
    """Keep the room's answer if ``email`` is the event's room; True when it was the room.
    A new decline is explained from the room's free/busy and the organizer is told."""
    booking = booking_of(event)
    if booking is None or booking.room.email.lower() != email.lower():
        return False
    if response not in RoomBooking.Answer.values or response == booking.answer:
        return True
    reason = ""
    if response == RoomBooking.Answer.DECLINED:
        reason = _why_declined(event, booking.room, client)
    # The answer, its log line and the organizer's notice land together (the reason was read
    # from Microsoft before): nobody sees a declined room the organizer was not told about.
    with transaction.atomic():
        RoomBooking.objects.filter(pk=booking.pk).update(
            answer=response, reason=reason, answered_at=answered_at or timezone.now()
        )
        record(
            LogKind.REPLY,
            response,
            status="room",
            message=f"{booking.room.name}: {RoomBooking.Answer(response).label.lower()}."
            + (f" Reason: {reason}." if reason else ""),
            event_id=event.pk,
        )
        if response == RoomBooking.Answer.DECLINED:
            links.tell_organizer(
                event,
                f"{booking.room.name} declined “{event.title}”: {reason}. "
                "Choose another room or time.",
                "Room declined",
            )
    return True


def _why_declined(event: Event, room: Room, client: GraphClient) -> str:
    try:
        (info,) = client.get_schedule([room.email], event.start, event.end, 5)
    except Exception:
        return "the room declined (its calendar could not be read for the reason)"
    # A declined booking is not busy time in the room's calendar: whatever is, is another.
    busy = [item for item in info.get("scheduleItems") or [] if item.get("status") in _BUSY]
    return BOOKED_ELSEWHERE if busy else REFUSED
