"""Crashes and faults lose nothing and duplicate nothing (reduced sizes; `make bench` runs the
full-size versions)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from benchmarks.crashes import kill_and_restart
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from huey.storage import SqliteStorage

from convene.events.models import Event
from convene.outlook import tasks
from convene.outlook.models import CalendarLink, LinkState, OutlookSettings
from convene.outlook.outbound import queueing

from .conftest import OutlookWorld
from .test_connect_and_sync import ADA, ALAN, BARBARA, EDSGER

ATTENDEES = (ALAN, EDSGER, BARBARA)
REPOSITORY = Path(__file__).resolve().parents[3]


def assert_outlook_holds_exactly(outlook: OutlookWorld, events: list[Event]) -> None:
    organizer_copies = [e for e in outlook.mailbox(ADA) if not e["isCancelled"]]
    by_uid = Counter(e["iCalUId"] for e in organizer_copies)
    by_transaction = Counter(e.get("transactionId") for e in organizer_copies)
    assert max(by_uid.values()) == 1, "an event was written twice (by iCalUId)"
    assert max(by_transaction.values()) == 1, "an event was written twice (by transactionId)"
    assert sorted(e["subject"] for e in organizer_copies) == sorted(e.title for e in events)
    for copy in organizer_copies:
        assert {a["emailAddress"]["address"] for a in copy["attendees"]} == set(ATTENDEES)
    for email in ATTENDEES:
        invitations = Counter(e["iCalUId"] for e in outlook.mailbox(email))
        assert set(invitations) == set(by_uid), f"{email} misses an invitation"
        assert max(invitations.values()) == 1, f"{email} got an invitation twice"


def all_synced(events: list[Event]) -> bool:
    links = CalendarLink.objects.filter(event__in=events)
    return links.count() == len(events) and all(
        link.state == LinkState.SYNCED and not link.is_behind for link in links
    )


def test_random_faults_on_a_fifth_of_requests_still_converge_without_duplicates(
    outlook: OutlookWorld, settings: Any
) -> None:
    settings.OUTLOOK_HTTP_TIMEOUT_SECONDS = 1.5
    outlook.connect(ADA)
    OutlookSettings.objects.update(enabled=False)
    events = outlook.make_events(ADA, 12, ATTENDEES)
    # Expired access tokens send every worker to the token endpoint, where faults wait too.
    outlook.emulator.advance_clock(2 * 3600)
    faults = [
        {"endpoint": "graph", "status": 429, "headers": {"Retry-After": "1"}, "ratio": 0.04},
        {"endpoint": "graph", "status": 429, "ratio": 0.03},
        {"endpoint": "graph", "status": 500, "ratio": 0.03},
        {"endpoint": "graph", "status": 503, "headers": {"Retry-After": "1"}, "ratio": 0.03},
        {"endpoint": "graph", "status": 504, "ratio": 0.03},
        {"endpoint": "graph", "action": "timeout", "timeoutSeconds": 3, "ratio": 0.02},
        {"endpoint": "graph", "action": "drop", "ratio": 0.03},
        {"endpoint": "token", "status": 503, "ratio": 0.1},
        {"endpoint": "token", "action": "drop", "ratio": 0.1},
    ]
    for number, rule in enumerate(faults):
        rule["seed"] = number
    outlook.emulator.control("POST", "/faults", {"rules": faults}).raise_for_status()

    OutlookSettings.objects.update(enabled=True)
    queueing.track_all_events(tasks.enqueue_sync)
    deadline = time.monotonic() + 120
    while not all_synced(events):
        assert time.monotonic() < deadline, "sync did not converge"
        # The periodic sweep, sped up: retries that back off are due sooner or later.
        CalendarLink.objects.filter(state__in=["pending", "failing"]).update(
            next_attempt_at=timezone.now()
        )
        queueing.sweep(tasks.enqueue_sync)
        time.sleep(1)

    fired = sum(
        rule["fired"] for rule in outlook.emulator.control("GET", "/faults").json()["rules"]
    )
    assert fired > 0, "the faults never fired"
    assert_outlook_holds_exactly(outlook, events)


@pytest.fixture
def worker_process(
    outlook_without_worker: OutlookWorld, tmp_path: Path, settings: Any, request: Any
) -> Any:
    """Start (and restart) `manage.py run_huey` as a separate process sharing our database and
    queue, so it can be killed for real. Its lease is 3 s unless the test asks for another
    (``indirect`` parameter: the lease in seconds)."""
    queue = tmp_path / "huey.sqlite3"
    HUEY.immediate = False
    real_storage = HUEY.storage
    HUEY.storage = SqliteStorage(HUEY.name, filename=str(queue))
    lease = float(getattr(request, "param", 3))
    settings.OUTLOOK_LEASE_SECONDS = lease
    settings.OUTLOOK_LEASE_RENEW_SECONDS = lease / 3
    outlook_settings = django_settings.OUTLOOK
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CONVENE_VAR_DIR": str(tmp_path),
        "HUEY_REDIS_URL": "",
        "OUTLOOK_CLIENT_ID": outlook_settings["client_id"],
        "OUTLOOK_CLIENT_SECRET": outlook_settings["client_secret"],
        "OUTLOOK_AUTHORITY_HOST": outlook_settings["authority_host"],
        "OUTLOOK_GRAPH_URL": outlook_settings["graph_url"],
        "OUTLOOK_CA_BUNDLE": outlook_settings["ca_bundle"],
        "CONVENE_PUBLIC_URL": outlook_settings["public_url"],
        "OUTLOOK_TOKEN_KEYS": ",".join(django_settings.OUTLOOK_TOKEN_KEYS),
        "OUTLOOK_COALESCE_SECONDS": "0",
        "OUTLOOK_LEASE_SECONDS": str(lease),
        "LOG_LEVEL": "WARNING",
    }
    running: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [
                sys.executable,
                str(REPOSITORY / "manage.py"),
                "run_huey",
                "--workers",
                "4",
                "--no-periodic",
            ],
            env=environment,
            stdout=subprocess.DEVNULL,
        )
        running.append(process)
        return process

    yield start
    for process in running:
        if process.poll() is None:
            process.kill()
            process.wait()
    HUEY.storage = real_storage


def database_url() -> str:
    config = connection.settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    host = config.get("HOST") or "127.0.0.1"
    return f"postgres://{config['USER']}@{host}:{config.get('PORT') or 5432}/{config['NAME']}"


def test_a_worker_killed_ten_times_during_a_backfill_leaves_exactly_the_desired_events(
    outlook_without_worker: OutlookWorld, worker_process: Any
) -> None:
    outlook = outlook_without_worker
    outlook.connect(ADA)
    # Slow answers keep requests in flight, so kills land mid-request too.
    outlook.emulator.control("POST", "/config", {"latency_ms": 40}).raise_for_status()
    OutlookSettings.objects.update(enabled=False)
    # A long queue: it goes out as ordered batches, four at a time.
    events = outlook.make_events(ADA, queueing.ORDERED_FROM, ATTENDEES)
    OutlookSettings.objects.update(enabled=True)
    queueing.track_all_events(tasks.enqueue_sync)
    dice = random.Random(20261123)

    kill_and_restart(worker_process(), worker_process, kills=10, dice=dice, between=(0.3, 1.2))

    deadline = time.monotonic() + 120
    while not all_synced(events):
        assert time.monotonic() < deadline, "the backfill did not finish after the crashes"
        queueing.sweep(tasks.enqueue_sync)
        time.sleep(1)
    assert_outlook_holds_exactly(outlook, events)
