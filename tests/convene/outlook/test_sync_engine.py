"""Sync engine guarantees: bursts coalesce, nothing is lost when queueing fails."""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from huey.storage import RedisStorage

from convene.accounts.models import Role, User
from convene.events import services
from convene.outlook import tasks
from convene.outlook.microsoft import identity
from convene.outlook.models import CalendarLink
from convene.outlook.outbound import push, queueing

from .conftest import OutlookWorld
from .test_connect_and_sync import ADA, ALAN, create_event, update


def writes(outlook: OutlookWorld) -> int:
    by_operation: dict[str, int] = outlook.stats()["requests"]["byOperation"]
    return sum(n for op, n in by_operation.items() if op in ("events.create", "events.update"))


def fans(count: int) -> list[User]:
    """Regular users who are about to enroll all at once."""
    return [
        User.objects.create_user(
            f"fan{n}@fabrikam.test", "x", display_name=f"Fan {n}", role=Role.REGULAR
        )
        for n in range(count)
    ]


def test_a_burst_of_enrollments_becomes_a_few_requests_with_the_exact_list(
    outlook: OutlookWorld, settings: Any
) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    outlook.wait_synced(event.pk)
    settings.OUTLOOK_COALESCE_SECONDS = 1.0
    before = writes(outlook)
    crowd = fans(30)

    for person in crowd:
        services.enroll(event, person, actor=None)

    outlook.wait_synced(event.pk, timeout=30)
    (copy,) = outlook.mailbox(ADA)
    assert {a["emailAddress"]["address"] for a in copy["attendees"]} == {p.email for p in crowd}
    assert writes(outlook) - before <= 3


def test_enrollments_that_keep_arriving_during_pushes_wait_out_the_coalescing_delay(
    outlook: OutlookWorld, settings: Any
) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    outlook.wait_synced(event.pk)
    settings.OUTLOOK_COALESCE_SECONDS = 1.0
    before = writes(outlook)
    crowd = fans(40)

    # Microsoft's own latency, and one enrollment every 75 ms for 3 s: more keep coming
    # while each push is in flight.
    outlook.emulator.control("POST", "/config", {"latency_ms": 150}).raise_for_status()
    started = time.monotonic()
    for number, person in enumerate(crowd):
        time.sleep(max(0.0, started + number * 0.075 - time.monotonic()))
        services.enroll(event, person, actor=None)

    outlook.wait_synced(event.pk, timeout=30)
    outlook.emulator.control("POST", "/config", {"latency_ms": 0}).raise_for_status()
    (copy,) = outlook.mailbox(ADA)
    assert {a["emailAddress"]["address"] for a in copy["attendees"]} == {p.email for p in crowd}
    # About one push per coalescing delay, not one after another while changes keep coming.
    assert writes(outlook) - before <= 5


