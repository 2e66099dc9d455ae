"""Series in Outlook, over real HTTP against the emulator, in both modes: one master created
in one request with its recurrence, a session changed as an exception, a session cancelled as
that occurrence, a whole-series change as one PATCH, and the messages each person receives."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from convene.events import series, services
from convene.events.models import Event
from convene.events.recurrence import Frequency, Rule
from convene.events.timezones import localize
from convene.outlook.models import CalendarLink, SyncLogEntry

from .conftest import OutlookWorld, next_local
from .test_connect_and_sync import ADA, ALAN, BARBARA, EDSGER, GRACE
from .test_platform import SERVICE, platform_seed, use_platform_calendar

ATTENDEES = (ALAN, EDSGER, BARBARA)
WRITES = {"create", "update", "cancel", "delete"}


@pytest.fixture(params=["organizer", "platform"])
def mode(request: pytest.FixtureRequest, outlook: OutlookWorld) -> str:
    """Both modes: the organizer's own calendar (Ada connected) or the service mailbox."""
    if request.param == "platform":
        outlook.emulator.reset(platform_seed(consented=True))
        use_platform_calendar()
    else:
        outlook.connect(ADA)
    return str(request.param)


def owner(mode: str) -> str:
    return SERVICE if mode == "platform" else ADA


def create_series(
    outlook: OutlookWorld,
    zone: str = "Europe/Berlin",
    count: int = 12,
    first: datetime | None = None,
    allow_past: bool = False,
) -> Event:
    local = first or next_local(zone, 0, 10)
    start = localize(local, zone)
    # One transaction: the worker sees the series with its people, as one create.
    with transaction.atomic():
        return _series_with_people(outlook, zone, count, local, start, allow_past)


def _series_with_people(
    outlook: OutlookWorld,
    zone: str,
    count: int,
    local: datetime,
    start: datetime,
    allow_past: bool,
) -> Event:
    event = series.create_series(
        services.EventDetails(
            title="Weekly workshop",
            start=start,
            end=start + timedelta(hours=1),
            timezone=zone,
            location="Room 1",
        ),
        Rule(Frequency.WEEKLY, weekdays=(local.weekday(),), count=count),
        creator=outlook.people[ADA],
        allow_past=allow_past,
    )
    for email in ATTENDEES:
        services.enroll(event, outlook.people[email], actor=None)
    return event


def writes(outlook: OutlookWorld) -> Counter[str]:
    counted: dict[str, int] = outlook.stats()["requests"]["byOperation"]
    return Counter({op: n for op, n in counted.items() if op.split(".")[-1] in WRITES})


def received(outlook: OutlookWorld, email: str) -> Counter[str]:
    """The meeting messages in a person's inbox, by kind (invitation, update, cancellation)."""
    messages = outlook.emulator.control("GET", f"/mailboxes/{email}/messages").json()["value"]
    kinds: Counter[str] = Counter()
    for message in messages:
        kind = message.get("meetingMessageType")
        if kind == "meetingRequest":
            kind = message.get("meetingRequestType") or kind
        kinds[kind] += 1
    return kinds


def series_copy(outlook: OutlookWorld, email: str) -> dict[str, Any]:
    (copy,) = [
        e
        for e in outlook.mailbox(email)
        if e.get("type") == "seriesMaster" and not e["isCancelled"]
    ]
    return copy


def requests_total(outlook: OutlookWorld) -> int:
    return int(outlook.stats()["requests"]["total"])


def delta_round(outlook: OutlookWorld, mailbox: str) -> None:
    """What the periodic task does every few minutes: one calendarView delta round of the
    organizer's mailbox (it learns the occurrence ids of the series it lists)."""
    from convene.outlook import tasks
    from convene.outlook.inbound import delta

    delta.read(mailbox, tasks.enqueue_sync, tasks.reconcile_later)
    outlook.wait_idle()


