"""A worker that dies gives up its work within one short lease (issue 22, item 2).

Leases are short (``OUTLOOK_LEASE_SECONDS``) and renewed by the worker holding them while its
work runs (``convene.outlook.leases``): a slow request keeps its lease, a killed worker's lease
runs out in seconds, and the sweep hands the work to another worker. (Before, a group held by a
killed worker waited for a fixed 120 s lease.)
"""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest
from django.utils import timezone

from convene.outlook import leases, links, tasks
from convene.outlook.models import CalendarLink, OutlookSettings
from convene.outlook.outbound import queueing

from .conftest import OutlookWorld
from .test_connect_and_sync import ADA
from .test_resilience import (
    ATTENDEES,
    all_synced,
    assert_outlook_holds_exactly,
    worker_process,
)

__all__ = ["worker_process"]

LEASE = 3.0


def test_a_lease_is_kept_while_its_work_runs_and_only_then(
    outlook_without_worker: OutlookWorld, settings: Any
) -> None:
    settings.OUTLOOK_LEASE_SECONDS = 2.0
    settings.OUTLOOK_LEASE_RENEW_SECONDS = 0.3
    OutlookSettings.objects.update(enabled=False)
    (event,) = outlook_without_worker.make_events(ADA, 1, [])
    link = CalendarLink.objects.create(event=event, mode="organizer")
    assert links.take_lease(link.pk)

    with links.leases_kept([link.pk]):
        time.sleep(4.0)  # twice the lease: the renewer kept it
        assert not links.take_lease(link.pk)
    time.sleep(2.5)  # nobody renews it now: it runs out
    assert links.take_lease(link.pk)
    assert leases.renew_held() == 0


@pytest.mark.parametrize("worker_process", [LEASE], indirect=True)
def test_a_group_held_by_a_killed_worker_is_taken_over_within_seconds(
    outlook_without_worker: OutlookWorld, worker_process: Any
) -> None:
    outlook = outlook_without_worker
    outlook.connect(ADA)
    OutlookSettings.objects.update(enabled=False)
    events = outlook.make_events(ADA, 5, ATTENDEES)
    # The group's batch hangs well past the lease (then Outlook carries it out anyway).
    outlook.emulator.control(
        "POST",
        "/faults",
        {
            "rules": [
                {
                    "endpoint": "graph",
                    "path": "batch$",
                    "action": "delay",
                    "delayMs": 12_000,
                    "count": 1,
                }
            ]
        },
    ).raise_for_status()
    first = worker_process()
    OutlookSettings.objects.update(enabled=True)
    queueing.track_all_events(tasks.enqueue_sync)
    group = CalendarLink.objects.filter(event__in=events)
    outlook.wait_until(lambda: group.filter(lease_until__isnull=False).count() == len(events))

    time.sleep(2 * LEASE)  # the request is still in flight: its worker renews the leases
    assert group.filter(lease_until__gt=timezone.now()).count() == len(events)
    first.send_signal(signal.SIGKILL)
    first.wait()
    died = time.monotonic()
    worker_process()

    while not all_synced(events):
        assert time.monotonic() - died < 10 * LEASE, "the group was not taken over"
        queueing.sweep(tasks.enqueue_sync)  # what the worker's sweep does every few seconds
        time.sleep(0.2)
    taken_over = time.monotonic() - died
    print(f"taken over {taken_over:.1f} s after the worker died (lease {LEASE:.0f} s)")
    # Within one lease, a sweep and the group's own requests; not a fixed long lease.
    assert taken_over < 4 * LEASE
    assert_outlook_holds_exactly(outlook, events)
