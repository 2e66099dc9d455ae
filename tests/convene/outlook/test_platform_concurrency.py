"""Platform mode concentrates every request on one mailbox: several worker *processes* syncing
hundreds of events together never have more than 4 requests in flight on it."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from convene.events import services
from convene.outlook import tasks
from convene.outlook.mailboxes.limits import CONCURRENCY
from convene.outlook.mailboxes.platform import _app_tokens as app_tokens_cache
from convene.outlook.models import CalendarLink, LinkState, Mode, OutlookSettings
from convene.outlook.outbound import sync

from .conftest import OutlookWorld
from .test_connect_and_sync import ADA, ALAN, BARBARA
from .test_platform import SERVICE, platform_seed
from .test_resilience import worker_process  # noqa: F401 (a fixture)

EVENTS = 240
WORKER_PROCESSES = 3


def test_several_worker_processes_never_exceed_four_requests_on_the_service_mailbox(
    outlook_without_worker: OutlookWorld,
    worker_process: Any,  # noqa: F811
) -> None:
    outlook = outlook_without_worker
    app_tokens_cache.clear()
    outlook.emulator.reset(platform_seed(consented=True))
    # The emulator would answer a fifth request with 429; with its throttling off, a fifth
    # request would be served and show up in its statistics instead.
    outlook.emulator.control("POST", "/config", {"throttling": False}).raise_for_status()
    # Each request holds its slot ~25 ms, so there are always requests in flight to collide.
    outlook.emulator.control("POST", "/graph/settings", {"processingMs": 25}).raise_for_status()
    OutlookSettings.objects.filter(pk=1).update(
        enabled=False, mode=Mode.PLATFORM, service_mailbox=SERVICE
    )
    events = outlook.make_events(ADA, EVENTS, [ALAN])
    services.enroll(events[0], outlook.people[BARBARA], actor=None)
    OutlookSettings.objects.filter(pk=1).update(enabled=True)

    for _ in range(WORKER_PROCESSES):
        worker_process()
    sync.track_all_events(tasks.enqueue_sync)
    deadline = time.monotonic() + 50
    while CalendarLink.objects.filter(state=LinkState.SYNCED).count() < EVENTS:
        assert time.monotonic() < deadline, "the workers did not sync every event in time"
        time.sleep(0.5)

    stats = outlook.stats()
    (service,) = [m for m in stats["maxConcurrency"] if m["mailbox"] == SERVICE]
    assert service["maxConcurrent"] <= CONCURRENCY
    assert service["maxConcurrent"] == CONCURRENCY, "the workers never even reached the limit"
    copies = Counter(e["iCalUId"] for e in outlook.mailbox(SERVICE))
    assert len(copies) == EVENTS and max(copies.values()) == 1
    assert stats["requests"]["byMailbox"][SERVICE] == EVENTS
