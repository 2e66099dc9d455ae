"""The mailbox viewer (UI port) and the Graph area's control endpoints."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from m365_emulator.graph.testkit import event_body
from m365_emulator.testing import PASSWORD, EmulatorHandle

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


def signed_in(emulator: EmulatorHandle, email: str = ADA) -> httpx.Client:
    """A browser signed in to the viewer as ``email`` (its own sign-in page)."""
    browser = httpx.Client(base_url=emulator.ui_url, follow_redirects=True)
    page = browser.post("/mailboxes/sign-in", data={"username": email, "password": PASSWORD})
    assert page.status_code == 200, page.text
    return browser


def ui(emulator: EmulatorHandle, path: str) -> httpx.Response:
    """A page of Ada's mailbox, as Ada signed in."""
    browser = signed_in(emulator)
    try:
        return browser.get(path)
    finally:
        browser.close()


def csrf_token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the answer form carries no token"
    return found.group(1)


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
    browser = signed_in(emulator)
    event_page = browser.get(f"/mailboxes/{ADA}/events/{invited['id']}")
    assert "Accept" in event_page.text and "Decline" in event_page.text
    answered = browser.post(
        f"/mailboxes/{ADA}/events/{invited['id']}/respond",
        data={
            "response": "decline",
            "comment": "On leave",
            "sendResponse": "1",
            "csrf_token": csrf_token(event_page),
        },
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


# --- who may see and answer (issue 19: any local page could answer for anyone) ------------


def test_a_mailbox_sends_a_visitor_to_its_sign_in_page(emulator: EmulatorHandle) -> None:
    page = httpx.get(f"{emulator.ui_url}/mailboxes/{ADA}?week=2030-03-04")

    assert page.status_code == 303
    target = urlsplit(page.headers["location"])
    assert target.path == "/mailboxes/sign-in"
    assert parse_qs(target.query) == {
        "next": [f"/mailboxes/{ADA}?week=2030-03-04"],
        "login_hint": [ADA],
    }


def test_signing_in_returns_to_the_page_asked_for(emulator: EmulatorHandle) -> None:
    browser = httpx.Client(base_url=emulator.ui_url, follow_redirects=True)
    first = browser.get(f"/mailboxes/{ADA}/inbox")
    assert "Sign in" in first.text and f'value="{ADA}"' in first.text
    back = browser.post(
        str(first.url.copy_with(scheme=None, host=None, port=None)),
        data={"username": ADA, "password": PASSWORD},
    )
    assert back.url.path == f"/mailboxes/{ADA}/inbox"


def test_a_wrong_password_is_refused(emulator: EmulatorHandle) -> None:
    browser = httpx.Client(base_url=emulator.ui_url)
    page = browser.post("/mailboxes/sign-in", data={"username": ADA, "password": "guess"})

    assert page.status_code == 401
    assert "incorrect" in page.text
    assert browser.get(f"/mailboxes/{ADA}").status_code == 303


def test_someone_else_signed_in_is_asked_to_sign_in_as_the_owner(
    emulator: EmulatorHandle,
) -> None:
    other = "grace@contoso.test"
    page = signed_in(emulator, other).get(f"/mailboxes/{ADA}", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/mailboxes/sign-in?")


def test_sign_in_never_returns_to_another_site(emulator: EmulatorHandle) -> None:
    browser = httpx.Client(base_url=emulator.ui_url)
    page = browser.post(
        "/mailboxes/sign-in?next=https%3A%2F%2Fevil.test%2F",
        data={"username": ADA, "password": PASSWORD},
    )
    assert page.headers["location"] == f"/mailboxes/{quote(ADA, safe='')}"


def test_an_answer_without_the_forms_token_changes_nothing(
    emulator: EmulatorHandle, invited: dict[str, Any]
) -> None:
    answered = signed_in(emulator).post(
        f"/mailboxes/{ADA}/events/{invited['id']}/respond", data={"response": "decline"}
    )
    assert answered.status_code == 403
    organizer = emulator.control("GET", f"/mailboxes/{SERVICE}/events").json()["value"][0]
    assert organizer["attendees"][0]["status"]["response"] == "none"


def test_an_answer_posted_by_another_page_changes_nothing(
    emulator: EmulatorHandle, invited: dict[str, Any]
) -> None:
    """A page elsewhere in the browser posts without the viewer's (SameSite) cookie."""
    answered = httpx.post(
        f"{emulator.ui_url}/mailboxes/{ADA}/events/{invited['id']}/respond",
        data={"response": "decline", "csrf_token": "0" * 64},
    )
    assert answered.status_code == 403
    organizer = emulator.control("GET", f"/mailboxes/{SERVICE}/events").json()["value"][0]
    assert organizer["attendees"][0]["status"]["response"] == "none"


def test_signing_out_closes_the_mailbox(emulator: EmulatorHandle) -> None:
    browser = signed_in(emulator)
    browser.post("/mailboxes/sign-out")
    assert browser.get(f"/mailboxes/{ADA}", follow_redirects=False).status_code == 303


# --- issue 18, item 8 -------------------------------------------------------------------


def test_the_attendee_table_shows_the_owners_own_answer(
    emulator: EmulatorHandle, invited: dict[str, Any]
) -> None:
    emulator.control(
        "POST", f"/mailboxes/{ADA}/events/{invited['id']}/respond", {"response": "decline"}
    )

    page = ui(emulator, f"/mailboxes/{ADA}/events/{invited['id']}")

    rows = re.findall(r"<tr><td>[^<]*</td><td class=\"muted\">([^<]+)</td>.*?</tr>", page.text)
    assert rows == [ADA]
    own_row = re.search(rf"{re.escape(ADA)}</td>.*?</tr>", page.text, re.DOTALL)
    assert own_row is not None
    assert "Declined" in own_row.group(0) and "No response" not in own_row.group(0)
