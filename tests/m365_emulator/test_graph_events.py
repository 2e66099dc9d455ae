"""Graph events API over HTTPS: CRUD, idempotent create, query options, time zones, errors."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from m365_emulator.graph.testkit import event_body
from m365_emulator.testing import EmulatorHandle

ADA = "ada@contoso.test"
GRACE = "grace@contoso.test"
EXT_ID = "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name ConveneEventId"


@pytest.fixture
def ada(emulator: EmulatorHandle) -> str:
    return emulator.token_for(ADA)


def create(emulator: EmulatorHandle, token: str, **kwargs: Any) -> dict[str, Any]:
    response = emulator.graph("POST", "/me/events", token, json=event_body(**kwargs))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_returns_the_event_with_graph_defaults(emulator: EmulatorHandle, ada: str) -> None:
    event = create(emulator, ada, subject="Kick-off")
    assert event["subject"] == "Kick-off"
    assert event["isOrganizer"] is True
    assert event["responseStatus"] == {"response": "organizer", "time": "0001-01-01T00:00:00Z"}
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    assert event["start"] == {"dateTime": "2030-03-04T10:00:00.0000000", "timeZone": "UTC"}
    assert event["type"] == "singleInstance"
    assert event["showAs"] == "busy"
    assert "transactionId" not in event


def test_get_update_delete_round_trip(emulator: EmulatorHandle, ada: str) -> None:
    event = create(emulator, ada)
    path = f"/me/events/{event['id']}"
    patched = emulator.graph("PATCH", path, ada, json={"subject": "Renamed"})
    assert patched.status_code == 200
    assert patched.json()["subject"] == "Renamed"
    assert patched.json()["changeKey"] != event["changeKey"]
    assert emulator.graph("GET", path, ada).json()["subject"] == "Renamed"
    assert emulator.graph("DELETE", path, ada).status_code == 204
    missing = emulator.graph("GET", path, ada)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ErrorItemNotFound"


def test_users_path_by_upn_and_calendar_paths_reach_the_same_mailbox(
    emulator: EmulatorHandle, ada: str
) -> None:
    event = create(emulator, ada)
    by_upn = emulator.graph("GET", f"/users/{quote(ADA)}/calendar/events/{event['id']}", ada)
    assert by_upn.status_code == 200
    calendars = emulator.graph("GET", "/me/calendars", ada).json()["value"]
    assert len(calendars) == 1 and calendars[0]["isDefaultCalendar"] is True
    listed = emulator.graph("GET", f"/me/calendars/{calendars[0]['id']}/events", ada).json()
    assert [e["id"] for e in listed["value"]] == [event["id"]]


def test_repeated_create_with_transaction_id_returns_the_first_event(
    emulator: EmulatorHandle, ada: str
) -> None:
    first = create(emulator, ada, transactionId="convene-42")
    second = create(emulator, ada, transactionId="convene-42", subject="retry")
    assert second["id"] == first["id"]
    assert second["transactionId"] == "convene-42"
    assert len(emulator.graph("GET", "/me/events", ada).json()["value"]) == 1


def test_prefer_outlook_timezone_converts_start_and_end(emulator: EmulatorHandle, ada: str) -> None:
    event = create(
        emulator,
        ada,
        start="2030-07-01T09:00:00",
        end="2030-07-01T10:00:00",
        time_zone="W. Europe Standard Time",
    )
    # The create answers in the zone the request named, as Microsoft's create examples do.
    assert event["start"] == {
        "dateTime": "2030-07-01T09:00:00.0000000",
        "timeZone": "W. Europe Standard Time",
    }
    assert event["originalStartTimeZone"] == "W. Europe Standard Time"
    for zone, expected in (
        ("UTC", "2030-07-01T07:00:00"),
        ("Pacific Standard Time", "2030-07-01T00:00:00"),
        ("Asia/Tokyo", "2030-07-01T16:00:00"),
    ):
        response = emulator.graph(
            "GET",
            f"/me/events/{event['id']}",
            ada,
            headers={"Prefer": f'outlook.timezone="{zone}"'},
        )
        assert response.json()["start"] == {"dateTime": expected + ".0000000", "timeZone": zone}
        assert response.headers["Preference-Applied"] == f'outlook.timezone="{zone}"'


def test_unknown_time_zone_is_refused(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph("POST", "/me/events", ada, json=event_body(time_zone="Mars/Olympus"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "TimeZoneNotSupportedException"


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "America/Toronto", "Asia/Hong_Kong"])
def test_iana_zone_graph_does_not_document_is_refused(
    emulator: EmulatorHandle, ada: str, zone: str
) -> None:
    response = emulator.graph("POST", "/me/events", ada, json=event_body(time_zone=zone))
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "TimeZoneNotSupportedException",
        "message": "A valid TimeZone value must be specified. The following TimeZone value is "
        f"not supported: '{zone}'.",
        "innerError": response.json()["error"]["innerError"],
    }
    assert emulator.graph("GET", "/me/events", ada).json()["value"] == []


@pytest.mark.parametrize(
    "zone", ["W. Europe Standard Time", "romance standard time", "Europe/Paris", "Asia/Kolkata"]
)
def test_windows_names_and_documented_iana_names_are_accepted(
    emulator: EmulatorHandle, ada: str, zone: str
) -> None:
    event = create(emulator, ada, time_zone=zone)
    assert event["originalStartTimeZone"] == zone


def test_prefer_header_with_an_undocumented_zone_is_refused(
    emulator: EmulatorHandle, ada: str
) -> None:
    event = create(emulator, ada)
    response = emulator.graph(
        "GET",
        f"/me/events/{event['id']}",
        ada,
        headers={"Prefer": 'outlook.timezone="Europe/Amsterdam"'},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "TimeZoneNotSupportedException"


def test_online_meeting_gets_a_teams_join_url(emulator: EmulatorHandle, ada: str) -> None:
    event = create(emulator, ada, isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness")
    assert event["isOnlineMeeting"] is True
    assert event["onlineMeeting"]["joinUrl"].startswith(
        "https://teams.microsoft.com/l/meetup-join/"
    )


def test_online_meeting_info_has_the_whole_documented_shape(
    emulator: EmulatorHandle, ada: str
) -> None:
    meeting = create(emulator, ada, isOnlineMeeting=True)["onlineMeeting"]
    assert set(meeting) == {
        "conferenceId",
        "joinUrl",
        "phones",
        "quickDial",
        "tollFreeNumbers",
        "tollNumber",
    }
    assert meeting["conferenceId"].isdigit()
    assert meeting["tollNumber"].startswith("+")
    assert meeting["quickDial"] == f"{meeting['tollNumber']},,{meeting['conferenceId']}#"


def test_setting_the_provider_alone_makes_an_online_meeting_that_stays_online(
    emulator: EmulatorHandle, ada: str
) -> None:
    event = create(emulator, ada, onlineMeetingProvider="teamsForBusiness")
    assert event["isOnlineMeeting"] is True
    assert event["onlineMeeting"]["joinUrl"]
    patched = emulator.graph(
        "PATCH",
        f"/me/events/{event['id']}",
        ada,
        json={"isOnlineMeeting": False, "onlineMeetingProvider": "skypeForConsumer"},
    ).json()
    assert patched["isOnlineMeeting"] is True
    assert patched["onlineMeetingProvider"] == "teamsForBusiness"
    assert patched["onlineMeeting"] == event["onlineMeeting"]


def test_a_calendar_without_teams_gives_no_online_meeting(emulator: EmulatorHandle) -> None:
    seed = {
        "tenants": [
            {
                "domain": "noteams.test",
                "users": [
                    {
                        "userPrincipalName": "ivy@noteams.test",
                        "password": emulator.password,
                        "allowedOnlineMeetingProviders": [],
                        "defaultOnlineMeetingProvider": "unknown",
                    }
                ],
            }
        ]
    }
    emulator.control("POST", "/seed", seed).raise_for_status()
    token = emulator.token_for("ivy@noteams.test")
    calendar = emulator.graph("GET", "/me/calendar", token).json()
    assert calendar["allowedOnlineMeetingProviders"] == []
    assert calendar["defaultOnlineMeetingProvider"] == "unknown"
    event = create(emulator, token, isOnlineMeeting=True)
    assert event["isOnlineMeeting"] is False
    assert event["onlineMeeting"] is None


def test_select_top_and_next_link_paging(emulator: EmulatorHandle, ada: str) -> None:
    for index in range(5):
        create(emulator, ada, subject=f"E{index}")
    first = emulator.graph("GET", "/me/events?$top=2&$select=subject", ada).json()
    assert len(first["value"]) == 2
    assert set(first["value"][0]) == {"@odata.etag", "id", "subject"}
    subjects = [e["subject"] for e in first["value"]]
    link = first["@odata.nextLink"]
    while link:
        page = emulator.http.get(link, headers={"Authorization": f"Bearer {ada}"}).json()
        subjects += [e["subject"] for e in page["value"]]
        link = page.get("@odata.nextLink")
    assert subjects == [f"E{i}" for i in range(5)]


def test_default_page_size_is_ten(emulator: EmulatorHandle, ada: str) -> None:
    for index in range(12):
        create(emulator, ada, subject=f"E{index}")
    page = emulator.graph("GET", "/me/events", ada).json()
    assert len(page["value"]) == 10
    assert "@odata.nextLink" in page


def test_filter_and_expand_single_value_extended_property(
    emulator: EmulatorHandle, ada: str
) -> None:
    tagged = create(emulator, ada, singleValueExtendedProperties=[{"id": EXT_ID, "value": "ev-7"}])
    create(emulator, ada, singleValueExtendedProperties=[{"id": EXT_ID, "value": "ev-8"}])
    create(emulator, ada)
    assert "singleValueExtendedProperties" not in tagged
    query = (
        f"$filter=singleValueExtendedProperties/Any(ep: ep/id eq '{EXT_ID}' and ep/value eq 'ev-7')"
        f"&$expand=singleValueExtendedProperties($filter=id eq '{EXT_ID}')"
    )
    found = emulator.graph("GET", f"/me/events?{quote(query, safe='=&$')}", ada).json()["value"]
    assert [e["id"] for e in found] == [tagged["id"]]
    assert found[0]["singleValueExtendedProperties"] == [{"id": EXT_ID, "value": "ev-7"}]


def test_filter_on_start_and_orderby(emulator: EmulatorHandle, ada: str) -> None:
    create(emulator, ada, subject="late", start="2030-03-05T10:00:00", end="2030-03-05T11:00:00")
    create(emulator, ada, subject="early", start="2030-03-01T10:00:00", end="2030-03-01T11:00:00")
    create(emulator, ada, subject="old", start="2020-03-01T10:00:00", end="2020-03-01T11:00:00")
    query = quote(
        "$filter=start/dateTime ge '2030-01-01T00:00:00'&$orderby=start/dateTime desc", safe="=&$"
    )
    found = emulator.graph("GET", f"/me/events?{query}", ada).json()["value"]
    assert [e["subject"] for e in found] == ["late", "early"]


def test_calendar_view_returns_events_in_the_window(emulator: EmulatorHandle, ada: str) -> None:
    create(emulator, ada, subject="in", start="2030-03-04T10:00:00", end="2030-03-04T11:00:00")
    create(emulator, ada, subject="out", start="2030-04-04T10:00:00", end="2030-04-04T11:00:00")
    window = "startDateTime=2030-03-01T00:00:00Z&endDateTime=2030-03-31T00:00:00Z"
    found = emulator.graph("GET", f"/me/calendarView?{window}", ada).json()["value"]
    assert [e["subject"] for e in found] == ["in"]


def test_calendar_view_needs_a_window(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph("GET", "/me/calendarView", ada)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidParameter"


def test_unknown_property_is_refused(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph("POST", "/me/events", ada, json=event_body(colour="red"))
    assert response.status_code == 400
    assert "colour" in response.json()["error"]["message"]


def test_illegal_enum_value_is_refused(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph("POST", "/me/events", ada, json=event_body(showAs="asleep"))
    assert response.status_code == 400


def test_malformed_json_is_refused(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph(
        "POST",
        "/me/events",
        ada,
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


def test_malformed_id_is_refused(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph("GET", "/me/events/not-an-id", ada)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidIdMalformed"


def test_unknown_segment_is_a_bad_request(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph("GET", "/me/contacts", ada)
    assert response.status_code == 400


def test_delegated_token_cannot_reach_another_mailbox(emulator: EmulatorHandle, ada: str) -> None:
    response = emulator.graph("GET", f"/users/{GRACE}/events", ada)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ErrorAccessDenied"


def test_app_token_reaches_the_service_mailbox(emulator: EmulatorHandle) -> None:
    token = emulator.app_token()
    response = emulator.graph(
        "POST", f"/users/{emulator.service_mailbox}/events", token, json=event_body()
    )
    assert response.status_code == 201
    assert response.json()["organizer"]["emailAddress"]["address"] == emulator.service_mailbox


def test_missing_token_is_unauthorized(emulator: EmulatorHandle) -> None:
    response = emulator.http.get(f"{emulator.graph_url}/me/events")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_end_before_start_is_refused(emulator: EmulatorHandle, ada: str) -> None:
    body = event_body(start="2030-03-04T10:00:00", end="2030-03-04T09:00:00")
    assert emulator.graph("POST", "/me/events", ada, json=body).status_code == 400


def test_text_body_is_returned_as_html_unless_text_is_preferred(
    emulator: EmulatorHandle, ada: str
) -> None:
    event = create(emulator, ada, body={"contentType": "text", "content": "Bring <snacks>"})
    assert event["body"]["contentType"] == "html"
    assert "Bring &lt;snacks&gt;" in event["body"]["content"]
    assert event["bodyPreview"] == "Bring <snacks>"
    text = emulator.graph(
        "GET",
        f"/me/events/{event['id']}",
        ada,
        headers={"Prefer": 'outlook.body-content-type="text"'},
    ).json()
    assert text["body"] == {"contentType": "text", "content": "Bring <snacks>"}


def test_enum_members_are_read_in_any_case_and_answered_in_graphs(
    emulator: EmulatorHandle, ada: str
) -> None:
    event = create(
        emulator,
        ada,
        body={"contentType": "HTML", "content": "<p>Hi</p>"},
        attendees=(GRACE,),
        showAs="Busy",
        importance="HIGH",
        location={"displayName": "Room", "locationType": "Default"},
    )
    assert event["body"]["contentType"] == "html"
    assert event["showAs"] == "busy"
    assert event["importance"] == "high"
    assert event["location"]["locationType"] == "default"
    patched = emulator.graph(
        "PATCH",
        f"/me/events/{event['id']}",
        ada,
        json={"attendees": [{"emailAddress": {"address": GRACE}, "type": "Optional"}]},
    ).json()
    assert patched["attendees"][0]["type"] == "optional"


def test_an_enum_member_graph_does_not_know_is_still_refused(
    emulator: EmulatorHandle, ada: str
) -> None:
    response = emulator.graph("POST", "/me/events", ada, json=event_body(showAs="Sleeping"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "RequestBodyRead"


def test_odata_context_names_the_select_list(emulator: EmulatorHandle, ada: str) -> None:
    event = create(emulator, ada)
    me = emulator.backend.user(ADA).id  # type: ignore[union-attr]
    root = f"https://graph.microsoft.com/v1.0/$metadata#users('{me}')"
    one = emulator.graph("GET", f"/me/events/{event['id']}?$select=subject,start", ada).json()
    assert one["@odata.context"] == f"{root}/events(subject,start)/$entity"
    listed = emulator.graph("GET", "/me/events?$select=subject", ada).json()
    assert listed["@odata.context"] == f"{root}/events(subject)"
    view = emulator.graph(
        "GET",
        "/me/calendarView?startDateTime=2030-03-01T00:00:00&endDateTime=2030-03-09T00:00:00",
        ada,
    ).json()
    assert view["@odata.context"] == f"{root}/calendarView"


def test_odata_context_names_the_calendar_the_path_went_through(
    emulator: EmulatorHandle, ada: str
) -> None:
    calendar = emulator.graph("GET", "/me/calendar", ada).json()["id"]
    created = emulator.graph(
        "POST", f"/me/calendars/{calendar}/events", ada, json=event_body()
    ).json()
    me = emulator.backend.user(ADA).id  # type: ignore[union-attr]
    expected = (
        f"https://graph.microsoft.com/v1.0/$metadata#users('{me}')/calendars('{quote(calendar)}')"
        "/events/$entity"
    )
    assert created["@odata.context"] == expected
    read = emulator.graph("GET", f"/users/{quote(ADA)}/calendar/events/{created['id']}", ada)
    assert read.json()["@odata.context"] == (
        f"https://graph.microsoft.com/v1.0/$metadata#users('{quote(ADA, safe='')}')"
        "/calendar/events/$entity"
    )


def test_update_answers_in_the_events_own_zones(emulator: EmulatorHandle, ada: str) -> None:
    event = create(emulator, ada, time_zone="Tokyo Standard Time")
    patched = emulator.graph(
        "PATCH", f"/me/events/{event['id']}", ada, json={"subject": "Moved"}
    ).json()
    assert patched["start"] == {
        "dateTime": "2030-03-04T10:00:00.0000000",
        "timeZone": "Tokyo Standard Time",
    }
    read = emulator.graph("GET", f"/me/events/{event['id']}", ada).json()
    assert read["start"] == {"dateTime": "2030-03-04T01:00:00.0000000", "timeZone": "UTC"}
