"""A real worker process (``manage.py run_huey``) writes its heartbeat; killed, /readyz fails
within the stale time (a minute by default) and the admins are alerted once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from convene.accounts.models import Role, User
from convene.core.models import Notice
from convene.operations import alerts, heartbeat
from convene.operations.models import AdminAlert

REPOSITORY = Path(__file__).resolve().parents[3]
STALE_SECONDS = 3


def database_url() -> str:
    config = connection.settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    host = config.get("HOST") or "127.0.0.1"
    return f"postgres://{config['USER']}@{host}:{config.get('PORT') or 5432}/{config['NAME']}"


@pytest.fixture
def start_worker(transactional_db: None, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CONVENE_VAR_DIR": str(tmp_path),
        "HUEY_REDIS_URL": "",
        "CONVENE_HEARTBEAT_SECONDS": "0.5",
        "LOG_LEVEL": "WARNING",
    }
    running: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, str(REPOSITORY / "manage.py"), "run_huey", "--workers", "1"],
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


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds it took ``condition`` to hold."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not true after {timeout}s"
        time.sleep(0.2)
    return time.monotonic() - started


def test_a_killed_worker_fails_readyz_within_the_stale_time_and_alerts_once(
    start_worker: Callable[[], Any], settings: Any, mailoutbox: list[Any]
) -> None:
    settings.CONVENE_WORKER_STALE_SECONDS = STALE_SECONDS
    admin = User.objects.create_user("boss@example.test", "pw", role=Role.ADMIN)
    probe = Client()
    worker = start_worker()
    wait_for(lambda: probe.get("/readyz").status_code == 200, timeout=60)
    # Count from here: probes before the worker's first beat raised the alert already.
    AdminAlert.objects.all().delete()
    Notice.objects.all().delete()
    mailoutbox.clear()
    # The periodic tasks ran lately too (the scheduler's minute may not have come yet).
    heartbeat.beat(heartbeat.PERIODIC_TASKS)

    worker.send_signal(signal.SIGKILL)
    worker.wait()
    took = wait_for(lambda: probe.get("/readyz").status_code == 503, timeout=60)
    for _ in range(3):  # the load balancer keeps asking; the periodic check runs too
        assert probe.get("/readyz").status_code == 503
        alerts.evaluate()

    assert took <= STALE_SECONDS + 1
    assert AdminAlert.objects.filter(key=alerts.NO_WORKER).count() == 1
    assert Notice.objects.filter(user=admin).count() == 1
    assert [mail.subject for mail in mailoutbox] == [
        "Convene: No Convene worker has been seen for 1 minute"
    ]


def test_the_no_worker_alert_clears_when_a_worker_is_back(
    start_worker: Callable[[], Any], settings: Any
) -> None:
    settings.CONVENE_WORKER_STALE_SECONDS = STALE_SECONDS
    probe = Client()
    assert probe.get("/readyz").status_code == 503  # none started yet: alert raised

    start_worker()
    wait_for(lambda: probe.get("/readyz").status_code == 200, timeout=60)
    alerts.evaluate()

    alert = AdminAlert.objects.get(key=alerts.NO_WORKER)
    assert alert.cleared_at is not None
