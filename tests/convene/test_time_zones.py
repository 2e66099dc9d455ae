"""Events planned in their own zone, across daylight saving changes (Europe/Berlin switches on
the last Sundays of March and October: 2026-03-29 and 2026-10-25; events made through the form
use 2030's, 2030-03-31 and 2030-10-27, as a start in the past is refused)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from convene.core.templatetags.convene_tags import zoned, zoned_seconds
from convene.events.models import Event
from convene.events.templatetags.event_tags import event_when
from convene.events.timezones import AmbiguousLocalTime, NonExistentLocalTime, localize

BERLIN = "Europe/Berlin"


def test_localize_uses_winter_time_before_the_spring_change():
    assert localize(datetime(2026, 3, 28, 10, 0), BERLIN) == datetime(2026, 3, 28, 9, 0, tzinfo=UTC)


def test_localize_uses_summer_time_after_the_spring_change():
    assert localize(datetime(2026, 3, 29, 10, 0), BERLIN) == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)


def test_localize_refuses_a_time_skipped_in_spring():
    with pytest.raises(NonExistentLocalTime, match="does not exist in Europe/Berlin"):
        localize(datetime(2026, 3, 29, 2, 30), BERLIN)


def test_localize_refuses_a_time_repeated_in_autumn():
    with pytest.raises(AmbiguousLocalTime, match="happens twice in Europe/Berlin"):
        localize(datetime(2026, 10, 25, 2, 30), BERLIN)


def test_localize_back_to_winter_time_after_the_autumn_change():
    assert localize(datetime(2026, 10, 25, 10, 0), BERLIN) == datetime(
        2026, 10, 25, 9, 0, tzinfo=UTC
    )


def test_localize_works_in_a_zone_without_daylight_saving():
    assert localize(datetime(2026, 3, 29, 2, 30), "Asia/Kolkata") == datetime(
        2026, 3, 28, 21, 0, tzinfo=UTC
    )


def _create(client, **fields):
    data = {"title": "Night shift", "timezone": BERLIN, **fields}
    return client.post(reverse("events:create"), data)


@pytest.mark.django_db
def test_an_event_across_the_spring_change_is_stored_in_utc_and_shown_in_berlin(
    client, organizer, settings
):
    settings.TIME_ZONE = "America/New_York"  # the viewer's server zone must not matter
    client.force_login(organizer)
    response = _create(client, start="2030-03-31T01:30", end="2030-03-31T03:30")
    assert response.status_code == 302
    event = Event.objects.get()
    assert event.start == datetime(2030, 3, 31, 0, 30, tzinfo=UTC)
    assert event.end == datetime(2030, 3, 31, 1, 30, tzinfo=UTC)  # one real hour
    assert event_when(event) == "Sun 31 Mar 2030, 01:30 CET \N{EN DASH} 03:30 CEST (Europe/Berlin)"
    page = client.get(event.get_absolute_url()).content.decode()
    assert "01:30 CET \N{EN DASH} 03:30 CEST (Europe/Berlin)" in page


@pytest.mark.django_db
def test_an_event_after_the_autumn_change_is_labelled_cet(client, organizer):
    client.force_login(organizer)
    _create(client, start="2030-10-27T10:00", end="2030-10-27T11:00")
    event = Event.objects.get()
    assert event.start == datetime(2030, 10, 27, 9, 0, tzinfo=UTC)
    assert event_when(event) == "Sun 27 Oct 2030, 10:00 \N{EN DASH} 11:00 CET (Europe/Berlin)"


@pytest.mark.django_db
def test_an_event_the_day_before_the_autumn_change_is_labelled_cest(client, organizer):
    client.force_login(organizer)
    _create(client, start="2030-10-26T10:00", end="2030-10-26T11:00")
    event = Event.objects.get()
    assert event.start == datetime(2030, 10, 26, 8, 0, tzinfo=UTC)
    assert event_when(event) == "Sat 26 Oct 2030, 10:00 \N{EN DASH} 11:00 CEST (Europe/Berlin)"


@pytest.mark.django_db
def test_the_form_refuses_a_start_in_the_spring_gap(client, organizer):
    client.force_login(organizer)
    response = _create(client, start="2030-03-31T02:30", end="2030-03-31T04:00")
    assert response.status_code == 200
    assert "does not exist in Europe/Berlin" in response.context["form"].errors["start"][0]
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_the_form_refuses_an_end_in_the_autumn_overlap(client, organizer):
    client.force_login(organizer)
    response = _create(client, start="2030-10-27T01:00", end="2030-10-27T02:30")
    assert "happens twice in Europe/Berlin" in response.context["form"].errors["end"][0]
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_the_edit_form_shows_local_times_in_the_event_zone(client, organizer, make_event):
    event = make_event(
        start=datetime(2030, 7, 1, 8, 0, tzinfo=UTC),
        end=datetime(2030, 7, 1, 9, 0, tzinfo=UTC),
        timezone="America/New_York",
    )
    client.force_login(organizer)
    page = client.get(reverse("events:edit", args=[event.pk])).content.decode()
    assert 'value="2030-07-01T04:00"' in page
    assert 'value="2030-07-01T05:00"' in page


def test_a_moment_is_shown_labelled_with_its_zone():
    answered = datetime(2026, 10, 24, 12, 5, 30, tzinfo=UTC)
    assert zoned(answered, BERLIN) == "24 Oct, 14:05 CEST"
    assert zoned(answered + timedelta(days=1), BERLIN) == "25 Oct, 13:05 CET"
    assert zoned_seconds(answered, "America/New_York") == "24 Oct, 08:05:30 EDT"
    assert zoned(answered) == "24 Oct, 12:05 UTC"  # the server's zone
    assert zoned(None) == ""


def test_the_zones_offered_are_canonical_without_legacy_aliases():
    from convene.core.zones import canonical_zones

    names = {zone.name for zone in canonical_zones()}
    assert {"UTC", "Europe/Berlin", "Asia/Kolkata", "America/Argentina/Buenos_Aires"} <= names
    assert not names & {"US/Pacific", "Asia/Calcutta", "Etc/GMT+1", "EST", "Europe/Kiev"}
    assert len(names) < 450


def test_zones_are_grouped_by_region_with_their_offset_at_the_moment():
    from convene.core.zones import grouped_choices

    winter = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
    groups = dict(grouped_choices(winter))
    assert groups["UTC"] == "UTC (UTC+00:00)"
    assert ("Europe/Berlin", "Berlin (UTC+01:00)") in groups["Europe"]
    assert ("Asia/Kolkata", "Kolkata (UTC+05:30)") in groups["Asia"]
    assert ("America/St_Johns", "St Johns (UTC-03:30)") in groups["America"]


@pytest.mark.django_db
def test_the_browsers_zone_becomes_the_persons_own_once_alias_mapped(regular):
    from convene.accounts.services import adopt_browser_time_zone

    assert adopt_browser_time_zone(regular, "Asia/Calcutta")
    regular.refresh_from_db()
    assert regular.time_zone == "Asia/Kolkata"
    assert not adopt_browser_time_zone(regular, "Europe/Berlin")  # a saved zone is kept
    regular.refresh_from_db()
    assert regular.time_zone == "Asia/Kolkata"


@pytest.mark.django_db
def test_times_of_a_persons_own_activity_are_in_their_zone_and_labelled(client, regular):
    from convene.core.notices import notify

    regular.time_zone = "Europe/Berlin"
    regular.save()
    notice = notify(regular, "Something happened.")
    notice.created_at = datetime(2030, 1, 15, 10, 16, tzinfo=UTC)
    notice.save()
    client.force_login(regular)
    page = client.get("/notices/").content.decode()
    assert "15 Jan, 11:16 CET" in page
    assert "other times in yours (Europe/Berlin)" in page