def move_series(event: Event, by: timedelta) -> None:
    """The organizer moves the whole series (every session) by ``by`` in Convene."""
    details = services.EventDetails.of(event)
    services.update_event(
        event,
        services.EventDetails(
            **{**details.__dict__, "start": details.start + by, "end": details.end + by}
        ),
        actor=None,
    )


def known_occurrences(event: Event) -> dict[str, str]:
    known: dict[str, str] = CalendarLink.objects.get(event=event).last_pushed.get("occurrences", {})
    return known


def instances(outlook: OutlookWorld, email: str, event: Event) -> list[dict[str, Any]]:
    master = series_copy(outlook, email)
    token = outlook.emulator.token_for(email)
    window = {
        "startDateTime": (event.start - timedelta(days=1)).isoformat(),
        "endDateTime": (event.series_rule.last_end + timedelta(days=1)).isoformat(),
    }
    found: list[dict[str, Any]] = []
    url: str = f"/me/events/{master['id']}/instances"
    params: dict[str, str] | None = window
    while url:
        answer = outlook.emulator.graph("GET", url, token, params=params)
        answer.raise_for_status()
        found += answer.json()["value"]
        url = answer.json().get("@odata.nextLink", "").split("/v1.0", 1)[-1]
        params = None
    return found


def test_a_series_is_one_master_created_in_one_request_and_one_invitation_each(
    outlook: OutlookWorld, mode: str
) -> None:
    before = writes(outlook)
    requests_before = requests_total(outlook)
    event = create_series(outlook)
    outlook.wait_synced(event.pk)
    assert writes(outlook) - before == Counter({"events.create": 1})
    # the create alone: no read of the occurrence ids with it
    assert requests_total(outlook) - requests_before == 1
    assert known_occurrences(event) == {}
    master = series_copy(outlook, owner(mode))
    assert master["recurrence"]["pattern"]["type"] == "weekly"
    assert master["recurrence"]["range"]["numberOfOccurrences"] == 12
    for email in ATTENDEES:
        assert received(outlook, email) == Counter({"newMeetingRequest": 1})
        series_copy(outlook, email)


def test_moving_one_session_is_an_exception_and_one_update_each(
    outlook: OutlookWorld, mode: str
) -> None:
    event = create_series(outlook)
    outlook.wait_synced(event.pk)
    delta_round(outlook, owner(mode))
    assert len(known_occurrences(event)) == 12, "the delta round listed every occurrence"
    third = series.sessions(event)[2]
    before = writes(outlook)
    requests_before = outlook.stats()["requests"]["total"]
    series.change_session(
        event,
        third.on,
        series.SessionDetails(
            third.start + timedelta(hours=2), third.end + timedelta(hours=2), "Room 9", False, ""
        ),
        actor=None,
    )
    outlook.wait_synced(event.pk)
    assert writes(outlook) - before == Counter({"events.update": 1})
    # the first change of a session is its PATCH alone: the delta round learned the ids
    assert outlook.stats()["requests"]["total"] - requests_before == 1
    exceptions = [i for i in instances(outlook, ALAN, event) if i["type"] == "exception"]
    assert [e["location"]["displayName"] for e in exceptions] == ["Room 9"]
    for email in ATTENDEES:
        assert received(outlook, email) == Counter({"newMeetingRequest": 1, "fullUpdate": 1})

    # a second session now costs one request: the occurrence ids are known
    fifth = series.sessions(event)[4]
    before = writes(outlook)
    requests_before = outlook.stats()["requests"]["total"]
    series.change_session(
        event,
        fifth.on,
        series.SessionDetails(fifth.start, fifth.end, "Room 5", False, ""),
        actor=None,
    )
    outlook.wait_synced(event.pk)
    assert writes(outlook) - before == Counter({"events.update": 1})
    assert outlook.stats()["requests"]["total"] - requests_before == 1