def test_a_change_whose_task_was_never_queued_is_synced_by_the_sweep(
    outlook: OutlookWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    outlook.wait_synced(event.pk)

    def queue_down(event_id: int, delay: float) -> None:
        raise ConnectionError("queue unavailable")

    monkeypatch.setattr(tasks, "enqueue_sync", queue_down)
    update(event, title="Saved while the queue was down")  # saves fine for the person
    monkeypatch.undo()
    link = CalendarLink.objects.get(event=event)
    assert link.is_behind and link.queued_at is None

    assert queueing.sweep(tasks.enqueue_sync) == 1

    outlook.wait_synced(event.pk)
    (copy,) = outlook.mailbox(ADA)
    assert copy["subject"] == "Saved while the queue was down"


def test_a_change_lost_between_commit_and_queue_is_found_by_the_sweep(
    outlook: OutlookWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    outlook.wait_synced(event.pk)
    # The web process dies after the commit, before its on-commit hook queues anything.
    monkeypatch.setattr(tasks, "enqueue_sync", lambda event_id, delay: None)
    services.enroll(event, outlook.people[ALAN], actor=None)
    monkeypatch.undo()
    link = CalendarLink.objects.get(event=event)
    assert link.is_behind
    # The queued mark of the lost task keeps the sweep off it for a while, then it is stale.
    CalendarLink.objects.filter(pk=link.pk).update(queued_at=timezone.now() - timedelta(minutes=10))

    queueing.sweep(tasks.enqueue_sync)

    outlook.wait_synced(event.pk)
    (copy,) = outlook.mailbox(ADA)
    assert [a["emailAddress"]["address"] for a in copy["attendees"]] == [ALAN]


def test_switching_off_stops_sync_and_on_again_sends_only_what_changed(
    outlook: OutlookWorld,
) -> None:
    from convene.outlook.models import OutlookSettings

    outlook.connect(ADA)
    event = create_event(outlook)
    outlook.wait_synced(event.pk)
    OutlookSettings.objects.update(enabled=False)
    update(event, title="Changed while off")
    before = writes(outlook)

    OutlookSettings.objects.update(enabled=True)
    queueing.track_all_events(tasks.enqueue_sync)

    outlook.wait_synced(event.pk)
    assert writes(outlook) - before == 1
    (copy,) = outlook.mailbox(ADA)
    assert copy["subject"] == "Changed while off"


def test_changes_made_while_the_sqlite_queue_is_locked_reach_outlook_afterwards(
    outlook: OutlookWorld, tmp_path: Path
) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    outlook.wait_synced(event.pk)
    queue_file = HUEY.storage.filename
    locker = sqlite3.connect(queue_file, timeout=0)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        update(event, title="Saved while the queue file was locked")
    finally:
        locker.rollback()
        locker.close()
    assert CalendarLink.objects.get(event=event).is_behind

    queueing.sweep(tasks.enqueue_sync)

    outlook.wait_synced(event.pk)
    (copy,) = outlook.mailbox(ADA)
    assert copy["subject"] == "Saved while the queue file was locked"


def test_changes_made_while_redis_is_down_reach_outlook_once_it_is_back(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    outlook.wait_synced(event.pk)
    working_queue = HUEY.storage
    HUEY.storage = RedisStorage(HUEY.name, url="redis://127.0.0.1:1/0")  # nothing listens there
    try:
        services.enroll(event, outlook.people[ALAN], actor=None)
    finally:
        HUEY.storage = working_queue
    assert CalendarLink.objects.get(event=event).is_behind

    queueing.sweep(tasks.enqueue_sync)

    outlook.wait_synced(event.pk)
    (copy,) = outlook.mailbox(ADA)
    assert [a["emailAddress"]["address"] for a in copy["attendees"]] == [ALAN]


def test_an_access_token_is_reused_across_syncs_until_shortly_before_it_expires(
    outlook: OutlookWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    outlook.connect(ADA)
    asked: list[bool] = []
    real = identity.delegated_token

    def counted(*args: Any, **kwargs: Any) -> identity.DelegatedToken:
        asked.append(kwargs.get("force_refresh", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(identity, "delegated_token", counted)

    for _ in range(3):
        outlook.wait_synced(create_event(outlook).pk)

    # Once for the first sync; the two later syncs use the token this process kept.
    assert asked == [False]


def test_a_single_change_to_a_quiet_event_goes_out_without_waiting_for_more(
    outlook: OutlookWorld, settings: Any
) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    outlook.wait_synced(event.pk)
    settings.OUTLOOK_COALESCE_SECONDS = 5.0
    # Quiet: the last push is longer ago than the coalescing delay.
    CalendarLink.objects.filter(event=event).update(
        last_synced_at=timezone.now() - timedelta(seconds=10)
    )

    started = time.monotonic()
    update(event, title="Compilers night, moved")
    outlook.wait_until(
        lambda: outlook.mailbox(ADA)[0]["subject"] == "Compilers night, moved", timeout=15
    )

    assert time.monotonic() - started < 3.0  # not the 5 s a burst waits for more changes


def test_a_task_turned_away_just_as_the_lease_is_given_back_still_gets_the_change_out(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder gives the lease back and looks for changes behind it in the instant between
    the queued task's failed lease and its next statement (seen once as a stalled event)."""
    organizer = User.objects.create_user("o@contoso.test", "x", role=Role.ORGANIZER)
    start = timezone.now() + timedelta(days=3)
    event = services.create_event(
        services.EventDetails(
            title="Raced", start=start, end=start + timedelta(hours=1), timezone="UTC"
        ),
        creator=organizer,
    )
    now = timezone.now()
    link = CalendarLink.objects.create(
        event=event,
        desired_version=2,
        synced_version=1,
        state="synced",
        next_attempt_at=now,
        queued_at=now,  # this task is queued ...
        lease_until=now + timedelta(minutes=1),  # ... while another worker pushes
    )
    queued: list[int] = []
    pushed: list[int] = []
    monkeypatch.setattr(push, "_push_once", lambda event_id, *rest: pushed.append(event_id))
    holder_finished: list[bool] = []

    def holder_finishes_after_the_first_statement(execute: Any, sql: str, *args: Any) -> Any:
        result = execute(sql, *args)
        if not holder_finished and sql.lstrip().upper().startswith("UPDATE"):
            holder_finished.append(True)
            CalendarLink.objects.filter(pk=link.pk).update(lease_until=None)
            queueing.queue_behind([link.pk], lambda event_id, delay: queued.append(event_id))
        return result

    with connection.execute_wrapper(holder_finishes_after_the_first_statement):
        push.sync_event(event.pk, lambda event_id, delay: queued.append(event_id))

    assert holder_finished
    assert queued or pushed, "the change was left behind with no task to send it"


def test_a_sync_is_one_line_at_info_and_routine_library_lines_stay_at_debug(
    outlook: OutlookWorld, caplog: pytest.LogCaptureFixture
) -> None:
    outlook.connect(ADA)
    with caplog.at_level("INFO"):
        event = create_event(outlook)
        outlook.wait_synced(event.pk)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert lines == [f"Outlook create of event {event.pk} in {ADA}: done"]
    for library in ("huey", "httpx", "httpcore", "msal"):
        assert logging.getLogger(library).getEffectiveLevel() == logging.WARNING
