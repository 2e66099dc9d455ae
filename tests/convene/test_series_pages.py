"""Series on the pages: the form repeats an event and previews its sessions before saving;
the event page lists sessions, marks past and cancelled ones and who will miss which;
organizers change or cancel one session; a new pattern says beforehand what it does; lists
show a series once with its next session."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from convene.events import series, services
from convene.events.models import Event, SessionChange
from convene.events.recurrence import Frequency, Rule
from convene.events.timezones import localize

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def html(response) -> str:
    return response.content.decode()


def next_monday() -> date:
    day = (timezone.now() + timedelta(days=7)).astimezone(BERLIN).date()
    return day + timedelta(days=(0 - day.weekday()) % 7)


def series_form(**overrides: str) -> dict[str, str]:
    monday = next_monday()
    fields = {
        "title": "Weekly workshop",
        "timezone": "Europe/Berlin",
        "start": f"{monday}T10:00",
        "end": f"{monday}T11:00",
        "location": "Room 1",
        "repeat-frequency": "weekly",
        "repeat-interval": "1",
        "repeat-weekdays": ["0", "2"],
        "repeat-monthly_by": "day_of_month",
        "repeat-ends": "count",
        "repeat-count": "6",
    }
    return {**fields, **overrides}


def make_series(organizer, count: int = 6) -> Event:
    local = datetime.combine(next_monday(), datetime.min.time()).replace(hour=10)
    start = localize(local, "Europe/Berlin")
    details = services.EventDetails(
        title="Weekly workshop",
        start=start,
        end=start + timedelta(hours=1),
        timezone="Europe/Berlin",
        location="Room 1",
    )
    return series.create_series(
        details, Rule(Frequency.WEEKLY, weekdays=(0,), count=count), creator=organizer
    )


def test_the_form_previews_the_sessions_in_words_and_as_a_list_before_saving(client, organizer):
    client.force_login(organizer)
    page = html(client.post(reverse("events:create"), {**series_form(), "preview": "1"}))
    assert "Every week on Monday and Wednesday at 10:00, 6 sessions" in page
    assert len(re.findall(r"<li>\w{3} \d+ \w{3} \d{4}, 10:00", page)) == 6
    assert not Event.objects.exists(), "a preview saves nothing"


def test_saving_the_form_creates_one_series(client, organizer):
    client.force_login(organizer)
    response = client.post(reverse("events:create"), series_form())
    assert response.status_code == 302
    (event,) = Event.objects.all()
    assert len(series.sessions(event)) == 6
    page = html(client.get(event.get_absolute_url()))
    assert "Every week on Monday and Wednesday" in page
    assert page.count('class="list-group-item session') == 6


def test_more_than_100_sessions_is_a_clear_error_on_the_form(client, organizer):
    client.force_login(organizer)
    form = series_form(**{"repeat-frequency": "daily", "repeat-ends": "until"})
    form["repeat-until"] = str(next_monday() + timedelta(days=200))
    form.pop("repeat-weekdays")
    page = html(client.post(reverse("events:create"), form))
    assert "more than 100 sessions" in page
    assert not Event.objects.exists()


def test_organizer_moves_one_session_and_cancels_another(client, organizer, regular):
    event = make_series(organizer)
    services.enroll(event, regular, actor=regular)
    second, third = series.sessions(event)[1:3]
    client.force_login(organizer)
    url = reverse("events:session", args=[event.pk, second.on.isoformat()])
    assert "Session 2 of" in html(client.get(url))
    moved = client.post(
        url,
        {
            "start": f"{second.on}T14:00",
            "end": f"{second.on}T15:00",
            "location": "Room 7",
        },
    )
    assert moved.status_code == 302
    cancel = reverse("events:session_cancel", args=[event.pk, third.on.isoformat()])
    assert client.post(cancel, {"message": "Public holiday"}).status_code == 302

    page = html(client.get(event.get_absolute_url()))
    assert "Room 7" in page and "Changed" in page
    assert "Cancelled" in page and "Public holiday" in page
    assert SessionChange.objects.count() == 2


def test_who_will_miss_which_session_is_shown_to_the_organizer(client, organizer, regular):
    event = make_series(organizer)
    services.enroll(event, regular, actor=regular)
    third = series.sessions(event)[2]
    client.force_login(regular)
    url = reverse("events:session_attendance", args=[event.pk, third.on.isoformat()])
    assert client.post(url, {"attend": "no"}).status_code == 302
    assert "I will come after all" in html(client.get(event.get_absolute_url()))
    client.force_login(organizer)
    page = html(client.get(event.get_absolute_url()))
    assert f"Will miss it: {regular.name}" in page


def test_a_past_session_is_marked(client, organizer):
    event = make_series(organizer)
    Event.objects.filter(pk=event.pk).update(
        start=event.start - timedelta(days=14), end=event.end - timedelta(days=14)
    )
    series.keep_series_consistent(None, change=_updated(event))
    client.force_login(organizer)
    page = html(client.get(event.get_absolute_url()))
    assert "Past</span>" in page


def _updated(event: Event):
    from convene.events.changes import ChangeKind, EventChange

    return EventChange(
        event_id=event.pk, kind=ChangeKind.UPDATED, changed_fields=frozenset({"start"})
    )


def test_a_new_pattern_says_beforehand_what_happens_to_changed_sessions(client, organizer):
    event = make_series(organizer, count=6)
    sixth = series.sessions(event)[5]
    series.cancel_session(event, sixth.on, actor=organizer, message="")
    client.force_login(organizer)
    form = series_form(**{"repeat-count": "4"})
    form["repeat-weekdays"] = ["0"]
    url = reverse("events:edit", args=[event.pk])
    first = client.post(url, form)
    assert first.status_code == 200
    page = html(first)
    assert "is not in the new pattern: its change is dropped" in page
    assert len(series.sessions(Event.objects.get(pk=event.pk))) == 6, "nothing saved yet"
    confirm = re.search(r'name="confirm_pattern" value="([^"]*)"', page)
    assert confirm
    import html as html_module

    saved = client.post(url, {**form, "confirm_pattern": html_module.unescape(confirm.group(1))})
    assert saved.status_code == 302
    assert len(series.sessions(Event.objects.get(pk=event.pk))) == 4
    assert not SessionChange.objects.exists()


def test_lists_show_a_series_once_with_its_next_session(client, organizer, regular):
    event = make_series(organizer)
    series.cancel_session(event, series.sessions(event)[0].on, actor=organizer)
    client.force_login(regular)
    page = html(client.get(reverse("events:list")))
    assert page.count("Weekly workshop") == 1
    assert "Next session:" in page
    second = series.sessions(event)[1]
    assert f"{second.local_start:%a} {second.local_start.day} {second.local_start:%b}" in page
    services.enroll(event, regular, actor=regular)
    mine = html(client.get(reverse("events:mine")))
    assert mine.count("Weekly workshop") == 1
