"""Rooms from the tenant: listed by the admin, offered, booked for an event, invited as a
resource, and their answers (auto-accept, decline on conflict, a delegate's later answer)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.world import PLATFORM_DOMAIN, SERVICE_MAILBOX, world_seed

from convene.core.models import Notice
from convene.events import services
from convene.outlook import rooms, tasks
from convene.outlook.inbound import reconcile
from convene.outlook.models import CalendarLink, Mode, OutlookSettings, Room, RoomBooking

from .conftest import PUBLIC_URL, OutlookWorld
from .test_connect_and_sync import ADA, create_event

ADMIN = "admin@contoso.test"
ROOM = f"room-a@{PLATFORM_DOMAIN}"
DELEGATED = f"room-b@{PLATFORM_DOMAIN}"
BUILDING = f"building-1@{PLATFORM_DOMAIN}"


def rooms_seed() -> dict[str, Any]:
    seed = world_seed(PUBLIC_URL, platform_consented=True)
    (platform_tenant,) = [t for t in seed["tenants"] if t["domain"] == PLATFORM_DOMAIN]
    platform_tenant["roomLists"] = [{"emailAddress": BUILDING, "displayName": "Building 1"}]
    platform_tenant["rooms"] = [
        {
            "emailAddress": ROOM,
            "displayName": "Room A",
            "capacity": 12,
            "building": "1",
            "floorNumber": 2,
            "roomList": BUILDING,
        },
        {"emailAddress": DELEGATED, "displayName": "Room B", "capacity": 40, "booking": "delegate"},
    ]
    return seed


@pytest.fixture
def platform(outlook: OutlookWorld) -> OutlookWorld:
    """Platform mode, consented, with the tenant's rooms read and offered."""
    outlook.emulator.reset(rooms_seed())
    OutlookSettings.objects.filter(pk=1).update(mode=Mode.PLATFORM, service_mailbox=SERVICE_MAILBOX)
    admin = outlook.browser(ADMIN)
    assert admin.post("/outlook/admin/rooms/", {"read": "1"}).status_code == 302
    offered = [str(pk) for pk in Room.objects.values_list("pk", flat=True)]
    admin.post("/outlook/admin/rooms/", {"offered": offered})
    return outlook


def book(outlook: OutlookWorld, email: str, **extra: str) -> Any:
    event = create_event(outlook)
    room = Room.objects.get(email=email)
    response = outlook.browser(ADA).post(
        f"/outlook/events/{event.pk}/room/", {"room": str(room.pk), **extra}
    )
    assert response.status_code == 302
    return event


def booking(event: Any) -> RoomBooking:
    return RoomBooking.objects.select_related("room").get(event=event)


def answered(outlook: OutlookWorld, event: Any, answer: str) -> RoomBooking:
    def check() -> RoomBooking | None:
        found = booking(event)
        return found if found.answer == answer else None

    return outlook.wait_until(check)


def test_the_admin_reads_rooms_with_capacity_building_and_floor(platform: OutlookWorld) -> None:
    room = Room.objects.get(email=ROOM)
    assert (room.name, room.capacity, room.building, room.floor_number, room.room_list) == (
        "Room A",
        12,
        "1",
        2,
        BUILDING,
    )
    page = platform.browser(ADMIN).get("/outlook/admin/rooms/")
    assert b"Room A" in page.content and b"Room B" in page.content


def test_only_offered_rooms_can_be_booked(platform: OutlookWorld) -> None:
    platform.browser(ADMIN).post(
        "/outlook/admin/rooms/", {"offered": [str(Room.objects.get(email=ROOM).pk)]}
    )
    event = create_event(platform)
    with pytest.raises(services.NotAllowed):
        rooms.book(
            event,
            Room.objects.get(email=DELEGATED),
            actor=platform.people[ADA],
            use_capacity=False,
            enqueue=tasks.enqueue_sync,
        )


def test_a_free_room_accepts_and_its_capacity_becomes_the_events(platform: OutlookWorld) -> None:
    event = book(platform, ROOM, use_capacity="on")
    found = answered(platform, event, RoomBooking.Answer.ACCEPTED)
    event.refresh_from_db()
    assert event.capacity == 12
    (copy,) = platform.mailbox(SERVICE_MAILBOX)
    (room,) = [a for a in copy["attendees"] if a["emailAddress"]["address"] == ROOM]
    assert room["type"] == "resource"
    page = platform.browser(ADA).get(event.get_absolute_url())
    assert b"Accepted" in page.content and found.room.name.encode() in page.content


def test_a_booked_room_declines_on_conflict_and_the_organizer_is_told_why(
    platform: OutlookWorld,
) -> None:
    first = book(platform, ROOM)
    answered(platform, first, RoomBooking.Answer.ACCEPTED)
    clash = book(platform, ROOM)

    found = answered(platform, clash, RoomBooking.Answer.DECLINED)

    assert found.reason == "it is already booked at that time"
    assert Notice.objects.filter(user=platform.people[ADA], text__contains="Room A declined")
    dashboard = platform.browser(ADMIN).get("/outlook/admin/sync/")
    assert b"Rooms that declined" in dashboard.content


def test_a_delegate_answers_later(platform: OutlookWorld) -> None:
    event = book(platform, DELEGATED)
    platform.wait_synced(event.pk)
    assert booking(event).answer == RoomBooking.Answer.WAITING
    (copy,) = platform.mailbox(DELEGATED)

    platform.emulator.control(
        "POST", f"/mailboxes/{DELEGATED}/events/{copy['id']}/respond", {"response": "decline"}
    ).raise_for_status()
    # What the worker does when the notification of the answer arrives (the webhook's own
    # path is tested in test_replies.py).
    link = CalendarLink.objects.get(event=event)
    assert reconcile.reconcile(SERVICE_MAILBOX, link.graph_id, tasks.enqueue_sync)

    found = answered(platform, event, RoomBooking.Answer.DECLINED)
    assert found.reason == "the room's delegate declined the booking"
