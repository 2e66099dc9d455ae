"""Meetings behave as Exchange runs them: copies, messages, updates, cancellations, responses."""

from __future__ import annotations

import time
from copy import deepcopy
from typing import Any

import pytest

from m365_emulator.graph.testkit import event_body
from m365_emulator.testing import SERVICE_MAILBOX, STANDARD_SEED, EmulatorHandle

ADA = "ada@contoso.test"
GRACE = "grace@contoso.test"
ALAN = "alan@contoso.test"
SERVICE = "events@convene-platform.test"


@pytest.fixture
def service(emulator: EmulatorHandle) -> str:
    return emulator.app_token()


def meeting(emulator: EmulatorHandle, token: str, *attendees: str, **extra: Any) -> dict[str, Any]:
    response = emulator.graph(
        "POST", f"/users/{SERVICE}/events", token, json=event_body(attendees=attendees, **extra)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def mailbox(emulator: EmulatorHandle, upn: str) -> list[dict[str, Any]]:
    return list(emulator.control("GET", f"/mailboxes/{upn}/events").json()["value"])


def messages(emulator: EmulatorHandle, upn: str) -> list[dict[str, Any]]:
    return list(emulator.control("GET", f"/mailboxes/{upn}/messages").json()["value"])


def copy_of(emulator: EmulatorHandle, upn: str) -> dict[str, Any]:
    (event,) = mailbox(emulator, upn)
    return event


def test_invitation_reaches_attendees_in_another_tenant(
    emulator: EmulatorHandle, service: str
) -> None:
    event = meeting(emulator, service, ADA, GRACE)
    for upn in (ADA, GRACE):
        copy = copy_of(emulator, upn)
        assert copy["iCalUId"] == event["iCalUId"]
        assert copy["id"] != event["id"]
        assert copy["isOrganizer"] is False
        assert copy["responseStatus"]["response"] == "notResponded"
        assert copy["organizer"]["emailAddress"]["address"] == SERVICE
        (message,) = messages(emulator, upn)
        assert message["meetingMessageType"] == "meetingRequest"
        assert message["meetingRequestType"] == "newMeetingRequest"
    assert [a["status"]["response"] for a in event["attendees"]] == ["none", "none"]
    assert emulator.backend.graph.count_events(event["iCalUId"]) == 3


def test_external_attendees_stay_on_the_organizer_event_only(
    emulator: EmulatorHandle, service: str
) -> None:
    event = meeting(emulator, service, "someone@elsewhere.test")
    assert event["attendees"][0]["emailAddress"]["address"] == "someone@elsewhere.test"
    assert emulator.backend.graph.count_events(event["iCalUId"]) == 1


def test_accept_updates_organizer_status_and_sends_a_response(
    emulator: EmulatorHandle, service: str
) -> None:
    event = meeting(emulator, service, ADA)
    ada = emulator.token_for(ADA)
    copy = copy_of(emulator, ADA)
    response = emulator.graph(
        "POST",
        f"/me/events/{copy['id']}/accept",
        ada,
        json={"comment": "See you", "sendResponse": True},
    )
    assert response.status_code == 202
    organizer = emulator.graph("GET", f"/users/{SERVICE}/events/{event['id']}", service).json()
    status = organizer["attendees"][0]["status"]
    assert status["response"] == "accepted"
    assert status["time"] != "0001-01-01T00:00:00Z"
    assert organizer["changeKey"] != event["changeKey"]
    (reply,) = messages(emulator, SERVICE)
    assert reply["meetingMessageType"] == "meetingAccepted"
    assert reply["responseType"] == "accepted"
    assert "See you" in reply["body"]["content"]
    assert copy_of(emulator, ADA)["responseStatus"]["response"] == "accepted"


def test_decline_without_send_response_sends_no_message(
    emulator: EmulatorHandle, service: str
) -> None:
    event = meeting(emulator, service, ADA)
    ada = emulator.token_for(ADA)
    copy = copy_of(emulator, ADA)
    emulator.graph("POST", f"/me/events/{copy['id']}/decline", ada, json={"sendResponse": False})
    organizer = emulator.graph("GET", f"/users/{SERVICE}/events/{event['id']}", service).json()
    assert organizer["attendees"][0]["status"]["response"] == "declined"
    assert messages(emulator, SERVICE) == []


def test_tentative_through_the_control_api(emulator: EmulatorHandle, service: str) -> None:
    event = meeting(emulator, service, GRACE)
    copy = copy_of(emulator, GRACE)
    answer = emulator.control(
        "POST",
        f"/mailboxes/{GRACE}/events/{copy['id']}/respond",
        {"response": "tentativelyAccept", "comment": "maybe"},
    )
    assert answer.status_code == 200
    organizer = emulator.graph("GET", f"/users/{SERVICE}/events/{event['id']}", service).json()
    assert organizer["attendees"][0]["status"]["response"] == "tentativelyAccepted"
    assert messages(emulator, SERVICE)[0]["meetingMessageType"] == "meetingTenativelyAccepted"


def test_organizer_cannot_respond_to_own_meeting(emulator: EmulatorHandle, service: str) -> None:
    event = meeting(emulator, service, ADA)
    response = emulator.graph(
        "POST", f"/users/{SERVICE}/events/{event['id']}/accept", service, json={}
    )
    assert response.status_code == 400


def test_patch_with_only_attendees_notifies_only_who_changed(
    emulator: EmulatorHandle, service: str
) -> None:
    event = meeting(emulator, service, ADA, GRACE)
    attendees = [{"emailAddress": {"address": a}, "type": "required"} for a in (ADA, ALAN)]
    response = emulator.graph(
        "PATCH", f"/users/{SERVICE}/events/{event['id']}", service, json={"attendees": attendees}
    )
    assert response.status_code == 200
    assert [m["meetingMessageType"] for m in messages(emulator, ADA)] == ["meetingRequest"]
    assert [m["meetingMessageType"] for m in messages(emulator, ALAN)] == ["meetingRequest"]
    assert [m["meetingMessageType"] for m in messages(emulator, GRACE)] == [
        "meetingRequest",
        "meetingCancelled",
    ]
    assert copy_of(emulator, GRACE)["isCancelled"] is True
    assert copy_of(emulator, ALAN)["isCancelled"] is False


def test_organizer_update_reaches_every_copy(emulator: EmulatorHandle, service: str) -> None:
    event = meeting(emulator, service, ADA, GRACE)
    emulator.graph(
        "PATCH",
        f"/users/{SERVICE}/events/{event['id']}",
        service,
        json={"subject": "Moved", "location": {"displayName": "Room 2"}},
    )
    for upn in (ADA, GRACE):
        copy = copy_of(emulator, upn)
        assert copy["subject"] == "Moved"
        assert copy["location"]["displayName"] == "Room 2"
        update = messages(emulator, upn)[-1]
        assert update["meetingRequestType"] == "fullUpdate"


def test_personal_changes_send_no_update(emulator: EmulatorHandle, service: str) -> None:
    event = meeting(emulator, service, ADA)
    emulator.graph(
        "PATCH",
        f"/users/{SERVICE}/events/{event['id']}",
        service,
        json={"categories": ["Convene"], "reminderMinutesBeforeStart": 30},
    )
    assert len(messages(emulator, ADA)) == 1


def test_new_time_asks_attendees_again(emulator: EmulatorHandle, service: str) -> None:
    event = meeting(emulator, service, ADA)
    copy = copy_of(emulator, ADA)
    emulator.control(
        "POST", f"/mailboxes/{ADA}/events/{copy['id']}/respond", {"response": "accept"}
    )
    moved = {"dateTime": "2030-03-05T10:00:00", "timeZone": "UTC"}
    updated = emulator.graph(
        "PATCH",
        f"/users/{SERVICE}/events/{event['id']}",
        service,
        json={"start": moved, "end": {**moved, "dateTime": "2030-03-05T11:00:00"}},
    )
    assert updated.json()["attendees"][0]["status"]["response"] == "none"
    assert copy_of(emulator, ADA)["responseStatus"]["response"] == "notResponded"


def test_cancel_cancels_every_copy_with_the_comment(emulator: EmulatorHandle, service: str) -> None:
    event = meeting(emulator, service, ADA, GRACE)
    response = emulator.graph(
        "POST",
        f"/users/{SERVICE}/events/{event['id']}/cancel",
        service,
        json={"comment": "Snowed in"},
    )
    assert response.status_code == 202
    assert mailbox(emulator, SERVICE) == []
    for upn in (ADA, GRACE):
        copy = copy_of(emulator, upn)
        assert copy["isCancelled"] is True
        assert copy["subject"].startswith("Canceled: ")
        cancellation = messages(emulator, upn)[-1]
        assert cancellation["meetingMessageType"] == "meetingCancelled"
        assert "Snowed in" in cancellation["body"]["content"]


def test_only_the_organizer_may_cancel(emulator: EmulatorHandle, service: str) -> None:
    meeting(emulator, service, ADA)
    ada = emulator.token_for(ADA)
    copy = copy_of(emulator, ADA)
    response = emulator.graph("POST", f"/me/events/{copy['id']}/cancel", ada, json={})
    assert response.status_code == 400
    assert "organizer" in response.json()["error"]["message"]


def test_organizer_delete_cancels_the_copies(emulator: EmulatorHandle, service: str) -> None:
    event = meeting(emulator, service, ADA)
    assert (
        emulator.graph("DELETE", f"/users/{SERVICE}/events/{event['id']}", service).status_code
        == 204
    )
    assert copy_of(emulator, ADA)["isCancelled"] is True
    assert messages(emulator, ADA)[-1]["meetingMessageType"] == "meetingCancelled"


def test_more_than_the_attendee_limit_is_refused(emulator: EmulatorHandle, service: str) -> None:
    attendees = tuple(f"person{i}@elsewhere.test" for i in range(501))
    response = emulator.graph(
        "POST", f"/users/{SERVICE}/events", service, json=event_body(attendees=attendees)
    )
    assert response.status_code == 400
    assert (
        emulator.graph(
            "POST", f"/users/{SERVICE}/events", service, json=event_body(attendees=attendees[:500])
        ).status_code
        == 201
    )


def test_owner_edit_and_delete_through_the_control_api(
    emulator: EmulatorHandle, service: str
) -> None:
    event = meeting(emulator, service, ADA)
    edited = emulator.control(
        "PATCH", f"/mailboxes/{SERVICE}/events/{event['id']}", {"subject": "Edited in Outlook"}
    )
    assert edited.json()["subject"] == "Edited in Outlook"
    assert copy_of(emulator, ADA)["subject"] == "Edited in Outlook"
    assert (
        emulator.control("DELETE", f"/mailboxes/{SERVICE}/events/{event['id']}").status_code == 204
    )
    assert copy_of(emulator, ADA)["isCancelled"] is True


def test_store_api_answers_as_an_attendee(emulator: EmulatorHandle, service: str) -> None:
    event = meeting(emulator, service, GRACE)
    store = emulator.backend.graph
    grace = emulator.backend.user(GRACE)
    assert grace is not None
    (copy,) = store.events(grace)
    store.respond(grace, copy.id, "decline", comment="Away")
    (master,) = [e for e in store.events_with_ical_uid(event["iCalUId"]) if e.is_organizer]
    assert master.attendees[0].response == "declined"


def teams_meeting(emulator: EmulatorHandle, token: str, *attendees: str) -> dict[str, Any]:
    return meeting(
        emulator,
        token,
        *attendees,
        body={"contentType": "html", "content": "<p>Bring your laptop.</p>"},
        isOnlineMeeting=True,
        onlineMeetingProvider="teamsForBusiness",
    )


def test_outlook_adds_the_teams_join_block_to_the_body_of_every_copy(
    emulator: EmulatorHandle, service: str
) -> None:
    event = teams_meeting(emulator, service, ADA)
    join_url = event["onlineMeeting"]["joinUrl"]
    for copy in (event, copy_of(emulator, ADA)):
        content = copy["body"]["content"]
        assert content.index("Bring your laptop.") < content.index("Microsoft Teams meeting")
        assert f'href="{join_url}"' in content
        assert "Join the meeting now" in content
        assert "Meeting ID: " in content
        assert content.rstrip().endswith("</html>")
    plain = meeting(emulator, service, ADA, subject="No Teams")
    assert "Microsoft Teams meeting" not in plain["body"]["content"]


def test_a_body_written_without_the_join_block_disables_the_online_meeting(
    emulator: EmulatorHandle, service: str
) -> None:
    event = teams_meeting(emulator, service, ADA)
    response = emulator.graph(
        "PATCH",
        f"/users/{SERVICE}/events/{event['id']}",
        service,
        json={"body": {"contentType": "html", "content": "<p>Bring a pen.</p>"}},
    )

    assert response.status_code == 200, response.text
    for copy in (response.json(), copy_of(emulator, ADA)):
        assert copy["isOnlineMeeting"] is False
        assert copy["onlineMeeting"] is None
        assert "Bring a pen." in copy["body"]["content"]


def test_a_body_that_keeps_the_join_block_keeps_the_online_meeting(
    emulator: EmulatorHandle, service: str
) -> None:
    event = teams_meeting(emulator, service, ADA)
    join_url = event["onlineMeeting"]["joinUrl"]
    kept = event["body"]["content"].replace("Bring your laptop.", "Bring a pen.")
    response = emulator.graph(
        "PATCH",
        f"/users/{SERVICE}/events/{event['id']}",
        service,
        json={"body": {"contentType": "html", "content": kept}},
    )

    assert response.status_code == 200, response.text
    for copy in (response.json(), copy_of(emulator, ADA)):
        assert copy["isOnlineMeeting"] is True
        assert copy["onlineMeeting"]["joinUrl"] == join_url
        assert "Bring a pen." in copy["body"]["content"]
        assert copy["body"]["content"].count("Microsoft Teams meeting") == 1
    # a PATCH without the body leaves the meeting alone
    response = emulator.graph(
        "PATCH", f"/users/{SERVICE}/events/{event['id']}", service, json={"subject": "Renamed"}
    )
    assert response.json()["onlineMeeting"]["joinUrl"] == join_url


def test_a_late_teams_meeting_brings_its_join_block_when_it_arrives(
    emulator: EmulatorHandle,
) -> None:
    seed = deepcopy(STANDARD_SEED)
    for tenant in seed["tenants"]:
        for user in tenant.get("users", []):
            if user["userPrincipalName"] == SERVICE_MAILBOX:
                user["teamsMeetingDelaySeconds"] = 60
    emulator.reset(seed)
    token = emulator.app_token()
    event = teams_meeting(emulator, token, ADA)
    assert event["onlineMeeting"] is None
    assert "Microsoft Teams meeting" not in event["body"]["content"]

    emulator.advance_clock(61)

    read = emulator.graph("GET", f"/users/{SERVICE}/events/{event['id']}", token).json()
    join_url = read["onlineMeeting"]["joinUrl"]
    for found in (read, copy_of(emulator, ADA)):
        assert f'href="{join_url}"' in found["body"]["content"]
        assert "Bring your laptop." in found["body"]["content"]


def test_a_create_is_answered_before_its_invitations_are_delivered(
    emulator: EmulatorHandle, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exchange's transport delivers meeting requests after the create's answer; the
    emulator's too, but nobody reading a mailbox can tell: a read delivers what is due first."""
    # Hold the transport's background delivery, so what reads do is seen on its own.
    monkeypatch.setattr(emulator.backend.graph.transport, "_start", lambda: None)

    created = meeting(emulator, service, ADA, GRACE, ALAN)

    assert emulator.control("GET", "/stats").json()["transport"]["pending"] == 3
    assert copy_of(emulator, GRACE)["iCalUId"] == created["iCalUId"]
    assert [m["meetingMessageType"] for m in messages(emulator, GRACE)] == ["meetingRequest"]
    assert emulator.control("GET", "/stats").json()["transport"]["pending"] == 2
    # A Graph read of the attendee's own calendar delivers too.
    events = emulator.graph("GET", "/me/events", emulator.token_for(ADA)).json()["value"]
    assert [e["iCalUId"] for e in events] == [created["iCalUId"]]
    # The census of every mailbox delivers everything first.
    census = emulator.control("GET", f"/meetings?subject={created['subject']}").json()
    assert {e["mailbox"] for e in census["events"]} == {SERVICE, ADA, GRACE, ALAN}
    assert emulator.control("GET", "/stats").json()["transport"]["pending"] == 0


def test_invitations_are_delivered_in_the_background_and_in_order(
    emulator: EmulatorHandle, service: str
) -> None:
    created = meeting(emulator, service, ADA, GRACE)
    # Cancelled at once: the cancellation finds the invitation delivered before it.
    assert (
        emulator.graph(
            "POST", f"/users/{SERVICE}/events/{created['id']}/cancel", service, json={}
        ).status_code
        == 202
    )
    deadline = time.monotonic() + 5
    while emulator.control("GET", "/stats").json()["transport"]["pending"]:
        assert time.monotonic() < deadline, "the transport did not deliver"
        time.sleep(0.05)

    assert [m["meetingMessageType"] for m in messages(emulator, GRACE)] == [
        "meetingRequest",
        "meetingCancelled",
    ]
    assert copy_of(emulator, GRACE)["isCancelled"] is True
