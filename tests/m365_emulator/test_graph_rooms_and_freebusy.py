"""Rooms (places API, room mailboxes answering invitations) and free/busy (getSchedule)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.m365_emulator.test_schema_conformance import conformance_errors

from m365_emulator.graph.testkit import event_body
from m365_emulator.testing import PLATFORM_DOMAIN, PLATFORM_TENANT_ID, EmulatorHandle

SERVICE = f"events@{PLATFORM_DOMAIN}"
PRESENTER = f"presenter@{PLATFORM_DOMAIN}"
PRIVATE = f"private@{PLATFORM_DOMAIN}"
ROOM = f"room-a@{PLATFORM_DOMAIN}"
DELEGATED_ROOM = f"room-b@{PLATFORM_DOMAIN}"
BUILDING = f"building-1@{PLATFORM_DOMAIN}"
PLACES_APP = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

ROOMS_SEED: dict[str, Any] = {
    "tenants": [
        {
            "id": PLATFORM_TENANT_ID,
            "domain": PLATFORM_DOMAIN,
            "users": [
                {"userPrincipalName": PRESENTER, "password": "Passw0rd!"},
                {"userPrincipalName": PRIVATE, "password": "Passw0rd!", "sharesFreeBusy": False},
            ],
            "roomLists": [{"emailAddress": BUILDING, "displayName": "Building 1"}],
            "rooms": [
                {
                    "emailAddress": ROOM,
                    "displayName": "Room A",
                    "capacity": 12,
                    "building": "1",
                    "floorNumber": 2,
                    "roomList": BUILDING,
                },
                {
                    "emailAddress": DELEGATED_ROOM,
                    "displayName": "Room B",
                    "capacity": 40,
                    "building": "1",
                    "floorNumber": 0,
                    "booking": "delegate",
                },
            ],
            "apps": [
                {
                    "clientId": PLACES_APP,
                    "clientSecret": "places-secret",
                    "redirectUris": ["http://localhost/callback"],
                    "applicationPermissions": ["Place.Read.All", "Calendars.Read"],
                    "adminConsented": True,
                }
            ],
        }
    ]
}


@pytest.fixture
def world(emulator: EmulatorHandle) -> EmulatorHandle:
    emulator.control("POST", "/seed", ROOMS_SEED).raise_for_status()
    return emulator


@pytest.fixture
def service(world: EmulatorHandle) -> str:
    return world.app_token()


def places_token(emulator: EmulatorHandle) -> str:
    response = emulator.http.post(
        emulator.token_endpoint(PLATFORM_TENANT_ID),
        data={
            "grant_type": "client_credentials",
            "client_id": PLACES_APP,
            "client_secret": "places-secret",
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def book(emulator: EmulatorHandle, token: str, room: str, **times: str) -> dict[str, Any]:
    body = event_body(**times)
    body["attendees"] = [{"emailAddress": {"address": room}, "type": "resource"}]
    response = emulator.graph("POST", f"/users/{SERVICE}/events", token, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def room_status(emulator: EmulatorHandle, token: str, event_id: str) -> str:
    event = emulator.graph("GET", f"/users/{SERVICE}/events/{event_id}", token).json()
    return str(event["attendees"][0]["status"]["response"])


def schedule(emulator: EmulatorHandle, token: str, *addresses: str, **extra: Any) -> dict[str, Any]:
    body = {
        "schedules": list(addresses),
        "startTime": {"dateTime": "2030-03-04T09:00:00", "timeZone": "UTC"},
        "endTime": {"dateTime": "2030-03-04T12:00:00", "timeZone": "UTC"},
        "availabilityViewInterval": 60,
        **extra,
    }
    return dict(
        emulator.graph("POST", f"/users/{SERVICE}/calendar/getSchedule", token, json=body).json()
    )


# ----- places ------------------------------------------------------------------------------


def test_rooms_list_with_capacity_building_and_floor(world: EmulatorHandle) -> None:
    answer = world.graph("GET", "/places/microsoft.graph.room", places_token(world)).json()
    assert answer["@odata.context"].endswith("#places/microsoft.graph.room")
    rooms = {r["emailAddress"]: r for r in answer["value"]}
    assert set(rooms) == {ROOM, DELEGATED_ROOM}
    assert (rooms[ROOM]["capacity"], rooms[ROOM]["building"], rooms[ROOM]["floorNumber"]) == (
        12,
        "1",
        2,
    )
    assert rooms[ROOM]["displayName"] == "Room A"


def test_room_lists_and_the_rooms_of_one(world: EmulatorHandle) -> None:
    token = places_token(world)
    lists = world.graph("GET", "/places/microsoft.graph.roomlist", token).json()["value"]
    assert [(r["emailAddress"], r["displayName"]) for r in lists] == [(BUILDING, "Building 1")]
    inside = world.graph("GET", f"/places/{BUILDING}/microsoft.graph.roomlist/rooms", token)
    assert [r["emailAddress"] for r in inside.json()["value"]] == [ROOM]


def test_places_need_place_read_all(world: EmulatorHandle, service: str) -> None:
    response = world.graph("GET", "/places/microsoft.graph.room", service)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ErrorAccessDenied"


def test_places_page_with_top(world: EmulatorHandle) -> None:
    answer = world.graph(
        "GET", "/places/microsoft.graph.room", places_token(world), params={"$top": "1"}
    ).json()
    assert len(answer["value"]) == 1
    assert "$skip=1" in answer["@odata.nextLink"]


# ----- room mailboxes ----------------------------------------------------------------------


def test_free_room_accepts_at_once(world: EmulatorHandle, service: str) -> None:
    event = book(world, service, ROOM)
    assert room_status(world, service, event["id"]) == "accepted"


def test_booked_room_declines_with_the_reason(world: EmulatorHandle, service: str) -> None:
    book(world, service, ROOM)
    clash = book(world, service, ROOM, start="2030-03-04T10:30:00", end="2030-03-04T11:30:00")
    assert room_status(world, service, clash["id"]) == "declined"
    replies = world.control("GET", f"/mailboxes/{SERVICE}/messages").json()["value"]
    declined = [m for m in replies if m.get("responseType") == "declined"]
    assert "already booked" in declined[0]["body"]["content"]


def test_delegate_room_answers_later_through_the_control_api(
    world: EmulatorHandle, service: str
) -> None:
    event = book(world, service, DELEGATED_ROOM)
    assert room_status(world, service, event["id"]) == "none"
    (copy,) = world.control("GET", f"/mailboxes/{DELEGATED_ROOM}/events").json()["value"]
    world.control(
        "POST", f"/mailboxes/{DELEGATED_ROOM}/events/{copy['id']}/respond", {"response": "accept"}
    ).raise_for_status()
    assert room_status(world, service, event["id"]) == "accepted"


def test_room_declines_a_series_that_clashes_in_one_session(
    world: EmulatorHandle, service: str
) -> None:
    book(world, service, ROOM, start="2030-03-06T10:00:00", end="2030-03-06T11:00:00")
    body = event_body()
    body["attendees"] = [{"emailAddress": {"address": ROOM}, "type": "resource"}]
    body["recurrence"] = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": "2030-03-04", "numberOfOccurrences": 5},
    }
    series = world.graph("POST", f"/users/{SERVICE}/events", service, json=body).json()
    assert room_status(world, service, series["id"]) == "declined"


# ----- getSchedule -------------------------------------------------------------------------


def test_schedule_shows_a_busy_presenter(world: EmulatorHandle, service: str) -> None:
    world.control(
        "POST", f"/mailboxes/{PRESENTER}/events", event_body(subject="Dentist")
    ).raise_for_status()
    (info,) = schedule(world, service, PRESENTER)["value"]
    assert info["scheduleId"] == PRESENTER
    assert info["availabilityView"] == "020"
    (item,) = info["scheduleItems"]
    assert (item["status"], item["start"]["dateTime"]) == ("busy", "2030-03-04T10:00:00.0000000")
    assert info["workingHours"]["daysOfWeek"][0] == "monday"


def test_schedule_counts_a_series_and_an_unanswered_invitation(
    world: EmulatorHandle, service: str
) -> None:
    body = event_body(start="2030-03-01T09:00:00", end="2030-03-01T10:00:00")
    body["recurrence"] = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": "2030-03-01", "numberOfOccurrences": 10},
    }
    world.control("POST", f"/mailboxes/{PRESENTER}/events", body).raise_for_status()
    world.graph(
        "POST", f"/users/{SERVICE}/events", service, json=event_body(attendees=(PRESENTER,))
    )
    (info,) = schedule(world, service, PRESENTER)["value"]
    assert info["availabilityView"] == "210"
    assert [i["status"] for i in info["scheduleItems"]] == ["busy", "tentative"]


def test_schedule_hides_what_a_private_event_is(world: EmulatorHandle, service: str) -> None:
    world.control(
        "POST",
        f"/mailboxes/{PRESENTER}/events",
        event_body(subject="Interview", sensitivity="private"),
    ).raise_for_status()
    (item,) = schedule(world, service, PRESENTER)["value"][0]["scheduleItems"]
    assert item["isPrivate"] is True
    assert "subject" not in item and "location" not in item


def test_mailbox_that_shares_no_free_busy_answers_an_error_of_its_own(
    world: EmulatorHandle, service: str
) -> None:
    found = schedule(world, service, PRIVATE, PRESENTER, "nobody@elsewhere.test")["value"]
    assert found[0]["error"]["responseCode"] == "ErrorNoFreeBusyAccess"
    assert "availabilityView" not in found[0]
    assert found[1]["availabilityView"] == "000"
    assert found[2]["error"]["responseCode"] == "5009"


def test_schedule_refuses_more_than_20_addresses(world: EmulatorHandle, service: str) -> None:
    response = world.graph(
        "POST",
        f"/users/{SERVICE}/calendar/getSchedule",
        service,
        json={
            "schedules": [f"p{i}@{PLATFORM_DOMAIN}" for i in range(21)],
            "startTime": {"dateTime": "2030-03-04T09:00:00", "timeZone": "UTC"},
            "endTime": {"dateTime": "2030-03-04T12:00:00", "timeZone": "UTC"},
        },
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (
            {"endTime": {"dateTime": "2030-06-01T00:00:00", "timeZone": "UTC"}},
            "ErrorInvalidTimeInterval",
        ),
        ({"availabilityViewInterval": 4}, "ErrorInvalidParameter"),
    ],
)
def test_schedule_refuses_a_window_or_interval_out_of_range(
    world: EmulatorHandle, service: str, extra: dict[str, Any], code: str
) -> None:
    assert schedule(world, service, PRESENTER, **extra)["error"]["code"] == code


def test_schedule_needs_a_calendars_permission(world: EmulatorHandle) -> None:
    token = world.token_for(PRESENTER, scopes=("User.Read",))
    response = world.graph(
        "POST",
        "/me/calendar/getSchedule",
        token,
        json={
            "schedules": [PRESENTER],
            "startTime": {"dateTime": "2030-03-04T09:00:00", "timeZone": "UTC"},
            "endTime": {"dateTime": "2030-03-04T12:00:00", "timeZone": "UTC"},
        },
    )
    assert response.status_code == 403


def test_room_free_busy_shows_its_bookings(world: EmulatorHandle, service: str) -> None:
    book(world, service, ROOM)
    (info,) = schedule(world, service, ROOM)["value"]
    assert info["availabilityView"] == "020"


# ----- shapes against Microsoft's CSDL -----------------------------------------------------


def test_places_and_schedules_match_the_csdl(world: EmulatorHandle, service: str) -> None:
    token = places_token(world)
    book(world, service, ROOM)
    rooms = world.graph("GET", "/places/microsoft.graph.room", token).json()["value"]
    lists = world.graph("GET", "/places/microsoft.graph.roomlist", token).json()["value"]
    infos = schedule(world, service, ROOM, PRIVATE, "nobody@elsewhere.test")["value"]
    errors = [
        *(e for r in rooms for e in conformance_errors("room", r)),
        *(e for r in lists for e in conformance_errors("roomList", r)),
        *(e for i in infos for e in conformance_errors("scheduleInformation", i)),
    ]
    assert errors == []
    assert infos[0]["scheduleItems"], "the sample has schedule items"