def test_a_session_change_before_any_read_learned_the_ids_reads_them_once(
    outlook: OutlookWorld, mode: str
) -> None:
    """Right after the create no delta round or notification has shown the occurrences yet:
    the first session change reads them (one GET of the instances) with its PATCH, and keeps
    them, so the next change is one request. A whole-series move that must send changed
    sessions again reads the new ids the same way, once."""
    event = create_series(outlook)
    outlook.wait_synced(event.pk)
    for number in (2, 4):
        session = series.sessions(event)[number]
        requests_before = requests_total(outlook)
        series.change_session(
            event,
            session.on,
            series.SessionDetails(session.start, session.end, f"Room {number}", False, ""),
            actor=None,
        )
        outlook.wait_synced(event.pk)
        expected = 2 if number == 2 else 1
        assert requests_total(outlook) - requests_before == expected, number
    assert len(known_occurrences(event)) == 12

    requests_before = requests_total(outlook)
    move_series(event, timedelta(hours=1))
    outlook.wait_synced(event.pk)
    # the master's PATCH, one read of the new ids, the two changed sessions again
    assert requests_total(outlook) - requests_before == 4
    requests_before = requests_total(outlook)
    series.cancel_session(event, series.sessions(event)[6].on, actor=None, message="Holiday")
    outlook.wait_synced(event.pk)
    assert requests_total(outlook) - requests_before == 1
    found = instances(outlook, ALAN, event)
    assert len(found) == 11
    # the move made Outlook drop the exceptions; Convene sent both sessions again
    rooms = sorted(i["location"]["displayName"] for i in found if i["type"] == "exception")
    assert rooms == ["Room 2", "Room 4"]


def test_cancelling_one_session_cancels_that_occurrence_with_the_message(
    outlook: OutlookWorld, mode: str
) -> None:
    event = create_series(outlook)
    outlook.wait_synced(event.pk)
    second = series.sessions(event)[1]
    before = writes(outlook)
    series.cancel_session(event, second.on, actor=None, message="Public holiday")
    outlook.wait_synced(event.pk)
    assert writes(outlook) - before == Counter({"events.cancel": 1})
    assert len(instances(outlook, EDSGER, event)) == 11
    for email in ATTENDEES:
        assert received(outlook, email) == Counter({"newMeetingRequest": 1, "meetingCancelled": 1})
    messages = outlook.emulator.control("GET", f"/mailboxes/{ALAN}/messages").json()["value"]
    assert any("Public holiday" in str(m) for m in messages)


def test_a_whole_series_change_is_one_patch_of_the_master_and_one_update_each(
    outlook: OutlookWorld, mode: str
) -> None:
    event = create_series(outlook)
    outlook.wait_synced(event.pk)
    before = writes(outlook)
    requests_before = requests_total(outlook)
    details = services.EventDetails.of(event)
    services.update_event(
        event,
        services.EventDetails(
            **{
                **details.__dict__,
                "title": "Weekly workshop (new room)",
                "start": details.start + timedelta(hours=1),
                "end": details.end + timedelta(hours=1),
            }
        ),
        actor=None,
    )
    outlook.wait_synced(event.pk)
    assert writes(outlook) - before == Counter({"events.update": 1})
    assert requests_total(outlook) - requests_before == 1, "the PATCH alone, no read"
    for email in ATTENDEES:
        assert received(outlook, email) == Counter({"newMeetingRequest": 1, "fullUpdate": 1})
    starts = {i["start"]["dateTime"][11:16] for i in instances(outlook, owner(mode), event)}
    assert len(starts) <= 2  # one wall-clock time, written in UTC on either side of DST


