"""Scenario W (issue 16): a decline in Outlook frees a place on a full event; how long until
the first person waiting is enrolled and has the invitation in their Outlook calendar.

Every event is full (capacity = its attendees) with two people waiting. One attendee per event
declines in the emulator (as the person would in Outlook, with a comment and a response sent);
the clock stops when the first person waiting has the meeting, not cancelled, in their own
calendar. Along the way: the decliner's copy is cancelled, the second person waiting has none,
and every promoted person has exactly one copy.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks import world
from benchmarks.report import Figure, Scenario
from benchmarks.stack import Stack, StackConfig

ATTENDEES = 4  # per event; its capacity
WAITING = 2  # per event
TARGET_P95 = 5.0


def run(options: Any) -> list[Scenario]:
    size = options.size
    result = Scenario("W", "Decline to promoted and invited")
    events = size.declines
    cast = world.Cast.of(min(4, events), events * (ATTENDEES + WAITING) + 10)
    with Stack(StackConfig("waitlist", worker_threads=options.threads)) as stack:
        stack.start_emulator(cast.mailboxes())
        world.setup_django(stack)
        ids = world.create_people(cast)
        event_ids = world.create_events(cast, ids, events, ATTENDEES + 1)
        waiting = _fill_waitlists(cast, ids, event_ids)
        stack.start_web()
        stack.start_workers()
        for organizer in cast.organizers:
            world.connect_outlook(stack, organizer)
        world.switch_on(cast)
        world.wait_until(lambda: world.synced_count() >= events, size.timeout, "initial sync")
        from convene.outlook.inbound import subscriptions

        # What the worker's periodic task does within a minute, done now.
        subscriptions.maintain(lambda mailbox: None)
        delays, wrong = _decline_each(stack, result, size, event_ids, waiting)
    result.add(Figure("declines measured", len(delays)))
    if delays:
        result.add(Figure("p50 decline -> promoted and invited", _percentile(delays, 50), "s"))
        result.add(
            Figure.checked(
                "p95 decline -> promoted and invited",
                _percentile(delays, 95),
                "s",
                f"<= {TARGET_P95:.0f} s",
                lambda v: v <= TARGET_P95,
            )
        )
        result.details["delays"] = [round(d, 3) for d in delays]
    result.add(
        Figure.checked(
            "wrong calendars (decliner still invited, second waiting invited, copies twice)",
            wrong,
            "",
            "0",
            lambda v: v == 0,
        )
    )
    return [result]


def _fill_waitlists(
    cast: world.Cast, ids: dict[str, int], event_ids: list[int]
) -> dict[int, list[str]]:
    """Each event full, with its waitlist on and ``WAITING`` people (not on it) waiting."""
    from convene.accounts.models import User
    from convene.events import waitlist
    from convene.events.models import Event

    Event.objects.filter(pk__in=event_ids).update(capacity=ATTENDEES, waitlist_enabled=True)
    spare = iter(cast.guests[::-1])
    waiting: dict[int, list[str]] = {}
    for event in Event.objects.filter(pk__in=event_ids).order_by("pk"):
        on_it = set(event.enrollments.values_list("user__email", flat=True))
        chosen: list[str] = []
        while len(chosen) < WAITING:
            email = next(spare)
            if email not in on_it:
                chosen.append(email)
        for email in chosen:
            waitlist.join(event, User.objects.get(pk=ids[email]), actor=None)
        waiting[event.pk] = chosen
    return waiting


def _decline_each(
    stack: Stack, result: Scenario, size: Any, event_ids: list[int], waiting: dict[int, list[str]]
) -> tuple[list[float], int]:
    from convene.events.models import Enrollment, EnrollmentRole
    from convene.outlook.models import CalendarLink

    uids = dict(CalendarLink.objects.values_list("event_id", "ical_uid"))
    print(f"  [W] {len(event_ids)} declines in Outlook over {size.decline_seconds:.0f} s")
    delays: list[float] = []
    decliners: dict[int, str] = {}
    started = time.monotonic()
    for number, event_id in enumerate(event_ids):
        email = str(
            Enrollment.objects.filter(event_id=event_id, role=EnrollmentRole.ATTENDEE)
            .order_by("pk")
            .values_list("user__email", flat=True)
            .first()
        )
        decliners[event_id] = email
        copy = _copy(stack, email, uids[event_id])
        assert copy is not None, f"{email} has no copy of event {event_id}"
        due = started + number * size.decline_seconds / len(event_ids)
        time.sleep(max(0.0, due - time.monotonic()))
        stack.control(
            "POST",
            f"/mailboxes/{email}/events/{copy['id']}/respond",
            {"response": "decline", "comment": "Sorry, I cannot make it", "sendResponse": True},
        )
        declined = time.monotonic()
        first = waiting[event_id][0]

        def invited(first: str = first, uid: str = uids[event_id]) -> bool:
            found = _copy(stack, first, uid)
            return found is not None and not found.get("isCancelled")

        try:
            world.wait_until(invited, 60, f"{first} invited")
            delays.append(time.monotonic() - declined)
        except TimeoutError as exc:
            result.notes.append(str(exc))
    world.wait_until(lambda: world.synced_count() >= len(event_ids), 60, "final sync")
    wrong = 0
    for event_id in event_ids:
        uid = uids[event_id]
        first, second = waiting[event_id]
        decliner = _copy(stack, decliners[event_id], uid)
        wrong += int(decliner is not None and not decliner.get("isCancelled"))
        wrong += int(_copy(stack, second, uid) is not None)
        copies = [e for e in _events(stack, first) if e["iCalUId"] == uid]
        wrong += int(len(copies) != 1)
    return delays, wrong


def _percentile(values: list[float], percent: int) -> float:
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[percent - 1], 2)


def _events(stack: Stack, email: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = stack.control("GET", f"/mailboxes/{email}/events")["value"]
    return found


def _copy(stack: Stack, email: str, uid: str) -> dict[str, Any] | None:
    return next((e for e in _events(stack, email) if e["iCalUId"] == uid), None)
