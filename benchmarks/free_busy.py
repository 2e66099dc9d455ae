"""Scenario FB: a double-booking check for 20 people and 1 room over a 10-session window, at
100 ms Microsoft latency: the Graph requests it costs and the wall time from the question to the
warning, through Convene's web server as the form asks it (htmx POST /outlook/free-busy/ for an
event with 20 presenters and a booked room) and through ``free_busy.check`` for 10 weekly
sessions (70 days: two 62-day windows, so 4 getSchedule requests, sent as one JSON batch)."""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta

from tests.world import CUSTOMER

from benchmarks import world
from benchmarks.report import Figure, Scenario
from benchmarks.stack import Stack, StackConfig

PEOPLE = 20
SESSIONS = 10
LATENCY_MS = 100
ROOM = f"room-bench@{CUSTOMER}"


def run(repetitions: int) -> list[Scenario]:
    result = Scenario("FB", "Free/busy warning: 20 people + 1 room, 10 sessions, 100 ms latency")
    cast = world.Cast(
        organizers=[f"organizer001@{CUSTOMER}"],
        guests=[f"presenter{i:02}@{CUSTOMER}" for i in range(1, PEOPLE + 1)],
    )
    config = StackConfig("free-busy", worker_threads=2, latency_ms=LATENCY_MS, jitter_ms=0)
    with Stack(config) as stack:
        stack.start_emulator(cast.mailboxes())
        stack.control(
            "POST",
            "/seed",
            {"tenants": [{"domain": CUSTOMER, "rooms": [{"emailAddress": ROOM, "capacity": 30}]}]},
        )
        world.setup_django(stack)
        ids = world.create_people(cast)
        stack.start_web()
        stack.start_workers()
        organizer = cast.organizers[0]
        world.connect_outlook(stack, organizer)
        world.switch_on(cast)
        event_id, sessions = _event_with_presenters_and_room(cast, ids)
        _busy_calendars(stack, cast, sessions)

        form_times, form_requests, first = _through_the_form(
            stack, organizer, event_id, repetitions
        )
        check_times, check_requests, clashes = _ten_sessions(stack, cast, sessions, repetitions)
    result.add(Figure("form: first check (with the token fetch)", round(first, 3), "s"))
    _figures(result, "form (1 session)", form_times, form_requests)
    _figures(result, "10 sessions", check_times, check_requests)
    result.add(Figure("clashes found (20 planted, one per presenter)", clashes))
    return [result]


def _event_with_presenters_and_room(
    cast: world.Cast, ids: dict[str, int]
) -> tuple[int, list[tuple[datetime, datetime]]]:
    from django.utils import timezone

    from convene.accounts.models import User
    from convene.events import services
    from convene.events.models import EnrollmentRole
    from convene.outlook.models import Room, RoomBooking

    organizer = User.objects.get(email=cast.organizers[0])
    start = (timezone.now() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    event = services.create_event(
        services.EventDetails(
            title="Weekly seminar", start=start, end=start + timedelta(hours=1), timezone="UTC"
        ),
        creator=organizer,
    )
    for email in cast.guests:
        services.add_person(
            event, User.objects.get(pk=ids[email]), EnrollmentRole.PRESENTER, actor=None
        )
    room = Room.objects.create(email=ROOM, name="Bench room", capacity=30, offered=True)
    RoomBooking.objects.create(event=event, room=room)
    sessions = [
        (start + timedelta(weeks=w), start + timedelta(weeks=w, hours=1)) for w in range(SESSIONS)
    ]
    return event.pk, sessions


def _busy_calendars(
    stack: Stack, cast: world.Cast, sessions: list[tuple[datetime, datetime]]
) -> None:
    """Each presenter is busy in one session: 20 clashes spread over the 10 sessions."""
    for number, email in enumerate(cast.guests):
        start, end = sessions[number % SESSIONS]
        stack.control(
            "POST",
            f"/mailboxes/{email}/events",
            {
                "subject": "Something else",
                "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            },
        )


def _graph_requests(stack: Stack) -> tuple[int, int]:
    """(HTTP round trips, getSchedule requests) so far: a JSON batch is one round trip that
    carries several getSchedule requests."""
    by_operation = stack.stats()["requests"]["byOperation"]
    batches, schedules = by_operation.get("batch", 0), by_operation.get("calendar.getSchedule", 0)
    return (batches or schedules), schedules


def _through_the_form(
    stack: Stack, organizer: str, event_id: int, repetitions: int
) -> tuple[list[float], tuple[float, float], float]:
    times = []
    with world.browser(stack, organizer) as convene:
        # The first check also fetches the organizer's access token: reported on its own.
        started = time.monotonic()
        convene.post("/outlook/free-busy/", data={"event": str(event_id)})
        first = time.monotonic() - started
        before = _graph_requests(stack)
        for _ in range(repetitions):
            started = time.monotonic()
            answer = convene.post("/outlook/free-busy/", data={"event": str(event_id)})
            times.append(time.monotonic() - started)
            assert answer.status_code == 200 and "Possible double booking" in answer.text
    return times, _per_check(before, _graph_requests(stack), repetitions), first


def _ten_sessions(
    stack: Stack, cast: world.Cast, sessions: list[tuple[datetime, datetime]], repetitions: int
) -> tuple[list[float], tuple[float, float], int]:
    from convene.accounts.models import User
    from convene.outlook import free_busy
    from convene.outlook.models import OutlookSettings

    asker = User.objects.get(email=cast.organizers[0])
    client = free_busy.client_for(asker, OutlookSettings.load())
    assert client is not None
    attendees = [free_busy.Attendee(e, e) for e in cast.guests] + [free_busy.Attendee(ROOM, "room")]
    itself = free_busy.Itself("Weekly seminar", sessions[0][0], sessions[0][1])
    times: list[float] = []
    clashes = 0
    before = _graph_requests(stack)
    for _ in range(repetitions):
        started = time.monotonic()
        found = free_busy.check(client, attendees, sessions, itself=itself, limit=10.0)
        times.append(time.monotonic() - started)
        assert not found.failed
        clashes = len([c for c in found.clashes if c.label != "room"])
    return times, _per_check(before, _graph_requests(stack), repetitions), clashes


def _per_check(
    before: tuple[int, int], after: tuple[int, int], repetitions: int
) -> tuple[float, float]:
    return (
        round((after[0] - before[0]) / repetitions, 2),
        round((after[1] - before[1]) / repetitions, 2),
    )


def _figures(
    result: Scenario, what: str, times: list[float], requests: tuple[float, float]
) -> None:
    if not times:
        return
    ordered = sorted(times)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    result.add(Figure(f"{what}: checks measured", len(times)))
    result.add(Figure(f"{what}: HTTP round trips to Graph per check", requests[0]))
    result.add(Figure(f"{what}: getSchedule requests per check", requests[1]))
    result.add(Figure(f"{what}: p50 question -> warning", round(statistics.median(times), 3), "s"))
    result.add(
        Figure.checked(
            f"{what}: p95 question -> warning", round(p95, 3), "s", "<= 1 s", lambda v: v <= 1
        )
    )