def test_after_a_whole_series_move_the_first_session_change_is_one_request(
    outlook: OutlookWorld, mode: str
) -> None:
    """Moving the series gives its occurrences new ids in Outlook: the move forgets the old
    ones, and the next delta round (already under way before the move) learns the new ones,
    so changing or cancelling one session afterwards is still one request."""
    event = create_series(outlook)
    outlook.wait_synced(event.pk)
    delta_round(outlook, owner(mode))
    old_ids = known_occurrences(event)
    assert len(old_ids) == 12
    requests_before = requests_total(outlook)
    move_series(event, timedelta(hours=1))
    outlook.wait_synced(event.pk)
    assert requests_total(outlook) - requests_before == 1, "the master's PATCH alone"
    assert known_occurrences(event) == {}
    delta_round(outlook, owner(mode))
    new_ids = known_occurrences(event)
    assert len(new_ids) == 12 and not set(new_ids.values()) & set(old_ids.values())
    event.refresh_from_db()
    for number, change in enumerate(("move", "cancel"), start=3):
        session = series.sessions(event)[number]
        requests_before = outlook.stats()["requests"]["total"]
        before = writes(outlook)
        if change == "move":
            series.change_session(
                event,
                session.on,
                series.SessionDetails(session.start, session.end, "Room 7", False, ""),
                actor=None,
            )
        else:
            series.cancel_session(event, session.on, actor=None, message="Holiday")
        outlook.wait_synced(event.pk)
        expected = "events.update" if change == "move" else "events.cancel"
        assert writes(outlook) - before == Counter({expected: 1})
        assert outlook.stats()["requests"]["total"] - requests_before == 1, change
    found = instances(outlook, ALAN, event)
    assert len(found) == 11
    assert [i["location"]["displayName"] for i in found if i["type"] == "exception"] == ["Room 7"]


def test_nothing_is_sent_when_nothing_outlook_shows_changed(
    outlook: OutlookWorld, mode: str
) -> None:
    event = create_series(outlook)
    outlook.wait_synced(event.pk)
    series.will_miss(event, series.sessions(event)[3].on, outlook.people[ALAN], actor=None)
    details = services.EventDetails.of(event)
    services.update_event(
        event, services.EventDetails(**{**details.__dict__, "capacity": 40}), actor=None
    )
    before = outlook.stats()["requests"]["total"]
    outlook.wait_idle()
    assert outlook.stats()["requests"]["total"] == before


def test_enrolling_one_person_invites_that_person_alone(outlook: OutlookWorld, mode: str) -> None:
    event = create_series(outlook)
    outlook.wait_synced(event.pk)
    services.unenroll(event, outlook.people[BARBARA], actor=None)
    outlook.wait_synced(event.pk)
    alan_before = received(outlook, ALAN)
    barbara_before = received(outlook, BARBARA)
    services.enroll(event, outlook.people[BARBARA], actor=None)
    outlook.wait_synced(event.pk)
    assert received(outlook, ALAN) == alan_before
    assert received(outlook, BARBARA) - barbara_before == Counter({"newMeetingRequest": 1})


@pytest.mark.parametrize(
    ("zone", "weekday"),
    [("Europe/Berlin", 0), ("America/New_York", 2), ("Australia/Sydney", 4)],
)
def test_a_series_across_daylight_saving_keeps_its_wall_clock_in_outlook(
    outlook: OutlookWorld, mode: str, zone: str, weekday: int
) -> None:
    # 20 weekly sessions from now always cross one of the zone's DST changes
    event = create_series(outlook, zone=zone, count=20, first=next_local(zone, weekday, 10))
    outlook.wait_synced(event.pk)

    def local_starts(email: str) -> list[datetime]:
        return [
            datetime.fromisoformat(i["start"]["dateTime"][:19])
            .replace(tzinfo=ZoneInfo("UTC"))
            .astimezone(ZoneInfo(zone))
            for i in instances(outlook, email, event)
        ]

    for email in (owner(mode), ALAN):
        local = local_starts(email)
        assert len(local) == 20
        assert {(t.hour, t.minute) for t in local} == {(10, 0)}
        assert [t.date() for t in local] == [s.on for s in series.sessions(event)]
        assert len({t.utcoffset() for t in local}) == 2

    # a session moved late in the series keeps its own wall-clock time, in local terms
    late = series.sessions(event)[15]
    series.change_session(
        event,
        late.on,
        series.SessionDetails(
            late.start + timedelta(hours=2), late.end + timedelta(hours=2), "Room 2", False, ""
        ),
        actor=None,
    )
    outlook.wait_synced(event.pk)
    local = local_starts(ALAN)
    assert (local[15].hour, local[15].minute) == (12, 0)
    assert {(t.hour, t.minute) for i, t in enumerate(local) if i != 15} == {(10, 0)}


