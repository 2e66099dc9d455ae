"""The mailbox viewer (UI port) and the Graph area's control endpoints."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from m365_emulator.graph.testkit import event_body
from m365_emulator.testing import EmulatorHandle

SERVICE = "events@convene-platform.test"
ADA = "ada@contoso.test"


@pytest.fixture
def invited(emulator: EmulatorHandle) -> dict[str, Any]:
    """A meeting from the service mailbox with Ada invited; returns Ada's copy."""
    app = emulator.app_token()
    emulator.graph(
        "POST",
        f"/users/{SERVICE}/events",
        app,
        json=event_body(subject="Quarterly review", attendees=(ADA,)),
    )
    return dict(emulator.control("GET", f"/mailboxes/{ADA}/events").json()["value"][0])


def ui(emulator: EmulatorHandle, path: str) -> httpx.Response:
    return httpx.get(f"{emulator.ui_url}{path}", follow_redirects=True)


def test_people_are_grouped_by_tenant(emulator: EmulatorHandle) -> None:
    page = ui(emulator, "/mailboxes")
    assert page.status_code == 200
    assert "contoso.test" in page.text and "convene-platform.test" in page.text
    assert f"/mailboxes/{quote(ADA, safe='')}" in page.text


def test_week_view_shows_the_meeting_and_the_answer(
    emulator: EmulatorHandle, invited: dict[str, Any]
) -> None:
    page = ui(emulator, f"/mailboxes/{ADA}?week=2030-03-04")
    assert page.status_code == 200
    assert "Quarterly review" in page.text
    assert "Not responded" in page.text


def test_inbox_lists_the_invitation(emulator: EmulatorHandle, invited: dict[str, Any]) -> None:
    page = ui(emulator, f"/mailboxes/{ADA}/inbox")
    assert "Invitation" in page.text and "Quarterly review" in page.text


def test_responding_in_the_viewer_acts_as_the_person(
    emulator: EmulatorHandle, invited: dict[str, Any]
) -> None:
    event_page = ui(emulator, f"/mailboxes/{ADA}/events/{invited['id']}")
    assert "Accept" in event_page.text and "Decline" in event_page.text
    answered = httpx.post(
        f"{emulator.ui_url}/mailboxes/{ADA}/events/{invited['id']}/respond",
        data={"response": "decline", "comment": "On leave", "sendResponse": "1"},
        follow_redirects=True,
    )
    assert answered.status_code == 200
    assert "Declined" in answered.text
    replies = emulator.control("GET", f"/mailboxes/{SERVICE}/messages").json()["value"]
    assert replies[0]["meetingMessageType"] == "meetingDeclined"
    organizer = emulator.control("GET", f"/mailboxes/{SERVICE}/events").json()["value"][0]
    assert organizer["attendees"][0]["status"]["response"] == "declined"


def test_cancelled_meeting_is_struck_through(
    emulator: EmulatorHandle, invited: dict[str, Any]
) -> None:
    organizer = emulator.control("GET", f"/mailboxes/{SERVICE}/events").json()["value"][0]
    emulator.control("DELETE", f"/mailboxes/{SERVICE}/events/{organizer['id']}")
    page = ui(emulator, f"/mailboxes/{ADA}?week=2030-03-04")
    assert "cancelled" in page.text and "Canceled: Quarterly review" in page.text


def test_unknown_person_is_a_404_page(emulator: EmulatorHandle) -> None:
    assert ui(emulator, "/mailboxes/nobody@nowhere.test").status_code == 404


def test_control_create_event_as_owner(emulator: EmulatorHandle) -> None:
    created = emulator.control("POST", f"/mailboxes/{ADA}/events", event_body(subject="Dentist"))
    assert created.status_code == 201
    listed = emulator.control("GET", f"/mailboxes/{ADA}/events").json()["value"]
    assert [e["subject"] for e in listed] == ["Dentist"]


def test_control_respond_validates_the_answer(
    emulator: EmulatorHandle, invited: dict[str, Any]
) -> None:
    response = emulator.control(
        "POST", f"/mailboxes/{ADA}/events/{invited['id']}/respond", {"response": "maybe"}
    )
    assert response.status_code == 400


def test_control_unknown_mailbox_is_404(emulator: EmulatorHandle) -> None:
    assert emulator.control("GET", "/mailboxes/nobody@nowhere.test/events").status_code == 404


def test_control_lists_every_subscription_and_settings(emulator: EmulatorHandle) -> None:
    assert emulator.control("GET", "/subscriptions").json() == {"value": []}
    assert emulator.control("POST", "/graph/settings", {"processingMs": 5}).json() == {
        "processingMs": 5
    }
    assert emulator.control("POST", "/graph/settings", {"processingMs": -1}).status_code == 400
    settings = emulator.control("GET", "/notifications").json()
    assert settings["enabled"] is True and settings["timeoutSeconds"] == 3.0
