"""Microsoft's own documented examples, sent to the emulator as the docs show them.

Each test is one example from a page of Microsoft's Graph documentation
(github.com/microsoftgraph/microsoft-graph-docs-contrib, path and the commit read given above each
test): the request as the page shows it - method, path, query, headers, body, with Microsoft's
casing of enum values - and assertions on the status, the property set and the values a client
relies on. Only what cannot be taken literally is adapted, and said so: mailbox addresses and
ids become this world's, ``{placeholders}`` become real values, and webhook URLs point at a
local receiver. Examples the emulator knowingly answers differently are listed with the reason
in docs/emulator.md ("Microsoft's documented examples").
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest

from m365_emulator.graph.testkit import WebhookReceiver, event_body, webhook_receiver
from m365_emulator.testing import EmulatorHandle

GRAPH = "https://graph.microsoft.com/v1.0/$metadata#"
ADA = "ada@contoso.test"  # the docs' signed-in user (Dana Swope, Adele Vance ...)
GRACE = "grace@contoso.test"  # the docs' invitee (Samantha Booth, Alex Wilber ...)
NEVER = "0001-01-01T00:00:00Z"
EVENT_PROPERTIES = {
    "@odata.context",
    "@odata.etag",
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "iCalUId",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "hasAttachments",
    "subject",
    "bodyPreview",
    "importance",
    "sensitivity",
    "isAllDay",
    "isCancelled",
    "isOrganizer",
    "responseRequested",
    "seriesMasterId",
    "showAs",
    "type",
    "webLink",
    "onlineMeetingUrl",
    "responseStatus",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "recurrence",
    "attendees",
    "organizer",
}


@pytest.fixture
def ada(emulator: EmulatorHandle) -> str:
    return emulator.token_for(ADA, scopes=("Calendars.ReadWrite", "User.Read"))


@pytest.fixture
def grace(emulator: EmulatorHandle) -> str:
    return emulator.token_for(GRACE)


def user_id(emulator: EmulatorHandle, upn: str) -> str:
    user = emulator.backend.user(upn)
    assert user is not None
    return user.id


def lunch(emulator: EmulatorHandle, token: str) -> dict[str, Any]:
    """An invitation from Ada to Grace, as in the create example the other pages build on."""
    response = emulator.graph(
        "POST",
        "/me/events",
        token,
        json={
            "subject": "Let's go for lunch",
            "body": {"contentType": "HTML", "content": "Does noon work for you?"},
            "start": {"dateTime": "2030-04-15T12:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2030-04-15T14:00:00", "timeZone": "Pacific Standard Time"},
            "location": {"displayName": "Harry's Bar"},
            "attendees": [
                {"emailAddress": {"address": GRACE, "name": "Grace"}, "type": "required"}
            ],
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def graces_copy(emulator: EmulatorHandle, grace: str) -> str:
    [copy] = emulator.graph("GET", "/me/events", grace).json()["value"]
    return str(copy["id"])


# --- events: create ------------------------------------------------------------------------
# api-reference/v1.0/api/user-post-events.md @ 007852ace71e63cb76552a3471aa71e7dee5f3e8


def test_create_event_example_1_prefer_timezone(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph(
        "POST",
        "/me/events",
        ada,
        headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'},
        json={
            "subject": "Let's go for lunch",
            "body": {"contentType": "HTML", "content": "Does late morning work for you?"},
            "start": {"dateTime": "2017-04-15T12:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2017-04-15T14:00:00", "timeZone": "Pacific Standard Time"},
            "location": {"displayName": "Harry's Bar"},
            "attendees": [
                {"emailAddress": {"address": GRACE, "name": "Samantha Booth"}, "type": "required"}
            ],
        },
    )
    assert response.status_code == 201
    event = response.json()
    assert set(event) >= EVENT_PROPERTIES
    assert event["@odata.context"] == f"{GRAPH}users('{user_id(emulator, ADA)}')/events/$entity"
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    assert event["originalStartTimeZone"] == "Pacific Standard Time"
    assert event["start"] == {
        "dateTime": "2017-04-15T12:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    assert event["body"]["contentType"] == "html"
    assert event["responseStatus"] == {"response": "organizer", "time": NEVER}
    assert event["type"] == "singleInstance"
    assert event["isOrganizer"] is True
    assert event["location"]["displayName"] == "Harry's Bar"
    assert event["location"]["locationType"] == "default"
    assert event["location"]["uniqueIdType"] == "private"
    assert event["attendees"] == [
        {
            "type": "required",
            "status": {"response": "none", "time": NEVER},
            "emailAddress": {"name": "Samantha Booth", "address": GRACE},
        }
    ]
    assert event["organizer"]["emailAddress"]["address"] == ADA
    assert response.headers["Preference-Applied"] == 'outlook.timezone="Pacific Standard Time"'


def test_create_event_example_2_multiple_locations(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph(
        "POST",
        "/me/events",
        ada,
        headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'},
        json={
            "subject": "Plan summer company picnic",
            "body": {"contentType": "HTML", "content": "Let's kick-start this event planning!"},
            "start": {"dateTime": "2017-08-30T11:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2017-08-30T12:00:00", "timeZone": "Pacific Standard Time"},
            "attendees": [
                {"emailAddress": {"address": GRACE, "name": "Dana Swope"}, "type": "Required"},
                {
                    "emailAddress": {"address": "alan@contoso.test", "name": "Alex Wilber"},
                    "type": "Required",
                },
            ],
            "location": {
                "displayName": "Conf Room 3; Fourth Coffee; Home Office",
                "locationType": "Default",
            },
            "locations": [
                {"displayName": "Conf Room 3"},
                {
                    "displayName": "Fourth Coffee",
                    "address": {
                        "street": "4567 Main St",
                        "city": "Redmond",
                        "state": "WA",
                        "countryOrRegion": "US",
                        "postalCode": "32008",
                    },
                    "coordinates": {"latitude": 47.672, "longitude": -102.103},
                },
                {"displayName": "Home Office"},
            ],
        },
    )
    assert response.status_code == 201
    event = response.json()
    assert [a["type"] for a in event["attendees"]] == ["required", "required"]
    assert event["location"]["locationType"] == "default"
    assert [loc["displayName"] for loc in event["locations"]] == [
        "Conf Room 3",
        "Fourth Coffee",
        "Home Office",
    ]
    assert event["locations"][1]["address"]["city"] == "Redmond"
    assert event["locations"][1]["coordinates"] == {"latitude": 47.672, "longitude": -102.103}
    assert {loc["locationType"] for loc in event["locations"]} == {"default"}


def test_create_event_example_online_meeting(emulator: EmulatorHandle, ada: str) -> None:
    # Example 4 of the current page ("Create and enable an event as an online meeting").
    response = emulator.graph(
        "POST",
        "/me/events",
        ada,
        headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'},
        json={
            "subject": "Let's go for lunch",
            "body": {"contentType": "HTML", "content": "Does noon work for you?"},
            "start": {"dateTime": "2017-04-15T12:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2017-04-15T14:00:00", "timeZone": "Pacific Standard Time"},
            "location": {"displayName": "Harry's Bar"},
            "attendees": [
                {"emailAddress": {"address": GRACE, "name": "Samantha Booth"}, "type": "required"}
            ],
            "allowNewTimeProposals": True,
            "isOnlineMeeting": True,
            "onlineMeetingProvider": "teamsForBusiness",
        },
    )
    assert response.status_code == 201
    event = response.json()
    assert event["isOnlineMeeting"] is True
    assert event["onlineMeetingProvider"] == "teamsForBusiness"
    assert event["allowNewTimeProposals"] is True
    assert {"joinUrl", "conferenceId", "tollNumber"} <= set(event["onlineMeeting"])
    assert event["onlineMeeting"]["joinUrl"].startswith(
        "https://teams.microsoft.com/l/meetup-join/"
    )


def test_create_event_with_transaction_id_echoes_it(emulator: EmulatorHandle, ada: str) -> None:
    # Example 1 of the current page sets "transactionId":"7E163156-7762-4BEB-A1C6-729EA81755A7".
    body = event_body(transactionId="7E163156-7762-4BEB-A1C6-729EA81755A7")
    first = emulator.graph("POST", "/me/events", ada, json=body)
    again = emulator.graph("POST", "/me/events", ada, json=body)
    assert first.status_code == 201
    assert first.json()["transactionId"] == "7E163156-7762-4BEB-A1C6-729EA81755A7"
    assert again.json()["id"] == first.json()["id"]


# api-reference/v1.0/api/calendar-post-events.md @ 03c7b71e4db41c4ac68bfa53212454c3e1412d3c


def test_create_event_in_a_named_calendar(emulator: EmulatorHandle, ada: str) -> None:
    calendar = emulator.graph("GET", "/me/calendar", ada).json()["id"]
    response = emulator.graph(
        "POST",
        f"/me/calendars/{calendar}/events",
        ada,
        json={
            "subject": "Let's go for lunch",
            "body": {"contentType": "HTML", "content": "Does mid month work for you?"},
            "start": {"dateTime": "2019-03-15T12:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2019-03-15T14:00:00", "timeZone": "Pacific Standard Time"},
            "location": {"displayName": "Harry's Bar"},
            "attendees": [
                {"emailAddress": {"address": GRACE, "name": "Adele Vance"}, "type": "required"}
            ],
        },
    )
    assert response.status_code == 201
    assert response.json()["@odata.context"] == (
        f"{GRAPH}users('{user_id(emulator, ADA)}')/calendars('{quote(calendar, safe='')}')"
        "/events/$entity"
    )
    assert response.json()["start"] == {
        "dateTime": "2019-03-15T12:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    assert response.json()["onlineMeeting"] is None
    assert response.json()["onlineMeetingProvider"] == "unknown"


def test_create_event_in_a_named_calendar_as_an_online_meeting(
    emulator: EmulatorHandle, ada: str
) -> None:
    calendar = emulator.graph("GET", "/me/calendar", ada).json()["id"]
    response = emulator.graph(
        "POST",
        f"/me/calendars/{calendar}/events",
        ada,
        json={
            "subject": "Let's go for lunch",
            "body": {"contentType": "HTML", "content": "Does next month work for you?"},
            "start": {"dateTime": "2019-03-10T12:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2019-03-10T14:00:00", "timeZone": "Pacific Standard Time"},
            "location": {"displayName": "Harry's Bar"},
            "attendees": [
                {"emailAddress": {"address": GRACE, "name": "Adele Vance"}, "type": "required"}
            ],
            "isOnlineMeeting": True,
            "onlineMeetingProvider": "teamsForBusiness",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["isOnlineMeeting"] is True
    assert body["onlineMeetingProvider"] == "teamsForBusiness"
    assert body["onlineMeeting"]["conferenceId"].isdigit()
    assert body["onlineMeeting"]["tollNumber"]


# --- events: read --------------------------------------------------------------------------
# api-reference/v1.0/api/event-get.md @ 02e0226b6ea41ed1d1262311e0e3b2832ff99ef1


def test_get_event_example_1_select_and_prefer(emulator: EmulatorHandle, ada: str) -> None:
    event = lunch(emulator, ada)
    select = "subject,body,bodyPreview,organizer,attendees,start,end,location,hideAttendees"
    response = emulator.graph(
        "GET",
        f"/me/events/{event['id']}?$select={select}",
        ada,
        headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == (
        f"{GRAPH}users('{user_id(emulator, ADA)}')/events({select})/$entity"
    )
    assert set(body) == {"@odata.context", "@odata.etag", "id", *select.split(",")}
    assert body["hideAttendees"] is False
    assert body["body"]["contentType"] == "html"
    assert body["start"]["timeZone"] == "Pacific Standard Time"
    assert response.headers["Preference-Applied"] == 'outlook.timezone="Pacific Standard Time"'


def test_get_event_example_2_locations_in_utc(emulator: EmulatorHandle, ada: str) -> None:
    event = lunch(emulator, ada)
    select = "subject,body,bodyPreview,organizer,attendees,start,end,location,locations"
    body = emulator.graph("GET", f"/me/events/{event['id']}?$select={select}", ada).json()
    assert body["start"] == {"dateTime": "2030-04-15T19:00:00.0000000", "timeZone": "UTC"}
    assert body["locations"][0]["displayName"] == "Harry's Bar"
    assert body["locations"][0]["locationType"] == "default"


def test_get_event_example_3_body_as_text(emulator: EmulatorHandle, ada: str) -> None:
    event = lunch(emulator, ada)
    response = emulator.graph(
        "GET",
        f"/me/events/{event['id']}?$select=subject,body,bodyPreview",
        ada,
        headers={"Prefer": 'outlook.body-content-type="text"'},
    )
    assert response.json()["body"] == {"contentType": "text", "content": "Does noon work for you?"}
    assert response.headers["Preference-Applied"] == 'outlook.body-content-type="text"'


# api-reference/v1.0/api/user-list-events.md @ 0f0835cb


def test_list_events_example_select_and_prefer(emulator: EmulatorHandle, ada: str) -> None:
    lunch(emulator, ada)
    select = "subject,body,bodyPreview,organizer,attendees,start,end,location"
    response = emulator.graph(
        "GET",
        f"/me/events?$select={select}",
        ada,
        headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == f"{GRAPH}users('{user_id(emulator, ADA)}')/events({select})"
    [event] = body["value"]
    assert event["start"] == {
        "dateTime": "2030-04-15T12:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    assert response.headers["Preference-Applied"] == 'outlook.timezone="Pacific Standard Time"'


def test_list_events_pages_with_top_and_next_link(emulator: EmulatorHandle, ada: str) -> None:
    for number in range(3):
        emulator.graph("POST", "/me/events", ada, json=event_body(subject=f"E{number}"))
    first = emulator.graph("GET", "/me/events?$top=2", ada).json()
    assert len(first["value"]) == 2
    rest = emulator.http.get(first["@odata.nextLink"], headers={"Authorization": f"Bearer {ada}"})
    assert len(rest.json()["value"]) == 1
    assert "@odata.nextLink" not in rest.json()


# api-reference/v1.0/api/user-list-calendarview.md @ 042230315ce88a0b11d0a3913859c869f1adc746


def test_calendar_view_example_with_offsets(emulator: EmulatorHandle, ada: str) -> None:
    inside = emulator.graph(
        "POST",
        "/me/events",
        ada,
        json=event_body(
            start="2020-01-02T09:00:00",
            end="2020-01-02T10:00:00",
            time_zone="Pacific Standard Time",
        ),
    ).json()
    emulator.graph(
        "POST",
        "/me/events",
        ada,
        json=event_body(start="2020-01-09T09:00:00", end="2020-01-09T10:00:00"),
    )
    response = emulator.graph(
        "GET",
        "/me/calendarView?startDateTime=2020-01-01T19:00:00-08:00"
        "&endDateTime=2020-01-02T19:00:00-08:00",
        ada,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == f"{GRAPH}users('{user_id(emulator, ADA)}')/calendarView"
    assert [e["id"] for e in body["value"]] == [inside["id"]]
    assert body["value"][0]["originalStartTimeZone"] == "Pacific Standard Time"
    assert body["value"][0]["start"]["timeZone"] == "UTC"


def test_calendar_view_without_a_window_is_refused(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph("GET", "/me/calendarView", ada)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidParameter"


# api-reference/v1.0/api/calendar-get.md @ 03e88f0a15038ae5d280389c654d7d329056dd03


def test_get_calendar_example(emulator: EmulatorHandle, ada: str) -> None:
    body = emulator.graph("GET", "/me/calendar", ada).json()
    assert {
        "id",
        "name",
        "color",
        "changeKey",
        "canShare",
        "canViewPrivateItems",
        "canEdit",
        "allowedOnlineMeetingProviders",
        "defaultOnlineMeetingProvider",
        "isTallyingResponses",
        "isRemovable",
        "owner",
    } <= set(body)
    assert body["allowedOnlineMeetingProviders"] == ["teamsForBusiness"]
    assert body["defaultOnlineMeetingProvider"] == "teamsForBusiness"
    assert body["owner"]["address"] == ADA


# --- events: change ------------------------------------------------------------------------
# api-reference/v1.0/api/event-update.md @ 0713c450496046d1f357f9afae7a914ac6ab4277


def test_update_event_example(emulator: EmulatorHandle, ada: str) -> None:
    # The example's writable properties; its placeholders for read-only ones
    # ("originalStartTimeZone-value", "responseStatus": {"response": ""}) are left out.
    event = lunch(emulator, ada)
    response = emulator.graph(
        "PATCH",
        f"/me/events/{event['id']}",
        ada,
        json={
            "recurrence": None,
            "reminderMinutesBeforeStart": 99,
            "isOnlineMeeting": True,
            "onlineMeetingProvider": "teamsForBusiness",
            "isReminderOn": True,
            "hideAttendees": False,
            "categories": ["Red category"],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["reminderMinutesBeforeStart"] == 99
    assert body["categories"] == ["Red category"]
    assert body["recurrence"] is None
    assert {"joinUrl", "conferenceId", "tollNumber"} <= set(body["onlineMeeting"])
    assert body["changeKey"] != event["changeKey"]


# api-reference/v1.0/api/event-delete.md @ 2135a569


def test_delete_event_example(emulator: EmulatorHandle, ada: str) -> None:
    event = lunch(emulator, ada)
    response = emulator.graph("DELETE", f"/me/events/{event['id']}", ada)
    assert response.status_code == 204
    assert response.content == b""


# api-reference/v1.0/api/event-cancel.md @ 3bd18aec


def test_cancel_event_example(emulator: EmulatorHandle, ada: str, grace: str) -> None:
    event = lunch(emulator, ada)
    response = emulator.graph(
        "POST",
        f"/me/events/{event['id']}/cancel",
        ada,
        json={"Comment": "Cancelling for this week due to all hands"},
    )
    assert response.status_code == 202
    [copy] = emulator.graph("GET", "/me/events", grace).json()["value"]
    assert copy["isCancelled"] is True


def test_cancel_by_an_attendee_is_refused(emulator: EmulatorHandle, ada: str, grace: str) -> None:
    lunch(emulator, ada)
    response = emulator.graph(
        "POST", f"/me/events/{graces_copy(emulator, grace)}/cancel", grace, json={}
    )
    assert response.status_code == 400
    assert "organizer" in response.json()["error"]["message"]


# api-reference/v1.0/api/event-accept.md @ 0061138f3b952955c2898131d3c6633a8b26c974
# api-reference/v1.0/api/event-decline.md @ 01a031ad3ba6cef9ca62f1ea0435eb363dcf9824
# api-reference/v1.0/api/event-tentativelyaccept.md @ 0273c463ba400fd1c477eb6800edb2eee57b1773


def test_accept_example(emulator: EmulatorHandle, ada: str, grace: str) -> None:
    event = lunch(emulator, ada)
    response = emulator.graph(
        "POST",
        f"/me/events/{graces_copy(emulator, grace)}/accept",
        grace,
        json={"comment": "comment-value", "sendResponse": True},
    )
    assert response.status_code == 202
    organizer_view = emulator.graph("GET", f"/me/events/{event['id']}", ada).json()
    assert organizer_view["attendees"][0]["status"]["response"] == "accepted"


def test_decline_example_with_a_proposed_new_time(
    emulator: EmulatorHandle, ada: str, grace: str
) -> None:
    event = lunch(emulator, ada)
    response = emulator.graph(
        "POST",
        f"/me/events/{graces_copy(emulator, grace)}/decline",
        grace,
        json={
            "comment": "I won't be able to make this week. How about next week?",
            "sendResponse": True,
            "proposedNewTime": {
                "start": {"dateTime": "2030-04-22T12:00:00", "timeZone": "Pacific Standard Time"},
                "end": {"dateTime": "2030-04-22T13:00:00", "timeZone": "Pacific Standard Time"},
            },
        },
    )
    assert response.status_code == 202
    organizer_view = emulator.graph("GET", f"/me/events/{event['id']}", ada).json()
    assert organizer_view["attendees"][0]["status"]["response"] == "declined"


def test_tentatively_accept_example(emulator: EmulatorHandle, ada: str, grace: str) -> None:
    lunch(emulator, ada)
    copy = graces_copy(emulator, grace)
    response = emulator.graph(
        "POST",
        f"/me/events/{copy}/tentativelyAccept",
        grace,
        json={
            "comment": "I may not be able to make this week. How about next week?",
            "sendResponse": True,
            "proposedNewTime": {
                "start": {"dateTime": "2030-04-22T18:00:00", "timeZone": "Pacific Standard Time"},
                "end": {"dateTime": "2030-04-22T19:00:00", "timeZone": "Pacific Standard Time"},
            },
        },
    )
    assert response.status_code == 202
    own = emulator.graph("GET", f"/me/events/{copy}", grace).json()
    assert own["responseStatus"]["response"] == "tentativelyAccepted"


# --- delta ---------------------------------------------------------------------------------
# api-reference/v1.0/api/event-delta.md @ 028b8e354879f1054adbd96bfa8d16fff4330811
# concepts/delta-query-events.md @ ecff26b0


def test_delta_example_pages_of_two(emulator: EmulatorHandle, ada: str) -> None:
    for day in ("04", "05", "06"):
        emulator.graph(
            "POST",
            "/me/events",
            ada,
            json=event_body(start=f"2030-03-{day}T10:00:00", end=f"2030-03-{day}T11:00:00"),
        )
    response = emulator.graph(
        "GET",
        "/me/calendarView/delta?startdatetime=2030-03-01T00:00:00Z&enddatetime=2030-04-01T00:00:00Z",
        ada,
        headers={"Prefer": "odata.maxpagesize=2"},
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body["value"]) == 2
    assert "$skiptoken=" in body["@odata.nextLink"]
    assert "@odata.deltaLink" not in body
    item = body["value"][0]
    assert item["@odata.type"] == "#microsoft.graph.event"
    assert {"originalStartTimeZone", "responseStatus", "iCalUId", "isReminderOn"} <= set(item)


def test_delta_round_ends_with_a_delta_link_and_reports_deletions(
    emulator: EmulatorHandle, ada: str
) -> None:
    event = lunch(emulator, ada)
    headers = {"Authorization": f"Bearer {ada}"}
    url = (
        f"{emulator.graph_url}/me/calendarView/delta"
        "?startDateTime=2030-04-01T00:00:00Z&endDateTime=2030-05-01T00:00:00Z"
    )
    while True:
        page = emulator.http.get(url, headers=headers).json()
        if "@odata.deltaLink" in page:
            break
        url = page["@odata.nextLink"]
    emulator.graph("DELETE", f"/me/events/{event['id']}", ada)
    changes = emulator.http.get(page["@odata.deltaLink"], headers=headers).json()
    assert changes["value"] == [
        {
            "@odata.type": "#microsoft.graph.event",
            "id": event["id"],
            "@removed": {"reason": "deleted"},
        }
    ]
    assert "@odata.deltaLink" in changes


# --- subscriptions -------------------------------------------------------------------------
# api-reference/v1.0/api/subscription-post-subscriptions.md @ 8233031e
# (its webhook is https://webhook.azurewebsites.net/api/send/myNotifyClient; here a local
# receiver, which the test emulator accepts over plain HTTP)


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


def subscribe(emulator: EmulatorHandle, token: str, hook: WebhookReceiver) -> dict[str, Any]:
    expires = emulator.backend.clock.now() + timedelta(minutes=4000)
    response = emulator.graph(
        "POST",
        "/subscriptions",
        token,
        json={
            "changeType": "created,updated",
            "notificationUrl": hook.url,
            "resource": "me/events",
            "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
            "clientState": "secretClientValue",
            "latestSupportedTlsVersion": "v1_2",
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_subscription_example(
    emulator: EmulatorHandle, ada: str, hook: WebhookReceiver
) -> None:
    subscription = subscribe(emulator, ada, hook)
    assert {
        "@odata.context",
        "id",
        "resource",
        "applicationId",
        "changeType",
        "clientState",
        "notificationUrl",
        "expirationDateTime",
        "creatorId",
        "latestSupportedTlsVersion",
        "lifecycleNotificationUrl",
        "includeResourceData",
        "encryptionCertificate",
        "encryptionCertificateId",
        "notificationQueryOptions",
    } <= set(subscription)
    assert subscription["@odata.context"] == f"{GRAPH}subscriptions/$entity"
    assert subscription["changeType"] == "created,updated"
    assert subscription["clientState"] == "secretClientValue"
    assert subscription["applicationId"] == emulator.client_id
    assert len(hook.validations) == 1


def test_create_subscription_with_a_plain_http_url_is_refused(
    emulator: EmulatorHandle, ada: str, hook: WebhookReceiver
) -> None:
    emulator.control("POST", "/config", {"allow_http_notification_urls": False})
    expires = emulator.backend.clock.now() + timedelta(minutes=60)
    response = emulator.graph(
        "POST",
        "/subscriptions",
        ada,
        json={
            "changeType": "created",
            "notificationUrl": hook.url,
            "resource": "me/events",
            "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    assert response.status_code == 400


# api-reference/v1.0/api/subscription-update.md @ 01784a996c3bd7a5e5415c20c478047309f7cc24
# (subscription-get.md, subscription-list.md, subscription-delete.md: the same operations'
# pages, read beside it)


def test_update_subscription_example(
    emulator: EmulatorHandle, ada: str, hook: WebhookReceiver
) -> None:
    subscription = subscribe(emulator, ada, hook)
    later = emulator.backend.clock.now() + timedelta(minutes=5000)
    response = emulator.graph(
        "PATCH",
        f"/subscriptions/{subscription['id']}",
        ada,
        json={"expirationDateTime": later.strftime("%Y-%m-%dT%H:%M:%S.%f0Z")},
    )
    assert response.status_code == 200
    assert response.json()["expirationDateTime"].startswith(later.strftime("%Y-%m-%dT%H:%M"))


def test_get_and_list_subscription_examples(
    emulator: EmulatorHandle, ada: str, hook: WebhookReceiver
) -> None:
    subscription = subscribe(emulator, ada, hook)
    got = emulator.graph("GET", f"/subscriptions/{subscription['id']}", ada)
    assert got.status_code == 200
    assert got.json()["id"] == subscription["id"]
    listed = emulator.graph("GET", "/subscriptions", ada).json()
    assert listed["@odata.context"] == f"{GRAPH}subscriptions"
    assert [s["id"] for s in listed["value"]] == [subscription["id"]]


def test_delete_subscription_example(
    emulator: EmulatorHandle, ada: str, hook: WebhookReceiver
) -> None:
    subscription = subscribe(emulator, ada, hook)
    assert emulator.graph("DELETE", f"/subscriptions/{subscription['id']}", ada).status_code == 204
    assert emulator.graph("GET", f"/subscriptions/{subscription['id']}", ada).status_code == 404


def test_change_notification_shape(
    emulator: EmulatorHandle, ada: str, hook: WebhookReceiver
) -> None:
    # concepts/change-notifications-delivery-webhooks.md @ 2648e237
    subscription = subscribe(emulator, ada, hook)
    emulator.graph("POST", "/me/events", ada, json=event_body())
    [notification] = hook.wait_for(1)
    assert notification["subscriptionId"] == subscription["id"]
    assert notification["clientState"] == "secretClientValue"
    assert notification["changeType"] == "created"
    assert notification["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
    assert {"id", "@odata.id", "@odata.etag"} <= set(notification["resourceData"])
    assert {"subscriptionExpirationDateTime", "resource", "tenantId"} <= set(notification)


# --- batching ------------------------------------------------------------------------------
# concepts/json-batching.md @ 97a442f2 (its first example reads a drive, planner tasks and a
# group's events; here the same shape on what the emulator serves: /me, events, a user)


def test_batch_example_with_depends_on_and_a_body(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph(
        "POST",
        "/$batch",
        ada,
        json={
            "requests": [
                {"id": "1", "method": "GET", "url": "/me"},
                {"id": "2", "dependsOn": ["1"], "method": "GET", "url": "/me/events"},
                {"id": "3", "dependsOn": ["2"], "method": "GET", "url": "/me/calendar"},
                {
                    "id": "4",
                    "url": "/me/events",
                    "method": "POST",
                    "body": event_body(subject="Batched"),
                    "headers": {"Content-Type": "application/json"},
                },
                {
                    "id": "5",
                    "url": f"users/{ADA}?$select=displayName,mail",
                    "method": "GET",
                },
            ]
        },
    )
    assert response.status_code == 200
    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert {key: r["status"] for key, r in by_id.items()} == {
        "1": 200,
        "2": 200,
        "3": 200,
        "4": 201,
        "5": 200,
    }
    assert by_id["5"]["body"]["mail"] == ADA
    assert by_id["4"]["body"]["subject"] == "Batched"


def test_batch_failed_dependency_answers_424(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph(
        "POST",
        "/$batch",
        ada,
        json={
            "requests": [
                {"id": "1", "method": "GET", "url": "/me/events/AAMkAnotthere00000000"},
                {"id": "2", "dependsOn": ["1"], "method": "GET", "url": "/me/events"},
            ]
        },
    )
    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert by_id["1"]["status"] == 404
    assert by_id["2"]["status"] == 424


def test_batch_of_more_than_twenty_is_refused(emulator: EmulatorHandle, ada: str) -> None:
    requests = [{"id": str(n), "method": "GET", "url": "/me/events"} for n in range(21)]
    response = emulator.graph("POST", "/$batch", ada, json={"requests": requests})
    assert response.status_code == 400


# --- users ---------------------------------------------------------------------------------
# api-reference/v1.0/api/user-get.md @ 006092210852de4f617fb99583960308bc4b986a


def test_get_user_example_2_signed_in_user(emulator: EmulatorHandle, ada: str) -> None:
    body = emulator.graph("GET", "/me", ada).json()
    assert set(body) == {
        "@odata.context",
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
        "id",
    }
    assert body["userPrincipalName"] == ADA


def test_get_user_example_1_by_id(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph("GET", f"/users/{user_id(emulator, ADA)}", ada)
    assert response.status_code == 200
    assert response.json()["mail"] == ADA


def test_get_user_example_3_select(emulator: EmulatorHandle, ada: str) -> None:
    select = "displayName,givenName,postalCode,identities"
    body = emulator.graph("GET", f"/users/{user_id(emulator, ADA)}?$select={select}", ada).json()
    assert body["@odata.context"] == f"{GRAPH}users({select})/$entity"
    assert set(body) == {"@odata.context", *select.split(",")}


# --- time zones ----------------------------------------------------------------------------
# api-reference/v1.0/resources/datetimetimezone.md @ 0a95e2c16a4f3aa2c4c9ce8b5224476b1933c0f4


@pytest.mark.parametrize("zone", ["Pacific Standard Time", "America/Los_Angeles", "Etc/GMT+12"])
def test_documented_time_zone_names_are_accepted(
    emulator: EmulatorHandle, ada: str, zone: str
) -> None:
    response = emulator.graph("POST", "/me/events", ada, json=event_body(time_zone=zone))
    assert response.status_code == 201
