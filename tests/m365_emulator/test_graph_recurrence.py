"""Recurring series over real HTTP: masters, occurrences, exceptions, attendees, delta, webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from m365_emulator.graph.testkit import WebhookReceiver, event_body, webhook_receiver
from m365_emulator.testing import EmulatorHandle

SERVICE = "events@convene-platform.test"
ADA = "ada@contoso.test"
GRACE = "grace@contoso.test"
EVENTS = f"/users/{SERVICE}/events"
# Mondays 2030-03-04 .. 2030-03-25, 10:00-11:00 UTC: four occurrences.
WEEKLY = {
    "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
    "range": {"type": "numbered", "startDate": "2030-03-04", "numberOfOccurrences": 4},
}
MARCH = "startDateTime=2030-03-01T00:00:00&endDateTime=2030-04-01T00:00:00"


@pytest.fixture
def app(emulator: EmulatorHandle) -> str:
    return emulator.app_token()


def series(emulator: EmulatorHandle, token: str, *attendees: str, **extra: Any) -> dict[str, Any]:
    body = event_body(subject="Weekly", attendees=attendees, recurrence=WEEKLY, **extra)
    response = emulator.graph("POST", EVENTS, token, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def instances(
    emulator: EmulatorHandle, token: str, master_id: str, prefix: str = f"/users/{SERVICE}"
) -> list[dict[str, Any]]:
    response = emulator.graph("GET", f"{prefix}/events/{master_id}/instances?{MARCH}", token)
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def view(emulator: EmulatorHandle, token: str, upn: str = SERVICE) -> list[dict[str, Any]]:
    response = emulator.graph("GET", f"/users/{upn}/calendarView?{MARCH}", token)
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def copy_of(emulator: EmulatorHandle, upn: str) -> dict[str, Any]:
    events = emulator.control("GET", f"/mailboxes/{upn}/events").json()["value"]
    (master,) = [e for e in events if e["type"] == "seriesMaster"]
    return dict(master)


def messages(emulator: EmulatorHandle, upn: str) -> list[dict[str, Any]]:
    return list(emulator.control("GET", f"/mailboxes/{upn}/messages").json()["value"])


def test_create_answers_with_the_master_as_documented(emulator: EmulatorHandle, app: str) -> None:
    """Mirrors "Create a recurring event" (api-reference/v1.0/api/user-post-events.md, example 3,
    microsoftgraph/microsoft-graph-docs-contrib at b7c64905797cc4936baa858d92f969fb6b3f770f)."""
    body = {
        "subject": "Let's go for lunch",
        "body": {"contentType": "html", "content": "Does noon time work for you?"},
        "start": {"dateTime": "2017-09-04T12:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2017-09-04T14:00:00", "timeZone": "Pacific Standard Time"},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
            "range": {"type": "endDate", "startDate": "2017-09-04", "endDate": "2017-12-31"},
        },
        "location": {"displayName": "Harry's Bar"},
        "attendees": [
            {"emailAddress": {"address": ADA, "name": "Ada"}, "type": "required"},
        ],
        "allowNewTimeProposals": True,
    }
    response = emulator.graph("POST", EVENTS, app, json=body)
    assert response.status_code == 201
    created = response.json()
    assert (created["type"], created["seriesMasterId"]) == ("seriesMaster", None)
    assert created["recurrence"] == {
        "pattern": {
            "type": "weekly",
            "interval": 1,
            "month": 0,
            "dayOfMonth": 0,
            "daysOfWeek": ["monday"],
            "firstDayOfWeek": "sunday",
            "index": "first",
        },
        "range": {
            "type": "endDate",
            "startDate": "2017-09-04",
            "endDate": "2017-12-31",
            "recurrenceTimeZone": "Pacific Standard Time",
            "numberOfOccurrences": 0,
        },
    }
    assert "originalStart" not in created


def test_invalid_rule_is_refused_and_creates_nothing(emulator: EmulatorHandle, app: str) -> None:
    bad = {"pattern": {"type": "weekly", "interval": 1}, "range": WEEKLY["range"]}
    response = emulator.graph("POST", EVENTS, app, json=event_body(recurrence=bad))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidRequest"
    assert emulator.graph("GET", EVENTS, app).json()["value"] == []


def test_events_lists_the_master_only(emulator: EmulatorHandle, app: str) -> None:
    master = series(emulator, app)
    single = emulator.graph("POST", EVENTS, app, json=event_body(subject="Once")).json()
    (first, *_) = instances(emulator, app, master["id"])
    emulator.graph("PATCH", f"{EVENTS}/{first['id']}", app, json={"subject": "Moved"})
    listed = emulator.graph("GET", EVENTS, app).json()["value"]
    assert sorted((e["id"], e["type"]) for e in listed) == sorted(
        [(master["id"], "seriesMaster"), (single["id"], "singleInstance")]
    )


def test_events_filter_by_type(emulator: EmulatorHandle, app: str) -> None:
    master = series(emulator, app)
    emulator.graph("POST", EVENTS, app, json=event_body(subject="Once"))
    response = emulator.graph("GET", f"{EVENTS}?$filter=type eq 'seriesMaster'", app)
    assert response.status_code == 200
    assert [e["id"] for e in response.json()["value"]] == [master["id"]]


def test_calendar_view_expands_occurrences_and_never_shows_the_master(
    emulator: EmulatorHandle, app: str
) -> None:
    master = series(emulator, app)
    shown = view(emulator, app)
    assert [e["start"]["dateTime"][:16] for e in shown] == [
        "2030-03-04T10:00",
        "2030-03-11T10:00",
        "2030-03-18T10:00",
        "2030-03-25T10:00",
    ]
    assert {e["type"] for e in shown} == {"occurrence"}
    assert {e["seriesMasterId"] for e in shown} == {master["id"]}
    assert len({e["id"] for e in shown}) == 4
    assert master["id"] not in {e["id"] for e in shown}
    # Each occurrence has an iCalUId of its own, derived from the series'.
    assert len({e["iCalUId"] for e in shown}) == 4
    assert all(e["iCalUId"][40:] == master["iCalUId"][40:] for e in shown)


def test_instances_of_a_master_in_a_window(emulator: EmulatorHandle, app: str) -> None:
    """Mirrors "List instances" (api-reference/v1.0/api/event-list-instances.md at
    007a9ba3c1050b9ab0f567ae367514bf7b6dbd67): occurrences and exceptions of a master."""
    master = series(emulator, app)
    response = emulator.graph(
        "GET",
        f"{EVENTS}/{master['id']}/instances?startDateTime=2030-03-10T00:00:00"
        "&endDateTime=2030-03-20T00:00:00&$select=subject,seriesMasterId,type,recurrence,start",
        app,
    )
    assert response.status_code == 200
    found = response.json()["value"]
    assert [e["start"]["dateTime"][:10] for e in found] == ["2030-03-11", "2030-03-18"]
    assert all(e["recurrence"] is None and e["type"] == "occurrence" for e in found)
    assert set(found[0]) == {
        "@odata.etag",
        "id",
        "subject",
        "seriesMasterId",
        "type",
        "recurrence",
        "start",
    }


def test_instances_needs_a_window(emulator: EmulatorHandle, app: str) -> None:
    master = series(emulator, app)
    response = emulator.graph("GET", f"{EVENTS}/{master['id']}/instances", app)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidParameter"


def test_occurrence_read_by_its_id(emulator: EmulatorHandle, app: str) -> None:
    master = series(emulator, app)
    second = instances(emulator, app, master["id"])[1]
    got = emulator.graph("GET", f"{EVENTS}/{second['id']}", app).json()
    assert (got["type"], got["seriesMasterId"]) == ("occurrence", master["id"])
    assert got["originalStart"] == "2030-03-11T10:00:00.0000000Z"
    assert got["start"]["dateTime"] == "2030-03-11T10:00:00.0000000"


def test_patch_of_an_occurrence_makes_an_exception(emulator: EmulatorHandle, app: str) -> None:
    master = series(emulator, app)
    second = instances(emulator, app, master["id"])[1]
    response = emulator.graph(
        "PATCH",
        f"{EVENTS}/{second['id']}",
        app,
        json={
            "subject": "Moved to Tuesday",
            "start": {"dateTime": "2030-03-12T15:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-12T16:00:00", "timeZone": "UTC"},
        },
    )
    assert response.status_code == 200
    exception = response.json()
    assert (exception["id"], exception["type"]) == (second["id"], "exception")
    assert exception["originalStart"] == "2030-03-11T10:00:00.0000000Z"
    found = instances(emulator, app, master["id"])
    assert [(e["type"], e["subject"], e["start"]["dateTime"][:13]) for e in found] == [
        ("occurrence", "Weekly", "2030-03-04T10"),
        ("exception", "Moved to Tuesday", "2030-03-12T15"),
        ("occurrence", "Weekly", "2030-03-18T10"),
        ("occurrence", "Weekly", "2030-03-25T10"),
    ]


def test_occurrence_cannot_move_past_its_neighbour(emulator: EmulatorHandle, app: str) -> None:
    master = series(emulator, app)
    second = instances(emulator, app, master["id"])[1]
    response = emulator.graph(
        "PATCH",
        f"{EVENTS}/{second['id']}",
        app,
        json={
            "start": {"dateTime": "2030-03-19T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-19T11:00:00", "timeZone": "UTC"},
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorOccurrenceCrossingBoundary"
    assert {e["type"] for e in instances(emulator, app, master["id"])} == {"occurrence"}


def test_delete_of_one_occurrence_removes_it_from_the_series(
    emulator: EmulatorHandle, app: str
) -> None:
    master = series(emulator, app)
    second = instances(emulator, app, master["id"])[1]
    assert emulator.graph("DELETE", f"{EVENTS}/{second['id']}", app).status_code == 204
    assert len(instances(emulator, app, master["id"])) == 3
    gone = emulator.graph("GET", f"{EVENTS}/{second['id']}", app)
    assert gone.status_code == 404
    selected = emulator.graph(
        "GET", f"{EVENTS}/{master['id']}?$select=subject,cancelledOccurrences", app
    ).json()
    assert selected["cancelledOccurrences"] == [f"OID.{master['id']}.2030-03-11"]


def test_recurrence_cannot_be_set_on_an_occurrence(emulator: EmulatorHandle, app: str) -> None:
    master = series(emulator, app)
    second = instances(emulator, app, master["id"])[1]
    response = emulator.graph("PATCH", f"{EVENTS}/{second['id']}", app, json={"recurrence": WEEKLY})
    assert response.status_code == 400
    assert {e["type"] for e in instances(emulator, app, master["id"])} == {"occurrence"}


def test_master_patch_of_plain_properties_keeps_exceptions(
    emulator: EmulatorHandle, app: str
) -> None:
    master = series(emulator, app)
    second = instances(emulator, app, master["id"])[1]
    emulator.graph("PATCH", f"{EVENTS}/{second['id']}", app, json={"subject": "Special"})
    emulator.graph("PATCH", f"{EVENTS}/{master['id']}", app, json={"subject": "Renamed"})
    found = instances(emulator, app, master["id"])
    assert [e["subject"] for e in found] == ["Renamed", "Special", "Renamed", "Renamed"]


def test_master_patch_of_the_time_moves_the_series_and_drops_exceptions(
    emulator: EmulatorHandle, app: str
) -> None:
    master = series(emulator, app)
    first, second, *_ = instances(emulator, app, master["id"])
    emulator.graph("PATCH", f"{EVENTS}/{second['id']}", app, json={"subject": "Special"})
    emulator.graph("DELETE", f"{EVENTS}/{first['id']}", app)
    response = emulator.graph(
        "PATCH",
        f"{EVENTS}/{master['id']}",
        app,
        json={
            "start": {"dateTime": "2030-03-04T14:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-04T15:00:00", "timeZone": "UTC"},
        },
    )
    assert response.status_code == 200
    found = instances(emulator, app, master["id"])
    assert [(e["type"], e["subject"], e["start"]["dateTime"][:13]) for e in found] == [
        ("occurrence", "Weekly", f"2030-03-{day}T14") for day in ("04", "11", "18", "25")
    ]
    assert emulator.graph("GET", f"{EVENTS}/{second['id']}", app).status_code == 404


def test_master_patch_of_the_rule_changes_the_occurrences(
    emulator: EmulatorHandle, app: str
) -> None:
    master = series(emulator, app)
    daily = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": "2030-03-04", "numberOfOccurrences": 3},
    }
    emulator.graph("PATCH", f"{EVENTS}/{master['id']}", app, json={"recurrence": daily})
    found = instances(emulator, app, master["id"])
    assert [e["start"]["dateTime"][:10] for e in found] == [
        "2030-03-04",
        "2030-03-05",
        "2030-03-06",
    ]


def test_series_start_moves_to_its_first_occurrence(emulator: EmulatorHandle, app: str) -> None:
    # 2030-03-06 is a Wednesday; the series meets on Mondays, so it begins on 2030-03-11.
    rule = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
        "range": {"type": "noEnd", "startDate": "2030-03-06"},
    }
    body = event_body(start="2030-03-06T10:00:00", end="2030-03-06T11:00:00", recurrence=rule)
    created = emulator.graph("POST", EVENTS, app, json=body).json()
    assert created["start"]["dateTime"] == "2030-03-11T10:00:00.0000000"
    assert created["end"]["dateTime"] == "2030-03-11T11:00:00.0000000"


@pytest.mark.parametrize(
    ("zone", "dates"),
    [
        ("W. Europe Standard Time", ("2030-03-30", "2030-03-31")),
        ("Eastern Standard Time", ("2030-03-09", "2030-03-10")),
        ("AUS Eastern Standard Time", ("2030-04-06", "2030-04-07")),
    ],
)
def test_series_keeps_its_local_time_across_dst(
    emulator: EmulatorHandle, app: str, zone: str, dates: tuple[str, str]
) -> None:
    first, _ = dates
    rule = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": first, "numberOfOccurrences": 2},
    }
    body = event_body(
        start=f"{first}T10:00:00", end=f"{first}T11:00:00", time_zone=zone, recurrence=rule
    )
    master = emulator.graph("POST", EVENTS, app, json=body).json()
    response = emulator.graph(
        "GET",
        f"{EVENTS}/{master['id']}/instances?startDateTime=2030-03-01T00:00:00"
        "&endDateTime=2030-05-01T00:00:00",
        app,
        headers={"Prefer": f'outlook.timezone="{zone}"'},
    )
    local = [e["start"]["dateTime"] for e in response.json()["value"]]
    assert local == [f"{day}T10:00:00.0000000" for day in dates]
    utc = emulator.graph(
        "GET",
        f"{EVENTS}/{master['id']}/instances?startDateTime=2030-03-01T00:00:00"
        "&endDateTime=2030-05-01T00:00:00",
        app,
    ).json()["value"]
    # The same wall-clock time is a different UTC time on each side of the change.
    assert utc[0]["start"]["dateTime"][11:13] != utc[1]["start"]["dateTime"][11:13]


# ----- attendees ------------------------------------------------------------------------------


def test_series_invitation_is_one_message_per_attendee(emulator: EmulatorHandle, app: str) -> None:
    master = series(emulator, app, ADA, GRACE)
    for upn in (ADA, GRACE):
        (invitation,) = messages(emulator, upn)
        assert invitation["meetingMessageType"] == "meetingRequest"
        assert invitation["type"] == "seriesMaster"
        assert invitation["recurrence"]["pattern"]["daysOfWeek"] == ["monday"]
        copy = copy_of(emulator, upn)
        assert copy["iCalUId"] == master["iCalUId"]
        assert copy["recurrence"] == master["recurrence"]


def test_attendee_copy_expands_in_their_calendar_view(emulator: EmulatorHandle, app: str) -> None:
    series(emulator, app, ADA)
    ada = emulator.token_for(ADA)
    shown = view(emulator, ada, ADA)
    assert [e["type"] for e in shown] == ["occurrence"] * 4
    assert {e["isOrganizer"] for e in shown} == {False}
    assert {e["seriesMasterId"] for e in shown} == {copy_of(emulator, ADA)["id"]}


def test_accepting_the_series_answers_every_occurrence(emulator: EmulatorHandle, app: str) -> None:
    master = series(emulator, app, ADA)
    ada = emulator.token_for(ADA)
    copy = copy_of(emulator, ADA)
    response = emulator.graph("POST", f"/me/events/{copy['id']}/accept", ada, json={})
    assert response.status_code == 202
    statuses = {
        e["attendees"][0]["status"]["response"] for e in instances(emulator, app, master["id"])
    }
    assert statuses == {"accepted"}
    assert [m["meetingMessageType"] for m in messages(emulator, SERVICE)] == ["meetingAccepted"]


def test_declining_one_occurrence_is_seen_by_the_organizer_on_that_occurrence_only(
    emulator: EmulatorHandle, app: str
) -> None:
    master = series(emulator, app, ADA)
    ada = emulator.token_for(ADA)
    copy = copy_of(emulator, ADA)
    theirs = instances(emulator, ada, copy["id"], prefix="/me")[2]
    response = emulator.graph(
        "POST", f"/me/events/{theirs['id']}/decline", ada, json={"comment": "Away that day"}
    )
    assert response.status_code == 202
    mine = emulator.graph("GET", f"/me/events/{theirs['id']}", ada).json()
    assert (mine["type"], mine["responseStatus"]["response"]) == ("exception", "declined")
    found = instances(emulator, app, master["id"])
    assert [e["attendees"][0]["status"]["response"] for e in found] == [
        "none",
        "none",
        "declined",
        "none",
    ]
    assert found[2]["type"] == "exception"
    (answer,) = messages(emulator, SERVICE)
    assert answer["meetingMessageType"] == "meetingDeclined"
    assert answer["type"] == "exception"


def test_accepting_the_series_reaches_its_exceptions(emulator: EmulatorHandle, app: str) -> None:
    master = series(emulator, app, ADA)
    second = instances(emulator, app, master["id"])[1]
    emulator.graph("PATCH", f"{EVENTS}/{second['id']}", app, json={"subject": "Guest talk"})
    ada = emulator.token_for(ADA)
    copy = copy_of(emulator, ADA)
    emulator.graph("POST", f"/me/events/{copy['id']}/accept", ada, json={})
    organizer_view = instances(emulator, app, master["id"])
    assert [e["attendees"][0]["status"]["response"] for e in organizer_view] == ["accepted"] * 4
    theirs = instances(emulator, ada, copy["id"], prefix="/me")
    assert [e["responseStatus"]["response"] for e in theirs] == ["accepted"] * 4


def test_master_rename_reaches_exceptions_without_their_own_subject(
    emulator: EmulatorHandle, app: str
) -> None:
    master = series(emulator, app, ADA)
    ada = emulator.token_for(ADA)
    theirs = instances(emulator, ada, copy_of(emulator, ADA)["id"], prefix="/me")[2]
    emulator.graph("POST", f"/me/events/{theirs['id']}/decline", ada, json={})
    emulator.graph("PATCH", f"{EVENTS}/{master['id']}", app, json={"subject": "Renamed"})
    found = instances(emulator, app, master["id"])
    assert [(e["type"], e["subject"]) for e in found][1:3] == [
        ("occurrence", "Renamed"),
        ("exception", "Renamed"),
    ]
    again = emulator.graph("GET", f"/me/events/{theirs['id']}", ada).json()
    assert (again["subject"], again["responseStatus"]["response"]) == ("Renamed", "declined")


def test_organizer_patch_of_an_occurrence_updates_the_attendee_copy(
    emulator: EmulatorHandle, app: str
) -> None:
    master = series(emulator, app, ADA)
    second = instances(emulator, app, master["id"])[1]
    emulator.graph("PATCH", f"{EVENTS}/{second['id']}", app, json={"subject": "Guest talk"})
    ada = emulator.token_for(ADA)
    theirs = instances(emulator, ada, copy_of(emulator, ADA)["id"], prefix="/me")
    assert [(e["type"], e["subject"]) for e in theirs] == [
        ("occurrence", "Weekly"),
        ("exception", "Guest talk"),
        ("occurrence", "Weekly"),
        ("occurrence", "Weekly"),
    ]
    kinds = [(m["meetingRequestType"], m["type"]) for m in messages(emulator, ADA)]
    assert sorted(kinds) == [("fullUpdate", "exception"), ("newMeetingRequest", "seriesMaster")]


def test_cancelling_one_occurrence_removes_it_for_attendees_with_a_cancellation(
    emulator: EmulatorHandle, app: str
) -> None:
    master = series(emulator, app, ADA, GRACE)
    third = instances(emulator, app, master["id"])[2]
    response = emulator.graph(
        "POST", f"{EVENTS}/{third['id']}/cancel", app, json={"comment": "Holiday"}
    )
    assert response.status_code == 202
    assert len(instances(emulator, app, master["id"])) == 3
    ada = emulator.token_for(ADA)
    theirs = instances(emulator, ada, copy_of(emulator, ADA)["id"], prefix="/me")
    assert [e["start"]["dateTime"][:10] for e in theirs] == [
        "2030-03-04",
        "2030-03-11",
        "2030-03-25",
    ]
    for upn in (ADA, GRACE):
        types = [m["meetingMessageType"] for m in messages(emulator, upn)]
        assert sorted(types) == ["meetingCancelled", "meetingRequest"]
    (cancellation,) = [
        m for m in messages(emulator, ADA) if m["meetingMessageType"] == "meetingCancelled"
    ]
    assert cancellation["startDateTime"]["dateTime"].startswith("2030-03-18T10:00")
    assert cancellation["body"]["content"].find("Holiday") >= 0


def test_cancelling_the_series_cancels_attendee_exceptions_too(
    emulator: EmulatorHandle, app: str
) -> None:
    master = series(emulator, app, ADA)
    second = instances(emulator, app, master["id"])[1]
    emulator.graph("PATCH", f"{EVENTS}/{second['id']}", app, json={"subject": "Guest talk"})
    emulator.graph("POST", f"{EVENTS}/{master['id']}/cancel", app, json={})
    ada = emulator.token_for(ADA)
    assert {e["isCancelled"] for e in view(emulator, ada, ADA)} == {True}
    assert emulator.graph("GET", EVENTS, app).json()["value"] == []


def test_attendee_deleting_one_occurrence_changes_only_their_copy(
    emulator: EmulatorHandle, app: str
) -> None:
    master = series(emulator, app, ADA)
    ada = emulator.token_for(ADA)
    theirs = instances(emulator, ada, copy_of(emulator, ADA)["id"], prefix="/me")[0]
    assert emulator.graph("DELETE", f"/me/events/{theirs['id']}", ada).status_code == 204
    assert len(view(emulator, ada, ADA)) == 3
    assert len(instances(emulator, app, master["id"])) == 4
    assert [m["meetingMessageType"] for m in messages(emulator, SERVICE)] == []


# ----- delta and change notifications -----------------------------------------------------------


def delta_round(
    emulator: EmulatorHandle, token: str, link: str, page_size: int = 10
) -> tuple[list[dict[str, Any]], str]:
    """Follow nextLinks to the end of a round: (items, deltaLink)."""
    items: list[dict[str, Any]] = []
    headers = {"Prefer": f"odata.maxpagesize={page_size}"}
    while True:
        response = emulator.http.get(link, headers={"Authorization": f"Bearer {token}", **headers})
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["value"])
        if "@odata.deltaLink" in body:
            return items, str(body["@odata.deltaLink"])
        link = body["@odata.nextLink"]


def first_link(emulator: EmulatorHandle) -> str:
    return f"{emulator.graph_url}/users/{SERVICE}/calendarView/delta?{MARCH}"


def test_delta_returns_occurrences_not_the_master(emulator: EmulatorHandle, app: str) -> None:
    master = series(emulator, app)
    items, _ = delta_round(emulator, app, first_link(emulator))
    assert [e["type"] for e in items] == ["occurrence"] * 4
    assert master["id"] not in {e["id"] for e in items}


def test_delta_pages_through_a_series_without_losing_occurrences(
    emulator: EmulatorHandle, app: str
) -> None:
    series(emulator, app)
    items, _ = delta_round(emulator, app, first_link(emulator), page_size=3)
    assert len({e["id"] for e in items}) == 4


def test_delta_reports_an_exception_and_a_removed_occurrence(
    emulator: EmulatorHandle, app: str
) -> None:
    """@removed shape for calendarView delta (api-reference/v1.0/api/event-delta.md at
    028b8e354879f1054adbd96bfa8d16fff4330811): deleted events come back under @removed."""
    master = series(emulator, app)
    _, link = delta_round(emulator, app, first_link(emulator))
    first, second, *_ = instances(emulator, app, master["id"])
    emulator.graph("PATCH", f"{EVENTS}/{first['id']}", app, json={"subject": "Kick-off"})
    emulator.graph("DELETE", f"{EVENTS}/{second['id']}", app)
    items, _ = delta_round(emulator, app, link)
    removed = [e for e in items if "@removed" in e]
    assert [(e["id"], e["@removed"]) for e in removed] == [(second["id"], {"reason": "deleted"})]
    changed = {e["id"]: e for e in items if "@removed" not in e}
    assert changed[first["id"]]["type"] == "exception"
    assert changed[first["id"]]["subject"] == "Kick-off"


def test_delta_reports_occurrences_a_moved_series_left(emulator: EmulatorHandle, app: str) -> None:
    master = series(emulator, app)
    before, link = delta_round(emulator, app, first_link(emulator))
    emulator.graph(
        "PATCH",
        f"{EVENTS}/{master['id']}",
        app,
        json={
            "start": {"dateTime": "2030-03-04T14:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-04T15:00:00", "timeZone": "UTC"},
        },
    )
    items, _ = delta_round(emulator, app, link)
    removed = {e["id"] for e in items if "@removed" in e}
    assert removed == {e["id"] for e in before}
    assert [e["start"]["dateTime"][11:13] for e in items if "@removed" not in e] == ["14"] * 4


def test_delta_reports_the_occurrences_of_a_deleted_series(
    emulator: EmulatorHandle, app: str
) -> None:
    master = series(emulator, app)
    before, link = delta_round(emulator, app, first_link(emulator))
    emulator.graph("DELETE", f"{EVENTS}/{master['id']}", app)
    items, _ = delta_round(emulator, app, link)
    removed = {e["id"] for e in items if "@removed" in e}
    assert removed >= {e["id"] for e in before}


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


def subscribe(emulator: EmulatorHandle, token: str, hook: WebhookReceiver) -> None:
    expires = (emulator.backend.clock.now() + timedelta(minutes=60)).astimezone(UTC)
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": hook.url,
        "resource": f"users/{SERVICE}/events",
        "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    response = emulator.graph("POST", "/subscriptions", token, json=body)
    assert response.status_code == 201, response.text


def test_notifications_for_an_exception_and_a_deleted_occurrence(
    emulator: EmulatorHandle, app: str, hook: WebhookReceiver
) -> None:
    master = series(emulator, app)
    first, second, *_ = instances(emulator, app, master["id"])
    subscribe(emulator, app, hook)
    emulator.graph("PATCH", f"{EVENTS}/{first['id']}", app, json={"subject": "Kick-off"})
    emulator.graph("DELETE", f"{EVENTS}/{second['id']}", app)
    received = hook.wait_for(3)
    seen = sorted((n["changeType"], n["resourceData"]["id"]) for n in received)
    assert seen == sorted(
        [("updated", first["id"]), ("deleted", second["id"]), ("updated", master["id"])]
    )


def test_week_view_shows_occurrences(emulator: EmulatorHandle, app: str) -> None:
    master = series(emulator, app)
    third = quote(instances(emulator, app, master["id"])[2]["id"])
    page = emulator.http.get(f"{emulator.ui_url}/mailboxes/{SERVICE}?week=2030-03-18&tz=UTC")
    assert page.status_code == 200
    assert f"/events/{third}?" in page.text
    other = emulator.http.get(f"{emulator.ui_url}/mailboxes/{SERVICE}?week=2030-03-11&tz=UTC")
    assert f"/events/{third}?" not in other.text
