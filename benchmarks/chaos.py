"""The chaos scenario (issue 22): faults on Graph and token requests, SIGKILLed workers and
time changes racing declines, on PostgreSQL, Huey on Redis and three worker processes; then
every decline recorded, nothing written twice, every copy current.

Run by ``make bench`` (scenario X) and, at CI size, by tests/benchmarks/test_chaos.py.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from benchmarks import world
from benchmarks.report import Figure, Scenario
from benchmarks.stack import Stack, StackConfig
from convene.env import WEB_POOL_SIZE, WORKER_POOL_EXTRA

# A short lease, renewed while work runs: what production runs with (settings' defaults).
LEASE_SECONDS = 6.0
RENEW_SECONDS = 2.0

FAULTS = [
    {"endpoint": "graph", "status": 503, "headers": {"Retry-After": "1"}, "ratio": 0.04},
    {"endpoint": "graph", "status": 503, "ratio": 0.03},
    {"endpoint": "graph", "status": 429, "headers": {"Retry-After": "1"}, "ratio": 0.04},
    # Hanging past the client's timeout (4 s), and carried out late after the client gave up.
    {"endpoint": "graph", "action": "timeout", "timeoutSeconds": 5, "ratio": 0.03},
    {"endpoint": "graph", "method": "PATCH", "action": "delay", "delayMs": 5000, "ratio": 0.04},
    {"endpoint": "token", "status": 503, "ratio": 0.15},
]


@dataclass(frozen=True)
class ChaosSize:
    events: int
    people: int  # per event, organizer included
    declines: int  # each raced by a time change of its event
    kills: int


@dataclass
class Race:
    event_id: int
    user_id: int
    email: str
    declined_at: float = 0.0


@dataclass
class Load:
    """People using the web pages during the chaos, and what the database saw meanwhile."""

    statuses: list[int] = field(default_factory=list)
    peak_connections: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass
class Kills:
    takeovers: list[float] = field(default_factory=list)
    count: int = 0


def run(size: ChaosSize, threads: int) -> Scenario:
    result = Scenario(
        "X", f"Chaos: faults, {size.kills} worker kills, {size.declines} declines racing moves"
    )
    cast = world.Cast.of(max(2, size.events // 4), max(size.people * 2, 12))
    config = StackConfig(
        "chaos",
        postgres=True,
        redis=True,
        worker_processes=3,
        worker_threads=threads,
        extra_env={
            "OUTLOOK_LEASE_SECONDS": str(LEASE_SECONDS),
            "OUTLOOK_LEASE_RENEW_SECONDS": str(RENEW_SECONDS),
            "OUTLOOK_HTTP_TIMEOUT_SECONDS": "4",
        },
    )
    with Stack(config) as stack:
        stack.start_emulator(cast.mailboxes())
        world.setup_django(stack)
        from convene.events.models import Enrollment, EnrollmentRole

        ids = world.create_people(cast)
        event_ids = world.create_events(cast, ids, size.events, size.people)
        stack.start_web()
        stack.start_workers()
        for organizer in cast.organizers:
            world.connect_outlook(stack, organizer)
        world.switch_on(cast)
        world.wait_until(lambda: world.synced_count() >= len(event_ids), 120, "initial sync")
        dice = random.Random(20261204)
        attendees = list(
            Enrollment.objects.filter(role=EnrollmentRole.ATTENDEE, event_id__in=event_ids)
            .order_by("pk")
            .values_list("event_id", "user_id", "user__email")
        )
        races = [Race(*row) for row in dice.sample(attendees, size.declines)]
        seeded = [{**rule, "seed": number} for number, rule in enumerate(FAULTS)]
        stack.control("POST", "/faults", {"rules": seeded})

        print(f"  [X] {size.events} events, {size.declines} races, {size.kills} kills", flush=True)

        kills = Kills()
        load = Load()
        people = [world.browser(stack, email) for email in cast.organizers[:4]]
        users = [
            threading.Thread(target=_browse, args=(client, load), daemon=True)
            for client in people * 3  # 3 tabs each: concurrent requests
        ]
        watcher = threading.Thread(target=_count_connections, args=(load,), daemon=True)
        for thread in [*users, watcher]:
            thread.start()
        killer = threading.Thread(
            target=_kill_workers,
            args=(stack, size.kills, random.Random(20261205), kills, event_ids),
        )
        killer.start()
        for number, race in enumerate(races):
            # Half: the move first, the decline while it is pending; half the other way.
            if number % 2 == 0:
                _move(race.event_id)
                _decline(stack, race)
            else:
                _decline(stack, race)
                _move(race.event_id)
            time.sleep(dice.uniform(0.1, 0.6))
        killer.join()
        load.stop.set()
        for thread in [*users, watcher]:
            thread.join()
        stack.control("DELETE", "/faults")
        converged = _converge(stack, cast, event_ids, result)
        lost = [r for r in races if _still_enrolled(r)]
        check = world.check_outlook(
            stack, cast.organizers, platform=False, app_client_id=stack.env["OUTLOOK_CLIENT_ID"]
        )
        stale = _stale_copies(stack, event_ids)
    result.details.update(check=check, lost=[r.email for r in lost], stale=stale)
    result.add(
        Figure.checked(
            "declines lost under faults and crashes",
            len(lost),
            f"of {len(races)}",
            "0",
            lambda v: v == 0,
        )
    )
    duplicates = check["written_twice_by_icaluid"] + check["written_twice_by_transaction_id"]
    result.add(Figure.checked("events written twice", duplicates, "", "0", lambda v: v == 0))
    result.add(
        Figure.checked(
            "stale copies (details or people)",
            len(stale) + check["wrong_attendee_lists"],
            "",
            "0",
            lambda v: v == 0,
        )
    )
    result.add(Figure("worker processes killed (SIGKILL)", kills.count))
    errors = sum(1 for status in load.statuses if status >= 500 and status != 503)
    result.add(
        Figure.checked(
            "web requests answered with a server error (not 503)",
            errors,
            f"of {len(load.statuses)}",
            "0",
            lambda v: v == 0,
        )
    )
    # One web process (10) and three workers (threads + 2 each), plus this harness (2).
    budget = WEB_POOL_SIZE + 3 * (threads + WORKER_POOL_EXTRA) + 2
    result.add(
        Figure.checked(
            "peak PostgreSQL connections",
            load.peak_connections,
            "",
            f"<= {budget} (of max_connections 100)",
            lambda v: v <= min(budget, 100),
        )
    )
    result.add(
        Figure.checked(
            "time from a worker's death to its work being taken over",
            round(max(kills.takeovers), 2) if kills.takeovers else None,
            "s",
            "<= 10 s",
            lambda v: v <= 10,
        )
    )
    if converged is not None:
        result.add(Figure("convergence after the faults stopped", round(converged, 2), "s"))
    return result


def _move(event_id: int) -> None:
    """The organizer moves the event by an hour (a time change clears answers in Outlook)."""
    from convene.events import services
    from convene.events.models import Event

    event = Event.objects.get(pk=event_id)
    details = services.EventDetails.of(event)
    services.update_event(
        event,
        services.EventDetails(
            **{
                **details.__dict__,
                "start": event.start + timedelta(hours=1),
                "end": event.end + timedelta(hours=1),
            }
        ),
        actor=None,
    )


def _decline(stack: Stack, race: Race) -> None:
    from convene.outlook.models import CalendarLink

    uid = CalendarLink.objects.get(event_id=race.event_id).ical_uid
    copy = next(
        item["id"]
        for item in stack.control("GET", f"/mailboxes/{race.email}/events")["value"]
        if item["iCalUId"] == uid
    )
    stack.control(
        "POST",
        f"/mailboxes/{race.email}/events/{copy}/respond",
        {"response": "decline", "comment": "Cannot come", "sendResponse": True},
    )
    race.declined_at = time.monotonic()


def _still_enrolled(race: Race) -> bool:
    from convene.events.models import Enrollment

    return Enrollment.objects.filter(event_id=race.event_id, user_id=race.user_id).exists()


def _kill_workers(
    stack: Stack, rounds: int, dice: random.Random, kills: Kills, event_ids: list[int]
) -> None:
    """``rounds`` times: an event is moved while its PATCH hangs (so a worker holds it), then
    workers are SIGKILLed in random order until the holder is dead (its lease is no longer
    renewed); then how long until another worker took the event over."""
    import signal

    from convene.outlook.models import CalendarLink

    for _ in range(rounds):
        time.sleep(dice.uniform(0.2, 1.0))
        event_id = dice.choice(event_ids)
        hang = {"endpoint": "graph", "method": "PATCH", "action": "delay", "delayMs": 8000}
        stack.control("POST", "/faults", {"rules": [{**hang, "count": 1}]})
        _move(event_id)
        link = CalendarLink.objects.filter(event_id=event_id)
        try:
            world.wait_until(
                lambda link=link: link.filter(lease_until__isnull=False).exists(),
                15,
                "a held event",
            )
        except TimeoutError:
            continue
        for number in dice.sample(range(len(stack.workers)), len(stack.workers)):
            before = link.values_list("lease_until", flat=True).get()
            if before is None:
                break  # done already
            stack.workers[number].send_signal(signal.SIGKILL)
            stack.workers[number].wait()
            died = time.monotonic()
            kills.count += 1
            stack.workers[number] = stack.start_worker(number)
            # A live holder renews within RENEW_SECONDS: unrenewed, it was this worker's.
            time.sleep(RENEW_SECONDS * 1.5)
            if link.values_list("lease_until", flat=True).get() != before:
                continue
            while time.monotonic() - died < 60:
                now = link.get()
                if now.lease_until != before or not now.is_behind:
                    kills.takeovers.append(time.monotonic() - died)
                    break
                _sweep()
                time.sleep(0.1)
            else:
                kills.takeovers.append(60.0)
            break


def _browse(client: Any, load: Load) -> None:
    """A person clicking through pages (the event list, their events) until told to stop."""
    pages = ["/", "/my-events/"]
    number = 0
    while not load.stop.is_set():
        try:
            load.statuses.append(client.get(pages[number % len(pages)]).status_code)
        except Exception:
            load.statuses.append(599)
        number += 1
        time.sleep(0.05)


def _count_connections(load: Load) -> None:
    """The most connections to Convene's database at once (sampled every 0.2 s)."""
    from django.db import connection

    while not load.stop.is_set():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
            (count,) = cursor.fetchone()
        load.peak_connections = max(load.peak_connections, int(count))
        time.sleep(0.2)
    connection.close()