def test_a_mode_switch_moves_a_series_whole_with_its_exceptions(outlook: OutlookWorld) -> None:
    from .test_mode_switch import confirm, preview, wait_for_job

    outlook.emulator.reset(platform_seed(consented=True))
    outlook.connect(ADA)
    event = create_series(outlook)
    sessions = series.sessions(event)
    series.change_session(
        event,
        sessions[2].on,
        series.SessionDetails(sessions[2].start, sessions[2].end, "Room 9", False, ""),
        actor=None,
    )
    outlook.wait_synced(event.pk)
    before = {email: received(outlook, email) for email in ATTENDEES}

    response = confirm(outlook, preview(outlook, mode="platform", service_mailbox=SERVICE))
    wait_for_job(outlook, int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    outlook.wait_synced(event.pk)

    master = series_copy(outlook, SERVICE)
    assert master["recurrence"]["range"]["numberOfOccurrences"] == 12
    exceptions = [i for i in instances(outlook, ALAN, event) if i["type"] == "exception"]
    assert [e["location"]["displayName"] for e in exceptions] == ["Room 9"]
    for email in ATTENDEES:
        # one invitation to the new series, its one exception, one cancellation of the old
        assert received(outlook, email) - before[email] == Counter(
            {"newMeetingRequest": 1, "fullUpdate": 1, "meetingCancelled": 1}
        )
        live_masters = [
            e
            for e in outlook.mailbox(email)
            if e.get("type") == "seriesMaster" and not e["isCancelled"]
        ]
        assert len(live_masters) == 1


def test_a_mode_switch_of_a_series_without_exceptions_costs_one_invitation_and_one_cancellation(
    outlook: OutlookWorld,
) -> None:
    """The floor docs/outlook.md states: with no session that differs, exactly 1 invitation
    to the new series and 1 cancellation of the old one per person."""
    from .test_mode_switch import confirm, preview, wait_for_job

    outlook.emulator.reset(platform_seed(consented=True))
    outlook.connect(ADA)
    event = create_series(outlook)
    outlook.wait_synced(event.pk)
    before = {email: received(outlook, email) for email in ATTENDEES}

    response = confirm(outlook, preview(outlook, mode="platform", service_mailbox=SERVICE))
    wait_for_job(outlook, int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    outlook.wait_synced(event.pk)

    for email in ATTENDEES:
        assert received(outlook, email) - before[email] == Counter(
            {"newMeetingRequest": 1, "meetingCancelled": 1}
        ), email
    assert len(instances(outlook, ALAN, event)) == 12


# 26 more attendees and one latecomer: with Ada and the three of ATTENDEES, 30 people
CROWD = [f"person{n:02}@contoso.test" for n in range(1, 28)]


@pytest.mark.parametrize("where", ["organizer", "platform"])
def test_invitation_economy_of_a_12_session_series_with_30_people(
    outlook: OutlookWorld, where: str
) -> None:
    """Measured with the emulator's messages: 1 invitation each for the series, 1 update each
    for a whole-series change and for one session changed, 1 cancellation each for one session
    cancelled, and enrolling one more person invites that person alone."""
    from convene.accounts.models import User

    from .conftest import PASSWORD, PUBLIC_URL, world_seed

    seed = world_seed(PUBLIC_URL, platform_consented=True)
    seed["tenants"][0]["users"] += [
        {"userPrincipalName": email, "displayName": email, "password": PASSWORD} for email in CROWD
    ]
    outlook.emulator.reset(seed)
    if where == "platform":
        use_platform_calendar()
    else:
        outlook.connect(ADA)
    people = [User.objects.create_user(email, PASSWORD, display_name=email) for email in CROWD]
    latecomer, crowd = people[-1], people[:-1]
    local = next_local("Europe/Berlin", 1, 9)
    start = localize(local, "Europe/Berlin")
    event = series.create_series(
        services.EventDetails(
            title="Onboarding course",
            start=start,
            end=start + timedelta(hours=1),
            timezone="Europe/Berlin",
        ),
        Rule(Frequency.WEEKLY, weekdays=(local.weekday(),), count=12),
        creator=outlook.people[ADA],
    )
    for email in ATTENDEES:
        services.enroll(event, outlook.people[email], actor=None)
    for person in crowd:
        services.enroll(event, person, actor=None)
    everyone = [*ATTENDEES, *(p.email for p in crowd)]
    assert len(everyone) + 1 == 30  # with Ada, the organizer

    def step(change: Any, expected: str) -> None:
        before = {email: received(outlook, email) for email in [*everyone, latecomer.email]}
        change()
        outlook.wait_synced(event.pk)
        for email in everyone:
            assert received(outlook, email) - before[email] == Counter({expected: 1}), email
        assert received(outlook, latecomer.email) == before[latecomer.email]

    outlook.wait_synced(event.pk)
    for email in everyone:
        assert received(outlook, email) == Counter({"newMeetingRequest": 1}), email

    details = services.EventDetails.of(event)
    step(
        lambda: services.update_event(
            event,
            services.EventDetails(**{**details.__dict__, "title": "Onboarding"}),
            actor=None,
        ),
        "fullUpdate",
    )
    third = series.sessions(event)[2]
    step(
        lambda: series.change_session(
            event,
            third.on,
            series.SessionDetails(third.start, third.end, "Room 3", False, ""),
            actor=None,
        ),
        "fullUpdate",
    )
    step(
        lambda: series.cancel_session(
            event, series.sessions(event)[4].on, actor=None, message="Holiday"
        ),
        "meetingCancelled",
    )
    before = {email: received(outlook, email) for email in everyone}
    services.enroll(event, latecomer, actor=None)
    outlook.wait_synced(event.pk)
    assert received(outlook, latecomer.email) == Counter({"newMeetingRequest": 1})
    for email in everyone:
        assert received(outlook, email) == before[email], email


def test_status_badge_and_resync_speak_of_series_and_sessions(
    outlook: OutlookWorld, mode: str
) -> None:
    from io import StringIO

    from django.core.management import call_command

    event = create_series(outlook)
    second, fourth = series.sessions(event)[1], series.sessions(event)[3]
    outlook.wait_synced(event.pk)
    series.cancel_session(event, second.on, actor=None, message="")
    series.change_session(
        event,
        fourth.on,
        series.SessionDetails(fourth.start, fourth.end, "Room 4", False, ""),
        actor=None,
    )
    outlook.wait_synced(event.pk)
    assert series.summary(event) == "Series, 12 sessions, 1 changed, 1 cancelled"

    status = StringIO()
    call_command("outlook", "status", stdout=status)
    assert (
        "Series: 1 (one Outlook series each), 12 sessions, 1 changed, 1 cancelled; changed "
        "and cancelled sessions are exceptions of their series" in status.getvalue()
    )
    page = outlook.browser(ADA).get(event.get_absolute_url()).content.decode()
    assert (
        "of the series (12 sessions, 1 changed, 1 cancelled), as one Outlook series with 2 "
        "sessions changed or cancelled as exceptions" in page
    )
    resync = StringIO()
    call_command("outlook", "resync", "--event", str(event.pk), stdout=resync)
    assert (
        f"Series, 12 sessions, 1 changed, 1 cancelled ({event.pk}) queued for sync."
        in resync.getvalue()
    )
    resync_all = StringIO()
    call_command("outlook", "resync", "--all", stdout=resync_all)
    assert (
        "1 events queued for sync, 1 of them series (12 sessions, 1 changed, 1 cancelled)."
        in resync_all.getvalue()
    )
    logged = list(
        SyncLogEntry.objects.filter(event=event, action="cancel session").values_list(
            "details", flat=True
        )
    )
    assert logged == [{"session": second.on.isoformat()}]
    (created,) = SyncLogEntry.objects.filter(event=event, action="create")
    assert created.details["series"] == "Series, 12 sessions"

    from tests.world import ADMIN

    dashboard = outlook.browser(ADMIN).get("/outlook/admin/sync/").content.decode()
    assert (
        "Series in Outlook: 1 (one Outlook series each), 12 sessions, 1 changed, 1 cancelled"
        in dashboard
    )
    assert f"Session of {second.on:%a %d %b %Y}" in dashboard
    assert "Series, 12 sessions" in dashboard


def test_a_handover_moves_a_running_series_whole_to_the_co_organizer(
    outlook: OutlookWorld,
) -> None:
    """A series whose first session is over still moves: one new series from Grace's calendar
    (with its cancelled session), one cancellation of Ada's, per person."""
    from convene.events.models import EnrollmentRole

    from .test_handover import confirm, deactivate_in_django_admin, preview, wait_for_job

    outlook.connect(ADA)
    outlook.connect(GRACE)
    zone = "Europe/Berlin"
    today = timezone.now().astimezone(ZoneInfo(zone))
    first = datetime(today.year, today.month, today.day, 0, 5) - timedelta(days=7)
    event = create_series(outlook, zone=zone, count=6, first=first, allow_past=True)
    services.add_person(event, outlook.people[GRACE], EnrollmentRole.ORGANIZER, actor=None)
    series.cancel_session(event, series.sessions(event)[3].on, actor=None, message="Holiday")
    outlook.wait_synced(event.pk)
    assert event.end < timezone.now() < event.series_rule.last_end
    before = {email: received(outlook, email) for email in ATTENDEES}

    deactivate_in_django_admin(outlook, ADA)
    page = preview(outlook, ADA, target="coorganizer").content.decode()
    job = wait_for_job(outlook, confirm(outlook, ADA, page))

    assert (job.done, job.failed) == (1, 0)
    master = series_copy(outlook, GRACE)
    assert master["recurrence"]["range"]["numberOfOccurrences"] == 6
    for email in ATTENDEES:
        assert received(outlook, email) - before[email] == Counter(
            {"newMeetingRequest": 1, "meetingCancelled": 2}
        ), "one invitation, the cancelled session again, one cancellation of the old series"
        assert len(instances(outlook, email, event)) == 5


def test_a_failed_session_request_is_retried_alone_without_a_second_update(
    outlook: OutlookWorld,
) -> None:
    from django.db import transaction

    outlook.connect(ADA)
    event = create_series(outlook)
    outlook.wait_synced(event.pk)
    before = {email: received(outlook, email) for email in ATTENDEES}
    outlook.emulator.control(
        "POST",
        "/faults",
        {"method": "POST", "path": "/cancel$", "status": 503, "count": 1},
    ).raise_for_status()

    with transaction.atomic():  # one push: the master's PATCH, then the session's cancel
        details = services.EventDetails.of(event)
        services.update_event(
            event, services.EventDetails(**{**details.__dict__, "title": "Renamed"}), actor=None
        )
        series.cancel_session(event, series.sessions(event)[1].on, actor=None, message="Off")
    outlook.wait_synced(event.pk, timeout=30)

    (rule,) = outlook.emulator.control("GET", "/faults").json()["rules"]
    assert rule["fired"] == 1
    for email in ATTENDEES:
        assert received(outlook, email) - before[email] == Counter(
            {"fullUpdate": 1, "meetingCancelled": 1}
        ), email
