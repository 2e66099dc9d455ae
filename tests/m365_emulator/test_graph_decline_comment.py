"""Where an attendee's decline comment ("Sorry, I cannot make it") is visible to the organizer,
as in Microsoft Graph: not on the organizer's event (``attendees[].status`` is a
responseStatus, only ``response`` and ``time``), but as the body of the eventMessageResponse
delivered to the organizer's mailbox; reading messages needs a mail permission, and their body
needs ``Mail.Read`` (``Mail.ReadBasic`` leaves out ``body`` and ``bodyPreview``)."""

from __future__ import annotations

import pytest

from m365_emulator.graph.testkit import event_body
from m365_emulator.testing import EmulatorHandle, seed_with_delegated_scopes

ADA = "ada@contoso.test"
ALAN = "alan@contoso.test"
COMMENT = "Sorry, I cannot make it"


@pytest.fixture(autouse=True)
def mail_scopes_registered(emulator: EmulatorHandle) -> None:
    """The app registration also lists the mail scopes, so a token may carry them."""
    emulator.reset(seed_with_delegated_scopes("Mail.Read", "Mail.ReadBasic"))


def declined_meeting(emulator: EmulatorHandle) -> dict[str, object]:
    """Ada's meeting with Alan, who declined it with a comment and a response sent."""
    ada = emulator.token_for(ADA)
    created = emulator.graph("POST", "/me/events", ada, json=event_body(attendees=[ALAN]))
    assert created.status_code == 201, created.text
    alan = emulator.token_for(ALAN)
    (copy,) = emulator.graph("GET", "/me/events", alan).json()["value"]
    answered = emulator.graph(
        "POST",
        f"/me/events/{copy['id']}/decline",
        alan,
        json={"comment": COMMENT, "sendResponse": True},
    )
    assert answered.status_code == 202
    return dict(created.json())


def test_the_organizers_event_shows_the_answer_but_not_the_comment(
    emulator: EmulatorHandle,
) -> None:
    event = declined_meeting(emulator)
    ada = emulator.token_for(ADA)
    read = emulator.graph("GET", f"/me/events/{event['id']}", ada).json()
    (status,) = [a["status"] for a in read["attendees"]]
    assert status["response"] == "declined"
    assert set(status) == {"response", "time"}
    assert COMMENT not in str(read)


def test_the_comment_is_the_body_of_the_response_in_the_organizers_mailbox(
    emulator: EmulatorHandle,
) -> None:
    declined_meeting(emulator)
    reader = emulator.token_for(ADA, ("Calendars.ReadWrite", "Mail.Read"))
    (answer,) = [
        m
        for m in emulator.graph("GET", "/me/messages", reader).json()["value"]
        if m["meetingMessageType"] == "meetingDeclined"
    ]
    assert answer["@odata.type"] == "#microsoft.graph.eventMessageResponse"
    assert answer["responseType"] == "declined"
    assert answer["from"]["emailAddress"]["address"] == ALAN
    assert COMMENT in answer["body"]["content"] and answer["bodyPreview"] == COMMENT


def test_messages_need_a_mail_permission_and_their_body_mail_read(
    emulator: EmulatorHandle,
) -> None:
    declined_meeting(emulator)
    calendars_only = emulator.token_for(ADA)
    refused = emulator.graph("GET", "/me/messages", calendars_only)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ErrorAccessDenied"

    basic = emulator.token_for(ADA, ("Mail.ReadBasic",))
    listed = emulator.graph("GET", "/me/messages", basic).json()["value"]
    assert listed and all("body" not in m and "bodyPreview" not in m for m in listed)
    assert COMMENT not in str(listed)
