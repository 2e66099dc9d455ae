"""Input from a crafted POST or a caller of the services: a clear refusal, never a 500.

The first tests replay what an attack on a running Convene sent (issue 19); the property tests
then try any value Hypothesis can think of, through the form and through the services.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.convene.conftest import VALID_EVENT

from convene.accounts.forms import ProfileForm
from convene.events import services
from convene.events.errors import InvalidEvent
from convene.events.forms import EventForm
from convene.events.models import Event

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {
                "timezone": "Pacific/Honolulu",
                "start": "9999-12-31T20:00",
                "end": "9999-12-31T21:00",
            },
            "start",
        ),
        ({"timezone": "Asia/Tokyo", "start": "0001-01-01T01:00"}, "start"),
        ({"capacity": "9223372036854775808"}, "capacity"),
        ({"capacity": "2147483648"}, "capacity"),
        ({"start": "2027-04-01T10:00+05:00"}, "start"),
        ({"title": "Line1\r\nBcc: evil@example.com"}, "title"),
        ({"location": "Room 1\nX-Injected: yes"}, "location"),
        ({"description": "Notes\x00with a NUL"}, "description"),
    ],
)
def test_hostile_event_input_is_a_form_error(client, organizer, changes, field):
    client.force_login(organizer)
    client.raise_request_exception = True
    response = client.post(reverse("events:create"), {**VALID_EVENT, **changes})
    assert response.status_code == 200
    assert response.context["form"].errors.get(field)
    assert not Event.objects.exists()


def test_an_offset_is_refused_with_a_message_that_says_why(client, organizer):
    client.force_login(organizer)
    response = client.post(
        reverse("events:create"), {**VALID_EVENT, "start": "2027-04-01T10:00+05:00"}
    )
    assert "without an offset" in response.context["form"].errors["start"][0]


def test_the_largest_capacity_the_databases_hold_is_accepted(client, organizer):
    client.force_login(organizer)
    client.post(reverse("events:create"), {**VALID_EVENT, "capacity": "2147483647"})
    assert Event.objects.get().capacity == 2_147_483_647


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "Line1\r\nBcc: evil@example.com"}, "title"),
        ({"location": "A\tB"}, "location"),
        ({"description": "bell\x07"}, "description"),
        ({"capacity": 2**31}, "capacity"),
        ({"capacity": 2**63}, "capacity"),
        ({"title": "x" * 201}, "title"),
        ({"online_url": "https://example.test/" + "x" * 200}, "online_url"),
        (
            {
                "start": datetime(9999, 12, 31, 1, tzinfo=UTC),
                "end": datetime(9999, 12, 31, 2, tzinfo=UTC),
            },
            "start",
        ),
    ],
)
def test_the_services_refuse_what_the_form_refuses(organizer, details, overrides, field):
    with pytest.raises(InvalidEvent) as refusal:
        services.create_event(details(**overrides), creator=organizer)
    assert refusal.value.field == field
    assert not Event.objects.exists()


def test_the_services_refuse_control_characters_on_update(event, organizer, details):
    with pytest.raises(InvalidEvent):
        services.update_event(event, details(title="A\rB"), actor=organizer)
    event.refresh_from_db()
    assert event.title == "Team offsite"


@pytest.mark.parametrize("name", ["Ada\r\nBcc: x@example.test", "Ada\x00", "Ada\u202eecalp"])
def test_control_characters_are_refused_in_names(regular, name):
    form = ProfileForm({"display_name": name}, instance=regular)
    assert not form.is_valid()
    assert form.errors["display_name"]


# --- properties ---------------------------------------------------------------------------

datetimes_as_typed = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)).map(
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M").rjust(16, "0")
    ),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
    st.text(max_size=40),
)
form_values = st.fixed_dictionaries(
    {
        "title": st.text(max_size=210),
        "timezone": st.sampled_from(["Europe/Berlin", "Pacific/Honolulu", "Asia/Tokyo", "Nope"]),
        "start": datetimes_as_typed,
        "end": datetimes_as_typed,
        "location": st.text(max_size=210),
        "capacity": st.one_of(st.integers().map(str), st.text(max_size=25)),
        "online_url": st.one_of(st.just(""), st.text(max_size=30)),
        "description": st.text(max_size=300),
    }
)

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(values=form_values)
def test_any_form_input_is_a_form_error_or_a_saved_event(client, organizer, values):
    client.force_login(organizer)
    client.raise_request_exception = True
    before = Event.objects.count()
    response = client.post(reverse("events:create"), values)
    if response.status_code == 302:
        assert Event.objects.count() == before + 1
    else:
        assert response.status_code == 200
        assert response.context["form"].errors
        assert Event.objects.count() == before


aware_datetimes = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
)


@PROPERTY_SETTINGS
@given(
    title=st.text(max_size=210),
    start=aware_datetimes,
    length=st.timedeltas(min_value=timedelta(minutes=-60), max_value=timedelta(days=3)),
    location=st.text(max_size=210),
    capacity=st.one_of(st.none(), st.integers(min_value=-(2**70), max_value=2**70)),
    description=st.text(max_size=300),
)
def test_any_details_given_to_the_services_are_a_refusal_or_a_saved_event(
    organizer, details, title, start, length, location, capacity, description
):
    try:
        end = start + length
    except OverflowError:
        return
    candidate = details(
        title=title,
        start=start,
        end=end,
        location=location,
        capacity=capacity,
        description=description,
    )
    try:
        event = services.create_event(candidate, creator=organizer)
    except InvalidEvent:
        return
    event.refresh_from_db()
    assert event.title == title
    assert event.capacity == capacity


@PROPERTY_SETTINGS
@given(values=form_values)
def test_any_input_to_the_form_alone_is_an_error_or_details(values):
    form = EventForm(values)
    if form.is_valid():
        assert form.details().start.tzinfo is not None
