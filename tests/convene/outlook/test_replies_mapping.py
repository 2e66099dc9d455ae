"""Reading Outlook's copy back, without a server: answers, and drift compared by meaning."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from convene.outlook.microsoft import mapping

SENT: dict[str, Any] = {
    "subject": "Compilers night",
    "body": {"contentType": "html", "content": "<p>Parsing &amp; pizza</p><p>Link: x</p>"},
    "start": {"dateTime": "2030-07-01T18:00:00", "timeZone": "Europe/Berlin"},
    "end": {"dateTime": "2030-07-01T20:00:00", "timeZone": "Europe/Berlin"},
    "location": {"displayName": "Room 1"},
    "attendees": [
        {"emailAddress": {"address": "Alan@contoso.test", "name": "Alan"}, "type": "optional"}
    ],
}

# The same event as Graph returns it: UTC times, a whole HTML document, extra fields.
READ: dict[str, Any] = {
    "subject": "Compilers night",
    "body": {
        "contentType": "html",
        "content": '<html>\r\n<head>\r\n<meta charset="utf-8"><style>p {margin:0}</style></head>'
        "<body>\r\n<p>Parsing &amp; pizza</p>\r\n<p>Link: x</p>\r\n</body>\r\n</html>\r\n",
    },
    "start": {"dateTime": "2030-07-01T16:00:00.0000000", "timeZone": "UTC"},
    "end": {"dateTime": "2030-07-01T18:00:00.0000000", "timeZone": "UTC"},
    "location": {"displayName": "Room 1", "locationType": "default", "uniqueId": "Room 1"},
    "attendees": [
        {
            "type": "optional",
            "status": {"response": "declined", "time": "2030-06-01T09:30:00.1234567Z"},
            "emailAddress": {"name": "Alan Turing", "address": "alan@contoso.test"},
        },
        {
            "type": "required",
            "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
            "emailAddress": {"name": "Grace", "address": "grace@contoso.test"},
        },
    ],
}


def test_replies_are_read_with_their_time() -> None:
    alan, grace = mapping.replies(READ)
    assert alan == mapping.Reply(
        "alan@contoso.test", "declined", datetime(2030, 6, 1, 9, 30, 0, 123456, tzinfo=UTC)
    )
    assert grace == mapping.Reply("grace@contoso.test", "none", None)


def test_outlooks_own_forms_of_what_was_sent_are_not_drift() -> None:
    only_alan = {**READ, "attendees": READ["attendees"][:1]}
    assert mapping.drifted_properties(SENT, only_alan) == []


def test_a_body_outlook_added_to_is_not_drift_but_an_edited_one_is() -> None:
    teams = {**READ["body"], "content": READ["body"]["content"] + "<div>Join Teams meeting</div>"}
    edited = {**READ["body"], "content": "<p>Parsing only</p>"}
    base = {**READ, "attendees": READ["attendees"][:1]}
    assert mapping.drifted_properties(SENT, {**base, "body": teams}) == []
    assert mapping.drifted_properties(SENT, {**base, "body": edited}) == ["body"]


def test_each_owned_property_changed_in_outlook_is_drift() -> None:
    changed = {
        **READ,
        "subject": "Renamed",
        "start": {"dateTime": "2030-07-01T17:00:00.0000000", "timeZone": "UTC"},
        "location": {"displayName": "Elsewhere"},
        "attendees": READ["attendees"][1:],  # Alan, whom Convene invited, taken off
    }
    assert mapping.drifted_properties(SENT, changed) == [
        "subject",
        "start",
        "location",
        "attendees",
    ]


def test_what_convene_never_sent_or_cannot_read_is_not_judged() -> None:
    custom_zone = {
        **READ,
        "attendees": READ["attendees"][:1],
        "start": {"dateTime": "2030-07-01T01:00:00", "timeZone": "tzone://Microsoft/Custom"},
    }
    assert mapping.drifted_properties(SENT, custom_zone) == []
    assert mapping.drifted_properties({}, {"subject": "Anything"}) == []


X500 = {
    "type": "required",
    "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
    "emailAddress": {
        "name": "Room 5",
        "address": "/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=room5",
    },
}


def test_people_added_in_outlook_and_non_smtp_entries_are_not_drift() -> None:
    forwarded = {**READ, "attendees": [*READ["attendees"], X500]}
    assert mapping.drifted_properties(SENT, forwarded) == []


def test_an_invited_persons_type_changed_in_outlook_is_drift() -> None:
    alan = {**READ["attendees"][0], "type": "required"}
    assert mapping.drifted_properties(SENT, {**READ, "attendees": [alan]}) == ["attendees"]


def test_outlook_only_attendees_are_those_convene_did_not_send() -> None:
    kept = mapping.outlook_only_attendees(SENT, {**READ, "attendees": [*READ["attendees"], X500]})
    assert [a["emailAddress"]["address"] for a in kept] == [
        X500["emailAddress"]["address"],
        "grace@contoso.test",
    ]
    assert "status" not in kept[0]


def test_convenes_attendee_list_carries_the_outlook_only_ones_along() -> None:
    kept = mapping.outlook_only_attendees(SENT, READ)
    sent = mapping.with_outlook_only(SENT["attendees"], {mapping.OUTLOOK_ONLY_ATTENDEES: kept})
    assert [a["emailAddress"]["address"] for a in sent] == [
        "Alan@contoso.test",
        "grace@contoso.test",
    ]


def test_times_in_windows_zones_are_read_as_instants() -> None:
    same_instant = {
        **READ,
        "attendees": READ["attendees"][:1],
        "start": {"dateTime": "2030-07-01T09:00:00", "timeZone": "pacific standard time"},
    }
    assert mapping.drifted_properties(SENT, same_instant) == []
    moved = {
        **same_instant,
        "start": {"dateTime": "2030-07-01T10:00:00", "timeZone": "Pacific Standard Time"},
    }
    assert mapping.drifted_properties(SENT, moved) == ["start"]
