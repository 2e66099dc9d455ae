"""Series in Convene: the rule expanded on the event's wall clock, its limits, the sessions
that differ, who will miss which, capacity and lists."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from tests.convene.conftest import event_details

from convene.events import series, services
from convene.events.changes import ChangeKind
from convene.events.errors import EventCancelled, EventFull, InvalidEvent, NotAllowed
from convene.events.models import Event, MissedSession, SessionChange
from convene.events.recurrence import Frequency, MonthlyBy, Rule
from convene.events.timezones import localize

pytestmark = pytest.mark.django_db

WEEKLY_MONDAYS = Rule(Frequency.WEEKLY, weekdays=(0,), count=12)


def series_details(zone: str, local: datetime, hours: int = 1) -> services.EventDetails:
    start = localize(local, zone)
    return event_details(start=start, end=start + timedelta(hours=hours), timezone=zone)


def local_clock(event: Event) -> list[tuple[int, int]]:
    return [(s.local_start.hour, s.local_start.minute) for s in series.sessions(event)]


@pytest.mark.parametrize(
    ("zone", "first"),
    [
        # Berlin leaves summer time on 31 Oct 2027
        ("Europe/Berlin", datetime(2027, 10, 18, 10, 0)),
        # New York leaves daylight time on 7 Nov 2027
        ("America/New_York", datetime(2027, 10, 25, 10, 0)),
        # Sydney enters daylight time on 3 Oct 2027
        ("Australia/Sydney", datetime(2027, 9, 20, 10, 0)),
    ],
)
def test_a_weekly_series_keeps_its_wall_clock_across_daylight_saving(organizer, zone, first):
    event = series.create_series(series_details(zone, first), WEEKLY_MONDAYS, creator=organizer)
    sessions = series.sessions(event)
    assert len(sessions) == 12
    assert local_clock(event) == [(10, 0)] * 12
    offsets = {s.local_start.utcoffset() for s in sessions}
    assert len(offsets) == 2, "the series crosses a daylight saving change"
    assert all(s.local_start.weekday() == 0 for s in sessions)


def test_weekly_on_chosen_weekdays_every_other_week(organizer):
    rule = Rule(Frequency.WEEKLY, interval=2, weekdays=(0, 3), count=4)
    event = series.create_series(
        series_details("Europe/Berlin", datetime(2027, 1, 4, 9)), rule, creator=organizer
    )
    assert [s.on for s in series.sessions(event)] == [
        date(2027, 1, 4),
        date(2027, 1, 7),
        date(2027, 1, 18),
        date(2027, 1, 21),
    ]


def test_monthly_on_the_second_tuesday(organizer):
    rule = Rule(Frequency.MONTHLY, monthly_by=MonthlyBy.WEEKDAY, count=3)
    # 12 Jan 2027 is the second Tuesday of January
    event = series.create_series(
        series_details("America/New_York", datetime(2027, 1, 12, 15)), rule, creator=organizer
    )
    assert [s.on for s in series.sessions(event)] == [
        date(2027, 1, 12),
        date(2027, 2, 9),
        date(2027, 3, 9),
    ]
    assert series.describe_series(event).startswith("Every month on the second Tuesday at 15:00")


def test_monthly_on_the_31st_falls_on_shorter_months_last_day_as_outlook_does(organizer):
    rule = Rule(Frequency.MONTHLY, until=date(2027, 4, 30))
    event = series.create_series(
        series_details("Europe/Berlin", datetime(2027, 1, 31, 9)), rule, creator=organizer
    )
    assert [s.on for s in series.sessions(event)] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
    ]


def test_daily_until_a_date_includes_that_date(organizer):
    rule = Rule(Frequency.DAILY, until=date(2027, 1, 8))
    event = series.create_series(
        series_details("Australia/Sydney", datetime(2027, 1, 4, 8)), rule, creator=organizer
    )
    assert len(series.sessions(event)) == 5
    assert series.describe_series(event) == "Every day at 08:00, 5 sessions until 8 January 2027"


def test_more_than_100_sessions_is_refused_with_a_clear_error_and_nothing_saved(organizer):
    rule = Rule(Frequency.DAILY, until=date(2027, 12, 31))
    with pytest.raises(InvalidEvent, match="more than 100 sessions") as refusal:
        series.create_series(
            series_details("Europe/Berlin", datetime(2027, 1, 4, 8)), rule, creator=organizer
        )
    assert refusal.value.field == "until"
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (Rule(Frequency.DAILY, count=101), "count"),
        (Rule(Frequency.DAILY), "ends"),
        (Rule(Frequency.DAILY, count=3, until=date(2027, 2, 1)), "ends"),
        (Rule(Frequency.WEEKLY, count=3), "weekdays"),
        # 4 Jan 2027 is a Monday; the rule meets on Tuesdays only
        (Rule(Frequency.WEEKLY, weekdays=(1,), count=3), "weekdays"),
        (Rule(Frequency.DAILY, interval=0, count=3), "interval"),
        (Rule(Frequency.DAILY, until=date(2026, 12, 1)), "until"),
    ],
)
def test_a_rule_that_cannot_be_kept_is_refused(organizer, rule, field):
    with pytest.raises(InvalidEvent) as refusal:
        series.create_series(
            series_details("Europe/Berlin", datetime(2027, 1, 4, 8)), rule, creator=organizer
        )
    assert refusal.value.field == field
    assert not Event.objects.exists()


def test_only_the_rule_is_stored_not_the_copies(organizer):
    event = series.create_series(
        series_details("Europe/Berlin", datetime(2027, 1, 4, 8)), WEEKLY_MONDAYS, creator=organizer
    )
    assert Event.objects.count() == 1
    assert not SessionChange.objects.exists()
    assert event.series_rule.last_end == series.sessions(event)[-1].end


def weekly_series(organizer, **overrides) -> Event:
    start = timezone.now().astimezone(ZoneInfo("Europe/Berlin")).replace(
        hour=10, minute=0, second=0, microsecond=0
    ) + timedelta(days=7)
    rule = Rule(Frequency.WEEKLY, weekdays=(start.weekday(),), count=overrides.pop("count", 6))
    details = event_details(start=start, end=start + timedelta(hours=1), **overrides)
    return series.create_series(details, rule, creator=organizer)


def test_moving_one_session_keeps_a_row_for_that_session_only(organizer, changes):
    event = weekly_series(organizer)
    third = series.sessions(event)[2]
    moved = series.SessionDetails(
        start=third.start + timedelta(hours=2),
        end=third.end + timedelta(hours=2),
        location="Room 2",
        is_online=False,
        online_url="",
    )
    assert series.change_session(event, third.on, moved, actor=organizer)
    after = series.sessions(event)
    assert after[2].start == third.start + timedelta(hours=2)
    assert after[2].location == "Room 2" and after[2].is_changed
    assert [s.is_changed for s in after].count(True) == 1
    assert SessionChange.objects.count() == 1
    assert changes.recorded[-1].kind == ChangeKind.SESSION_CHANGED
    assert changes.recorded[-1].session == third.on


def test_a_session_change_that_changes_nothing_announces_nothing(organizer, changes):
    event = weekly_series(organizer)
    first = series.sessions(event)[0]
    same = series.SessionDetails(first.start, first.end, first.location, False, "")
    before = len(changes.recorded)
    assert not series.change_session(event, first.on, same, actor=organizer)
    assert len(changes.recorded) == before
    assert not SessionChange.objects.exists()


def test_cancelling_one_session_keeps_the_message_and_the_series(organizer, regular, changes):
    event = weekly_series(organizer)
    services.enroll(event, regular, actor=regular)
    second = series.sessions(event)[1]
    series.cancel_session(event, second.on, actor=organizer, message="Public holiday")
    after = series.sessions(event)
    assert after[1].is_cancelled and after[1].cancellation_reason == "Public holiday"
    assert series.next_session(event) == after[0]
    assert changes.recorded[-1].kind == ChangeKind.SESSION_CANCELLED
    assert changes.recorded[-1].affected_user_ids == {organizer.pk, regular.pk}
    with pytest.raises(EventCancelled):
        series.cancel_session(event, second.on, actor=organizer)


def test_a_regular_user_may_not_cancel_a_session(organizer, regular):
    event = weekly_series(organizer)
    with pytest.raises(NotAllowed):
        series.cancel_session(event, series.sessions(event)[0].on, actor=regular)
    assert not SessionChange.objects.exists()


def test_a_date_that_is_not_a_session_is_refused(organizer):
    event = weekly_series(organizer)
    with pytest.raises(InvalidEvent, match="no session on"):
        series.cancel_session(event, date(2000, 1, 1), actor=organizer)


def test_will_miss_is_per_session_and_keeps_the_enrollment(organizer, regular):
    event = weekly_series(organizer)
    services.enroll(event, regular, actor=regular)
    third = series.sessions(event)[2].on
    assert series.will_miss(event, third, regular, actor=None, reason="Declined in Outlook")
    assert not series.will_miss(event, third, regular, actor=None)
    assert event.enrollment_of(regular) is not None
    assert series.missing_by_session(event) == {third: [regular]}
    assert series.will_attend(event, third, regular, actor=regular)
    assert series.missing_by_session(event) == {}


def test_unenrolling_forgets_the_sessions_someone_would_miss(organizer, regular):
    event = weekly_series(organizer)
    services.enroll(event, regular, actor=regular)
    series.will_miss(event, series.sessions(event)[0].on, regular, actor=None)
    services.unenroll(event, regular, actor=regular)
    assert not MissedSession.objects.exists()


def test_capacity_counts_people_enrolled_in_the_series(organizer, make_user):
    event = weekly_series(organizer, capacity=1)
    first, second = make_user(), make_user()
    services.enroll(event, first, actor=first)
    with pytest.raises(EventFull):
        services.enroll(event, second, actor=second)


def test_a_series_is_listed_once_while_its_last_session_is_ahead(organizer):
    event = weekly_series(organizer)
    # the first session is over; the series still runs
    Event.objects.filter(pk=event.pk).update(
        start=timezone.now() - timedelta(days=1, hours=1),
        end=timezone.now() - timedelta(days=1),
    )
    assert list(Event.objects.upcoming()) == [event]


def test_changing_the_pattern_says_beforehand_which_changes_stay_and_which_go(organizer):
    event = weekly_series(organizer, count=6)
    sessions = series.sessions(event)
    series.cancel_session(event, sessions[1].on, actor=organizer)
    series.cancel_session(event, sessions[5].on, actor=organizer)
    shorter = Rule(Frequency.WEEKLY, weekdays=(sessions[0].on.weekday(),), count=4)
    effects = series.pattern_effects(event, shorter)
    assert [c.on for c in effects.kept] == [sessions[1].on]
    assert [c.on for c in effects.dropped] == [sessions[5].on]
    assert "dropped" in effects.in_words()[1]
    assert SessionChange.objects.count() == 2, "a preview changes nothing"
    series.set_pattern(event, shorter, actor=organizer)
    assert len(series.sessions(Event.objects.get(pk=event.pk))) == 4
    assert list(SessionChange.objects.values_list("on", flat=True)) == [sessions[1].on]


def test_moving_the_first_session_off_the_rule_is_refused_and_rolled_back(organizer):
    event = weekly_series(organizer)
    details = services.EventDetails.of(event)
    moved = services.EventDetails(
        **{
            **details.__dict__,
            "start": details.start + timedelta(days=1),
            "end": details.end + timedelta(days=1),
        }
    )
    with pytest.raises(InvalidEvent) as refusal:
        services.update_event(event, moved, actor=organizer)
    assert refusal.value.field == "weekdays"
    assert Event.objects.get(pk=event.pk).start == details.start


def test_moving_the_series_by_an_hour_keeps_the_last_end(organizer):
    event = weekly_series(organizer)
    details = services.EventDetails.of(event)
    later = services.EventDetails(
        **{
            **details.__dict__,
            "start": details.start + timedelta(hours=1),
            "end": details.end + timedelta(hours=1),
        }
    )
    services.update_event(event, later, actor=organizer)
    event.refresh_from_db()
    assert event.series_rule.last_end == series.sessions(event)[-1].end
    assert local_clock(event) == [(11, 0)] * 6