def _sweep() -> None:
    """What the workers' sweep does every few seconds, from here as well."""
    from convene.outlook import tasks
    from convene.outlook.inbound import noted_changes
    from convene.outlook.outbound import queueing

    queueing.sweep(tasks.enqueue_sync)
    noted_changes.sweep(tasks.enqueue_reconcile)


def _converge(
    stack: Stack, cast: world.Cast, event_ids: list[int], result: Scenario
) -> float | None:
    """Wait until every event is synced and every change read; a delta read of each mailbox
    (the periodic safety net) finds declines whose notification was lost. Seconds, or None."""
    from convene.outlook import tasks
    from convene.outlook.inbound import delta
    from convene.outlook.models import NotedChange

    started = time.monotonic()
    deadline = started + 180
    while time.monotonic() < deadline:
        _sweep()
        for mailbox in cast.organizers:
            try:
                delta.read(mailbox, tasks.enqueue_sync, tasks.reconcile_later)
            except Exception as exc:  # a fault still in flight: the next round reads again
                result.notes.append(f"delta read of {mailbox}: {exc}")
        if world.synced_count(event_ids) >= len(event_ids) and not NotedChange.objects.exists():
            return time.monotonic() - started
        time.sleep(1.0)
    result.notes.append(f"not converged: {world.synced_count(event_ids)} of {len(event_ids)}")
    return None


def _stale_copies(stack: Stack, event_ids: list[int]) -> list[int]:
    """Events whose organizer copy differs from what Convene holds now (any owned property)."""
    from convene.events.models import Event
    from convene.outlook.microsoft import mapping
    from convene.outlook.models import CalendarLink
    from convene.outlook.outbound.snapshots import event_snapshot

    stale = []
    for link in CalendarLink.objects.filter(event_id__in=event_ids).select_related("event"):
        event: Event = link.event
        copy: dict[str, Any] = stack.control(
            "GET", f"/mailboxes/{link.owner_mailbox}/events/{link.graph_id}"
        )
        desired = mapping.event_payload(event_snapshot(event, link.owner_mailbox, platform=False))
        if mapping.drifted_properties(desired, copy):
            stale.append(event.pk)
    return stale
