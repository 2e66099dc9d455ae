"""Rooms in organizer mode, over HTTP against the emulator with real MSAL: an admin reads the
rooms of their own organization (the organizers' tenant) through their own Outlook sign-in,
with the delegated Place.Read.All asked of them alone (incremental consent); organizers are
never asked for it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.world import ADA, ADMIN, CUSTOMER, world_seed

from convene.outlook.models import ConnectionStatus, OutlookConnection, Room

from .conftest import PUBLIC_URL, OutlookWorld

ROOM = f"board-room@{CUSTOMER}"


def contoso_rooms_seed() -> dict[str, Any]:
    seed = world_seed(PUBLIC_URL)
    (contoso,) = [t for t in seed["tenants"] if t["domain"] == CUSTOMER]
    contoso["rooms"] = [
        {"emailAddress": ROOM, "displayName": "Board room", "capacity": 10, "building": "HQ"}
    ]
    return seed


def asked_scopes(location: str) -> set[str]:
    (scope,) = parse_qs(urlsplit(location).query)["scope"]
    return {s.rsplit("/", 1)[-1] for s in scope.split()}


def consent_to_places(world: OutlookWorld, back_to: str) -> None:
    """Follow Convene's redirect through Microsoft's sign-in and consent, and back."""
    client = world.browser(ADMIN)
    start = client.get(back_to)
    assert start.status_code == 302
    assert "Place.Read.All" in asked_scopes(start["Location"])
    back = world.emulator.sign_in(start["Location"], ADMIN)
    finished = world.return_from_microsoft(client, back)
    assert finished.status_code == 302
    assert finished["Location"] == "/outlook/admin/rooms/"


def test_an_admin_reads_the_rooms_of_their_own_organization(outlook: OutlookWorld) -> None:
    outlook.emulator.reset(contoso_rooms_seed())
    admin = outlook.browser(ADMIN)
    page = admin.get("/outlook/admin/rooms/").content.decode()
    assert "Read my organization" in page

    first = admin.post("/outlook/admin/rooms/", {"read_mine": "1"})
    assert first.status_code == 302
    assert first["Location"].startswith("/outlook/connect/?")
    assert not Room.objects.exists()
    consent_to_places(outlook, first["Location"])

    again = admin.post("/outlook/admin/rooms/", {"read_mine": "1"})
    assert again.status_code == 302 and again["Location"] == "/outlook/admin/rooms/"
    room = Room.objects.get(email=ROOM)
    assert (room.name, room.capacity, room.building) == ("Board room", 10, "HQ")
    assert "Board room" in admin.get("/outlook/admin/rooms/").content.decode()


def test_an_admin_connected_without_the_places_scope_is_asked_for_it_and_stays_connected(
    outlook: OutlookWorld,
) -> None:
    outlook.emulator.reset(contoso_rooms_seed())
    outlook.connect(ADMIN)

    asked = outlook.browser(ADMIN).post("/outlook/admin/rooms/", {"read_mine": "1"})

    assert asked.status_code == 302 and asked["Location"].startswith("/outlook/connect/?")
    assert not Room.objects.exists()
    connection = OutlookConnection.objects.get(user=outlook.people[ADMIN])
    assert connection.status == ConnectionStatus.CONNECTED, "its calendar access still works"
    consent_to_places(outlook, asked["Location"])
    outlook.browser(ADMIN).post("/outlook/admin/rooms/", {"read_mine": "1"})
    assert Room.objects.filter(email=ROOM).exists()


def test_organizers_are_never_asked_for_the_places_scope(outlook: OutlookWorld) -> None:
    ada = outlook.browser(ADA)
    for query in ({"next": "/outlook/"}, {"next": "/outlook/", "scope": "places"}):
        start = ada.get("/outlook/connect/", query)
        assert start.status_code == 302
        assert "Place.Read.All" not in asked_scopes(start["Location"])
    assert outlook.browser(ADA).post("/outlook/admin/rooms/", {"read_mine": "1"}).status_code == 403
