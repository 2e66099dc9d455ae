"""Many events of one mailbox due at once go out as JSON batches of 20, each request's outcome
handled as if it had been sent alone."""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta
from typing import Any

from django.utils import timezone

from convene.events.models import Event
from convene.outlook import tasks
from convene.outlook.models import CalendarLink, LinkState, OutlookSettings, SyncLogEntry
from convene.outlook.outbound import sync

from .conftest import OutlookWorld
from .test_connect_and_sync import ADA, ALAN, EDSGER, GRACE

ATTENDEES = (ALAN, EDSGER)


def all_synced(events: list[Event]) -> bool:
    links = list(CalendarLink.objects.filter(event__in=events))
    return len(links) == len(events) and all(
        link.state == LinkState.SYNCED and not link.is_behind for link in links
    )


def assert_mailbox_holds_exactly(
    outlook: OutlookWorld, organizer: str, events: list[Event]
) -> None:
    copies = [e for e in outlook.mailbox(organizer) if not e["isCancelled"]]
    assert max(Counter(e["iCalUId"] for e in copies).values()) == 1, "written twice (iCalUId)"
    assert max(Counter(e.get("transactionId") for e in copies).values()) == 1, (
        "written twice (transactionId)"
    )
    assert sorted(e["subject"] for e in copies) == sorted(e.title for e in events)
    for copy in copies:
        assert {a["emailAddress"]["address"] for a in copy["attendees"]} == set(ATTENDEES)


def backfill(outlook: OutlookWorld, sizes: dict[str, int]) -> dict[str, list[Event]]:
    """Events made while the integration is off, then switched on."""
    for organizer in sizes:
        outlook.connect(organizer)
    OutlookSettings.objects.update(enabled=False)
    events = {
        organizer: outlook.make_events(organizer, n, ATTENDEES) for organizer, n in sizes.items()
    }
    OutlookSettings.objects.update(enabled=True)
    outlook.emulator.control("POST", "/stats/reset").raise_for_status()
    sync.track_all_events(tasks.enqueue_sync)
    return events


def test_a_backfill_goes_out_in_batches_of_twenty_per_mailbox(outlook: OutlookWorld) -> None:
    sizes = {ADA: 25, GRACE: 45}
    events = backfill(outlook, sizes)
    everything = [e for per_organizer in events.values() for e in per_organizer]
    outlook.wait_until(lambda: all_synced(everything), timeout=60)

    stats = outlook.stats()
    assert stats["batches"]["byMailbox"] == {
        organizer: math.ceil(n / 20) for organizer, n in sizes.items()
    }
    assert stats["requests"]["byOperation"]["batch"] == sum(
        math.ceil(n / 20) for n in sizes.values()
    )
    # Every create went in a batch, none of them twice.
    assert stats["requests"]["byOperation"]["events.create"] == sum(sizes.values())
    for organizer, made in events.items():
        assert_mailbox_holds_exactly(outlook, organizer, made)
    assert max(entry["maxConcurrent"] for entry in stats["maxConcurrency"]) <= 4
    logged = SyncLogEntry.objects.filter(kind="graph", action="create", status="ok")
    assert logged.count() == sum(sizes.values())
    assert all(entry.details.get("batched") for entry in logged)


def test_batched_requests_throttled_one_by_one_are_retried_until_exact(
    outlook: OutlookWorld,
) -> None:
    # Outlook's request window, shrunk: most of each batch is answered 429 with Retry-After.
    outlook.emulator.control(
        "POST", "/config", {"mailbox_requests_per_window": 8, "mailbox_window_seconds": 1}
    ).raise_for_status()
    events = backfill(outlook, {ADA: 30})[ADA]
    outlook.wait_until(lambda: all_synced(events), timeout=90)

    stats = outlook.stats()
    assert stats["batches"]["byMailbox"][ADA] >= 2
    assert stats["throttled"]["byMailbox"].get(ADA, 0) > 0, "nothing was throttled"
    assert SyncLogEntry.objects.filter(action="retry_later").exists()
    assert_mailbox_holds_exactly(outlook, ADA, events)


