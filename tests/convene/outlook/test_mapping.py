"""Convene event -> Graph event JSON: pure functions, tested without Django or a network."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from convene.outlook.microsoft import mapping

SNAPSHOT = mapping.EventSnapshot(
    event_id=7,
    title="Team <b>offsite</b>",
    description="Line one\nline two\n\n<script>alert(1)</script>",
    start=datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # 01:30 CET, just before the DST jump
    end=datetime(2026, 3, 29, 2, 0, tzinfo=UTC),  # 04:00 CEST, after it
    timezone="Europe/Berlin",
    location="Room 1",
    teams_meeting=False,
    is_cancelled=False,
    url="https://convene.example/events/7/",
    organizer_name="Ada",
    owner_email="ada@contoso.test",
    people=(
        mapping.Person("zed@contoso.test", "Zed", "attendee"),
        mapping.Person("Bob@Fabrikam.test", "Bob", "presenter"),
        mapping.Person("ada@contoso.test", "Ada", "organizer"),
        mapping.Person("grace@contoso.test", "Grace", "organizer"),
    ),
)


def test_times_are_local_wall_time_in_the_events_own_zone_across_dst() -> None:
    payload = mapping.event_payload(SNAPSHOT)
    assert payload["start"] == {
        "dateTime": "2026-03-29T01:30:00",
        "timeZone": "W. Europe Standard Time",
    }
    assert payload["end"] == {
        "dateTime": "2026-03-29T04:00:00",
        "timeZone": "W. Europe Standard Time",
    }


def test_an_iana_zone_graph_does_not_list_goes_out_as_its_windows_id() -> None:
    amsterdam = replace(SNAPSHOT, timezone="Europe/Amsterdam")
    assert mapping.event_payload(amsterdam)["start"]["timeZone"] == "W. Europe Standard Time"
    toronto = replace(SNAPSHOT, timezone="America/Toronto")
    assert mapping.event_payload(toronto)["start"] == {
        "dateTime": "2026-03-28T20:30:00",
        "timeZone": "Eastern Standard Time",
    }


def test_a_zone_without_a_windows_id_goes_out_in_utc() -> None:
    troll = replace(SNAPSHOT, timezone="Antarctica/Troll")
    assert mapping.event_payload(troll)["start"] == {
        "dateTime": "2026-03-29T00:30:00",
        "timeZone": "UTC",
    }


def test_attendees_are_everyone_but_the_mailbox_owner_sorted_and_typed_by_role() -> None:
    attendees = mapping.event_payload(SNAPSHOT)["attendees"]
    assert [(a["emailAddress"]["address"], a["type"]) for a in attendees] == [
        ("Bob@Fabrikam.test", "required"),
        ("grace@contoso.test", "required"),
        ("zed@contoso.test", "optional"),
    ]


def test_the_same_people_in_another_order_give_the_same_payload() -> None:
    shuffled = replace(SNAPSHOT, people=tuple(reversed(SNAPSHOT.people)))
    assert mapping.event_payload(shuffled) == mapping.event_payload(SNAPSHOT)


def test_description_is_escaped_and_links_back_to_convene() -> None:
    body = mapping.event_payload(SNAPSHOT)["body"]
    assert body["contentType"] == "html"
    assert "<script>" not in body["content"]
    assert "&lt;script&gt;" in body["content"]
    assert "Line one<br>line two" in body["content"]
    assert 'href="https://convene.example/events/7/"' in body["content"]


def test_subject_is_sent_as_plain_text() -> None:
    assert mapping.event_payload(SNAPSHOT)["subject"] == "Team <b>offsite</b>"


def test_online_events_ask_for_a_teams_meeting() -> None:
    payload = mapping.event_payload(replace(SNAPSHOT, teams_meeting=True))
    assert payload["isOnlineMeeting"] is True
    assert payload["onlineMeetingProvider"] == "teamsForBusiness"
    assert "onlineMeetingProvider" not in mapping.event_payload(SNAPSHOT)


def test_platform_mode_names_the_organizer_in_the_body() -> None:
    body = mapping.event_payload(replace(SNAPSHOT, show_organizer_in_body=True))["body"]
    assert "Organized by Ada" in body["content"]
    assert "Organized by" not in mapping.event_payload(SNAPSHOT)["body"]["content"]


def test_create_payload_carries_a_stable_transaction_id_and_the_convene_tag() -> None:
    first = mapping.create_payload(SNAPSHOT, generation=0)
    again = mapping.create_payload(SNAPSHOT, generation=0)
    republished = mapping.create_payload(SNAPSHOT, generation=1)
    assert first["transactionId"] == again["transactionId"]
    assert first["transactionId"] != republished["transactionId"]
    assert first["singleValueExtendedProperties"] == [
        {"id": mapping.CONVENE_EVENT_PROPERTY, "value": "7"}
    ]
    assert first["allowNewTimeProposals"] is False


def test_changed_properties_is_empty_when_nothing_changed() -> None:
    payload = mapping.event_payload(SNAPSHOT)
    assert mapping.changed_properties(payload, mapping.event_payload(SNAPSHOT)) == {}


def test_changed_properties_holds_only_what_changed() -> None:
    before = mapping.event_payload(SNAPSHOT)
    after = mapping.event_payload(replace(SNAPSHOT, title="New title"))
    assert mapping.changed_properties(before, after) == {"subject": "New title"}


def test_an_enrollment_change_is_an_attendees_only_change() -> None:
    before = mapping.event_payload(SNAPSHOT)
    more = (*SNAPSHOT.people, mapping.Person("new@contoso.test", "New", "attendee"))
    after = mapping.event_payload(replace(SNAPSHOT, people=more))
    assert list(mapping.changed_properties(before, after)) == ["attendees"]


# --- a new body written into Outlook's (Teams meetings) -----------------------------------

TEAMS_BLOCK = (
    '<div class="block"><div>Microsoft Teams meeting</div>'
    '<div><a href="https://teams.example/join">Join the meeting now</a></div></div>'
)


def outlook_html(inner: str) -> dict[str, str]:
    return {
        "contentType": "html",
        "content": f'<html><head><meta charset="utf-8"></head><body>{inner}</body></html>',
    }


def test_kept_body_replaces_only_convenes_marked_part() -> None:
    old = '<div id="convene-event"><p>Old</p><div><p>nested</p></div></div>'
    new = '<div id="convene-event"><p>New</p></div>'

    kept = mapping.kept_body(outlook_html(f"{old}{TEAMS_BLOCK}"), new)

    assert kept == outlook_html(f"{new}{TEAMS_BLOCK}")["content"]


def test_kept_body_finds_the_mark_as_outlook_rewrites_it() -> None:
    old = '<div lang="en" id=\'x_convene-event\' class="x_a"><p>Old</p></div>'
    new = '<div id="convene-event"><p>New</p></div>'

    kept = mapping.kept_body(outlook_html(f"<p>intro</p>{old}{TEAMS_BLOCK}"), new)

    assert kept == outlook_html(f"<p>intro</p>{new}{TEAMS_BLOCK}")["content"]


def test_kept_body_without_the_mark_puts_convenes_part_first_and_keeps_the_rest() -> None:
    new = '<div id="convene-event"><p>New</p></div>'

    kept = mapping.kept_body(outlook_html(f"<p>Edited in Outlook</p>{TEAMS_BLOCK}"), new)

    assert kept == outlook_html(f"{new}<p>Edited in Outlook</p>{TEAMS_BLOCK}")["content"]
    assert mapping.kept_body({"contentType": "text", "content": "a < b"}, new) == f"{new}a &lt; b"
    assert mapping.kept_body(None, new) == new


def test_a_kept_body_is_not_drift() -> None:
    ours = mapping.event_payload(SNAPSHOT)["body"]
    kept = mapping.kept_body(outlook_html(TEAMS_BLOCK), ours["content"])

    assert '<body><div id="convene-event">' in kept
    theirs = {"contentType": "html", "content": kept}
    assert mapping.drifted_properties({"body": ours}, {"body": theirs}) == []


def test_kept_body_does_not_take_a_look_alike_for_convenes_part() -> None:
    new = '<div id="convene-event"><p>New</p></div>'
    look_alikes = '<div data-id="convene-event">a</div><div id="convene-events">b</div>'

    kept = mapping.kept_body(outlook_html(look_alikes), new)

    assert kept == outlook_html(f"{new}{look_alikes}")["content"]
