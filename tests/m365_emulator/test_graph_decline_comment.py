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


def narrow_query(since: str, sender: str) -> dict[str, str]:
    """What Convene asks for one decline: that person's answers since the time they answered,
    newest first, with the body and the event each is about."""
    return {
        "$filter": f"receivedDateTime ge {since} and from/emailAddress/address eq '{sender}'",
        "$orderby": "receivedDateTime desc",
        "$select": "subject,body,from,receivedDateTime",
        "$expand": "microsoft.graph.eventMessage/event($select=id)",
        "$top": "5",
    }


def test_one_narrow_request_finds_the_answer_and_the_event_it_is_about(
    emulator: EmulatorHandle,
) -> None:
    event = declined_meeting(emulator)
    reader = emulator.token_for(ADA, ("Mail.Read",))
    listed = emulator.graph(
        "GET",
        "/me/messages",
        reader,
        params=narrow_query("2000-01-01T00:00:00Z", ALAN.upper()),
        headers={"Prefer": 'outlook.body-content-type="text"'},
    )
    assert listed.status_code == 200, listed.text
    assert listed.headers["Preference-Applied"] == 'outlook.body-content-type="text"'
    (answer,) = listed.json()["value"]
    assert answer["@odata.type"] == "#microsoft.graph.eventMessageResponse"
    assert answer["event"]["id"] == event["id"]
    assert answer["body"] == {"contentType": "text", "content": COMMENT}
    assert "toRecipients" not in answer and "meetingMessageType" not in answer
    # Nobody else's answers, nothing older than asked.
    for params in (
        narrow_query("2000-01-01T00:00:00Z", "grace@contoso.test"),
        narrow_query("2999-01-01T00:00:00Z", ALAN),
    ):
        assert emulator.graph("GET", "/me/messages", reader, params=params).json()["value"] == []


def test_ordering_by_a_property_not_filtered_first_is_too_complex(
    emulator: EmulatorHandle,
) -> None:
    declined_meeting(emulator)
    reader = emulator.token_for(ADA, ("Mail.Read",))
    params = narrow_query("2000-01-01T00:00:00Z", ALAN)
    params["$filter"] = (
        f"from/emailAddress/address eq '{ALAN}' and receivedDateTime ge 2000-01-01T00:00:00Z"
    )
    refused = emulator.graph("GET", "/me/messages", reader, params=params)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "InefficientFilter"
    unknown = emulator.graph("GET", "/me/messages", reader, params={"$expand": "event"})
    assert unknown.status_code == 400
