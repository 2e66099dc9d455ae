"""A series' Teams meeting and room, over real HTTP against the emulator: the master carries
them, every session shares them, and a changed session (an exception) keeps them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from convene.events import series
from convene.events.errors import InvalidEvent
from convene.events.models import Event
from convene.outlook.models import OnlineMeeting, Room, SyncLogEntry

from .conftest import OutlookWorld, teams_series
from .test_connect_and_sync import ADA, ALAN
from .test_platform import SERVICE
from .test_rooms import ROOM, answered, platform
from .test_series_sync import instances

__all__ = ["platform"]


def teams_series_with_room(world: OutlookWorld) -> Event:
    event = teams_series(world, 6, attendees=[ALAN])
    room = Room.objects.get(email=ROOM)
    response = world.browser(ADA).post(f"/outlook/events/{event.pk}/room/", {"room": str(room.pk)})
    assert response.status_code == 302
    return event


def attendee_addresses(occurrence: dict[str, Any]) -> set[str]:
    return {a["emailAddress"]["address"].lower() for a in occurrence.get("attendees") or []}


def test_every_session_shares_the_series_teams_meeting_and_room_and_an_exception_keeps_them(
    platform: OutlookWorld,
) -> None:
    event = teams_series_with_room(platform)
    platform.wait_synced(event.pk)
    answered(platform, event, "accepted")
    meeting = OnlineMeeting.objects.get(event=event)
    assert meeting.is_ready
    for email in (SERVICE, ALAN):
        found = instances(platform, email, event)
        assert len(found) == 6
        assert {i["onlineMeeting"]["joinUrl"] for i in found} == {meeting.join_url}, email
    assert all(ROOM in attendee_addresses(i) for i in instances(platform, SERVICE, event))

    third = series.sessions(event)[2]
    series.change_session(
        event,
        third.on,
        series.SessionDetails(
            third.start + timedelta(hours=2),
            third.end + timedelta(hours=2),
            third.location,
            third.is_online,
            third.online_url,
        ),
        actor=None,
    )
    platform.wait_synced(event.pk)

    # The session's PATCH never names the body, whose Teams join block Outlook would
    # otherwise lose for that occurrence (Graph: keep the online meeting blob).
    (patched,) = SyncLogEntry.objects.filter(event=event, action="update session")
    assert patched.details["properties"] == ["end", "location", "start"]
    for email in (SERVICE, ALAN):
        (exception,) = [i for i in instances(platform, email, event) if i["type"] == "exception"]
        assert exception["isOnlineMeeting"], email
        assert exception["onlineMeeting"]["joinUrl"] == meeting.join_url, email
    (organizers,) = [i for i in instances(platform, SERVICE, event) if i["type"] == "exception"]
    assert ROOM in attendee_addresses(organizers), "the room stays booked for the moved session"
    meeting.refresh_from_db()
    assert meeting.join_url == OnlineMeeting.objects.get(event=event).join_url

    # a session of a Teams series cannot get a link of its own
    fourth = series.sessions(event)[3]
    with pytest.raises(InvalidEvent, match="every session uses the same meeting"):
        series.change_session(
            event,
            fourth.on,
            series.SessionDetails(
                fourth.start, fourth.end, fourth.location, True, "https://example.test/own"
            ),
            actor=None,
        )
