"""Pure pieces of the Graph area: time zone table, $filter parsing, Prefer headers."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from m365_emulator.errors import GraphError
from m365_emulator.graph import odata, timezones
from m365_emulator.graph.model import Event


def test_every_windows_zone_maps_to_an_existing_iana_zone() -> None:
    for windows, iana in timezones.WINDOWS_TO_IANA.items():
        assert ZoneInfo(iana) is not None, windows


@pytest.mark.parametrize(
    ("name", "expected_hour"),
    [
        ("W. Europe Standard Time", 11),
        ("w. europe standard time", 11),
        ("Europe/Berlin", 11),
        ("Pacific Standard Time", 2),
        ("UTC", 10),
        ("India Standard Time", 15),
    ],
)
def test_windows_and_iana_names_convert(name: str, expected_hour: int) -> None:
    instant = datetime(2030, 1, 15, 10, 0, tzinfo=UTC)
    assert timezones.from_utc(instant, name).hour == expected_hour


def test_unknown_zone_is_rejected() -> None:
    assert not timezones.is_known("Mars Standard Time")


def sample(subject: str = "a", ical: str = "X") -> Event:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    event = Event(
        id="AAMkAtest0000",
        owner_id="u",
        calendar_id="c",
        ical_uid=ical,
        created=now,
        modified=now,
        change_key="k",
        start=now,
        end=now,
        start_zone="UTC",
        end_zone="UTC",
        organizer_name="o",
        organizer_address="o@x",
        is_organizer=True,
        response="organizer",
    )
    event.props["subject"] = subject
    event.extended["string {guid} name x"] = ("String {GUID} Name X", "7")
    return event


def test_filter_combines_clauses_with_and() -> None:
    predicate = odata.parse_filter("subject eq 'it''s' and iCalUId eq 'X'")
    assert predicate(sample("it's"))
    assert not predicate(sample("it's", ical="Y"))


def test_extended_property_filter_matches_id_case_insensitively() -> None:
    predicate = odata.parse_filter(
        "singleValueExtendedProperties/Any(ep: ep/id eq 'String {guid} Name X' and ep/value eq '7')"
    )
    assert predicate(sample())
    assert not odata.parse_filter(
        "singleValueExtendedProperties/any(ep: ep/id eq 'String {guid} Name X' and ep/value eq '8')"
    )(sample())


def test_unsupported_filter_is_a_bad_request() -> None:
    with pytest.raises(GraphError) as caught:
        odata.parse_filter("contains(subject, 'x')")
    assert caught.value.status == 400


def test_prefer_header_with_several_preferences() -> None:
    prefs = odata.preferences(
        {"prefer": 'outlook.timezone="Pacific Standard Time", odata.maxpagesize=5'}
    )
    assert prefs.timezone == "Pacific Standard Time"
    assert prefs.max_page_size == 5
    assert prefs.applied == ['outlook.timezone="Pacific Standard Time"', "odata.maxpagesize=5"]
