"""Rooms and double-booking warnings in a real browser: the admin reads and offers the tenant's
rooms; an organizer picks a room that is already booked, is warned before saving (htmx, no
inline script), saves anyway, and sees the room decline; the edit form warns too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from tests.world import world_seed

from convene.events import services
from convene.outlook import rooms, tasks
from convene.outlook.models import Mode, OutlookSettings, Room, RoomBooking

from .conftest import (
    ADA,
    ADMIN,
    PLATFORM_DOMAIN,
    SERVICE_MAILBOX,
    Shot,
    World,
    csp_violations,
    next_weekday,
    reload_until_visible,
    wait_until,
)
from .test_outlook_journey import SignIn

pytestmark = pytest.mark.e2e

ROOM = f"room-a@{PLATFORM_DOMAIN}"


def seed_with_rooms(url: str) -> dict[str, Any]:
    seed = world_seed(url, platform_consented=True)
    (platform,) = [t for t in seed["tenants"] if t["domain"] == PLATFORM_DOMAIN]
    platform["rooms"] = [
        {
            "emailAddress": ROOM,
            "displayName": "Room A",
            "capacity": 12,
            "building": "1",
            "floorNumber": 2,
        },
        {"emailAddress": f"room-b@{PLATFORM_DOMAIN}", "displayName": "Room B", "capacity": 40},
    ]
    return seed


def test_organizer_is_warned_about_a_booked_room_and_sees_it_decline(
    page: Page,
    new_context: Callable[..., BrowserContext],
    world: World,
    worker: None,
    sign_in: SignIn,
    shot: Shot,
) -> None:
    world.emulator.reset(seed_with_rooms(world.url))
    OutlookSettings.objects.update_or_create(
        pk=1,
        defaults={"enabled": True, "mode": Mode.PLATFORM, "service_mailbox": SERVICE_MAILBOX},
    )
    admin = new_context().new_page()
    sign_in(admin, ADMIN)
    admin.goto(f"{world.url}/outlook/admin/rooms/")
    admin.get_by_role("button", name="Read rooms from the platform tenant").click()
    expect(admin.get_by_text("Read 2 room(s) from Microsoft 365.")).to_be_visible()
    admin.get_by_label("Room A").check()
    admin.get_by_label("Room B").check()
    admin.get_by_role("button", name="Save offered rooms").click()
    expect(admin.get_by_text("Convene now offers 2 room(s) to organizers.")).to_be_visible()
    shot(admin, "rooms-offered")

    start = next_weekday(2, 14, "Europe/Berlin")
    details = services.EventDetails(
        title="Booked first", start=start, end=start + timedelta(hours=1), timezone="Europe/Berlin"
    )
    first = services.create_event(details, creator=world.people[ADA])
    rooms.book(
        first,
        Room.objects.get(email=ROOM),
        actor=world.people[ADA],
        use_capacity=False,
        enqueue=tasks.enqueue_sync,
    )
    wait_until(
        lambda: RoomBooking.objects.filter(event=first, answer=RoomBooking.Answer.ACCEPTED).exists()
    )
    second = services.create_event(
        services.EventDetails(**{**details.__dict__, "title": "Booked second"}),
        creator=world.people[ADA],
    )

    sign_in(page, ADA)
    page.goto(world.url + second.get_absolute_url())
    page.get_by_label("Book a room").select_option(label="Room A (12 seats), building 1, floor 2")
    warning = page.locator("#room-free-busy")
    expect(warning).to_contain_text("Room A is busy then")
    shot(page, "room-picker-warning", docs=True)
    page.get_by_label("Use the room's capacity as the event's capacity").check()
    page.get_by_role("button", name="Save room").click()
    expect(page.get_by_text("Room A is invited; its answer shows here.")).to_be_visible()
    reload_until_visible(page, "Declined")
    expect(page.locator("#room-answer")).to_contain_text("already booked at that time")
    shot(page, "room-declined")

    page.goto(world.url + second.get_absolute_url() + "edit/")
    expect(page.locator("#free-busy-warning")).to_contain_text("Room A is busy then")
    shot(page, "form-warning")
    assert csp_violations(page) == []