def test_each_batched_request_keeps_its_own_outcome(outlook: OutlookWorld) -> None:
    events = backfill(outlook, {ADA: 6})[ADA]
    outlook.wait_until(lambda: all_synced(events), timeout=30)
    gone = CalendarLink.objects.get(event=events[0])
    outlook.emulator.control(
        "DELETE", f"/mailboxes/{ADA}/events/{gone.graph_id}"
    ).raise_for_status()

    # Changed while switched off; switching on sends the updates as one batch.
    OutlookSettings.objects.update(enabled=False)
    Event.objects.filter(pk__in=[e.pk for e in events]).update(location="Room 101")
    OutlookSettings.objects.update(enabled=True)
    outlook.emulator.control("POST", "/stats/reset").raise_for_status()
    sync.track_all_events(tasks.enqueue_sync)

    rest = events[1:]
    outlook.wait_until(lambda: all_synced(rest), timeout=30)
    outlook.wait_until(
        lambda: CalendarLink.objects.get(pk=gone.pk).state == LinkState.DELETED_IN_OUTLOOK
    )
    assert outlook.stats()["batches"]["byMailbox"] == {ADA: 1}
    for copy in outlook.mailbox(ADA):
        assert copy["location"]["displayName"] == "Room 101"


def test_a_link_leased_by_another_worker_is_left_to_it(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    OutlookSettings.objects.update(enabled=False)
    events = outlook.make_events(ADA, 4, ATTENDEES)
    OutlookSettings.objects.update(enabled=True)
    sync.track_all_events(lambda event_id, delay: None)  # links made and due, nothing queued
    busy = CalendarLink.objects.get(event=events[0])
    CalendarLink.objects.filter(pk=busy.pk).update(
        lease_until=timezone.now() + timedelta(minutes=1)
    )
    queued: list[Any] = []

    sync.sync_events([e.pk for e in events], lambda event_id, delay: queued.append(event_id))

    assert all_synced(events[1:])
    assert CalendarLink.objects.get(pk=busy.pk).is_behind
    assert len(outlook.mailbox(ADA)) == 3
    assert outlook.stats()["batches"]["byMailbox"] == {ADA: 1}


def test_a_long_queue_goes_out_as_ordered_batches_and_what_they_did_not_run_goes_again(
    outlook: OutlookWorld,
) -> None:
    # The one create that fails makes its ordered batch skip the rest (424 Failed Dependency).
    outlook.emulator.control(
        "POST",
        "/faults",
        {"rules": [{"method": "POST", "path": "events$", "status": 503, "count": 1}]},
    ).raise_for_status()
    events = backfill(outlook, {ADA: sync.ORDERED_FROM})[ADA]
    outlook.wait_until(lambda: all_synced(events), timeout=60)

    assert_mailbox_holds_exactly(outlook, ADA, events)
    stats = outlook.stats()
    assert max(entry["maxConcurrent"] for entry in stats["maxConcurrency"]) <= 4
    skipped = SyncLogEntry.objects.filter(kind="graph", action="create", status="424")
    assert skipped.count() == 19, "the rest of the failed request's batch was not run"
    # Only the request that failed counts as an attempt and waits; the skipped ones went again
    # at once.
    assert SyncLogEntry.objects.filter(action="retry_later").count() == 1
    # Outlook created each event once (the failed request was refused before it got there).
    assert stats["requests"]["byOperation"]["events.create"] == sync.ORDERED_FROM


class RecordingQueue:
    """A queue that takes batches, and only notes what it was given."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, bool]] = []

    def __call__(self, event_id: int, delay: float) -> None:
        self.batches.append((1, False))

    def many(self, event_ids: list[int], ordered: bool = False) -> None:
        self.batches.append((len(event_ids), ordered))


def test_only_a_mailbox_with_a_long_queue_gets_ordered_batches(
    outlook_without_worker: OutlookWorld,
) -> None:
    outlook = outlook_without_worker
    OutlookSettings.objects.update(enabled=False)
    outlook.make_events(ADA, sync.ORDERED_FROM, ATTENDEES)
    outlook.make_events(GRACE, sync.ORDERED_FROM - 1, ATTENDEES)
    OutlookSettings.objects.update(enabled=True)
    queue = RecordingQueue()

    sync.track_all_events(queue)

    assert sorted(queue.batches) == sorted([(20, True)] * 4 + [(20, False)] * 3 + [(19, False)])
