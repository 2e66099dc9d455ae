"""/healthz and /readyz: JSON, no session, cheap; readyz wants a worker seen within a minute."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from convene.core.models import Notice
from convene.operations import heartbeat
from convene.operations.models import AdminAlert, WorkerHeartbeat

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_the_database(
    client: Client, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert not response.cookies, "a probe gets no session or CSRF cookie"


def test_readyz_is_ready_with_a_worker_seen_within_the_last_minute(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    heartbeat.beat("host:1")
    heartbeat.beat(heartbeat.PERIODIC_TASKS)

    with django_assert_max_num_queries(3):
        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "queue": "ok", "workers": "ok"},
    }
    assert not response.cookies


def test_readyz_is_unavailable_when_the_last_heartbeat_is_older_than_a_minute(
    client: Client,
) -> None:
    WorkerHeartbeat.objects.create(worker="host:1", seen_at=timezone.now() - timedelta(seconds=61))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["workers"] == "none seen"


def test_readyz_without_a_worker_alerts_the_admins_once(
    client: Client, admin_user: Any, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            assert client.get("/readyz").status_code == 503

    assert AdminAlert.objects.filter(cleared_at__isnull=True).count() == 1
    (notice,) = Notice.objects.filter(user=admin_user)
    assert "No Convene worker" in notice.text and "systemctl start" in notice.text
    assert len(mailoutbox) == 1


def test_workers_without_periodic_tasks_alert_the_admins_that_the_scheduler_stopped(
    client: Client, admin_user: Any
) -> None:
    heartbeat.beat("host:1")
    WorkerHeartbeat.objects.create(
        worker=heartbeat.PERIODIC_TASKS, seen_at=timezone.now() - timedelta(minutes=4)
    )

    for _ in range(3):
        assert client.get("/readyz").status_code == 200

    (alert,) = AdminAlert.objects.all()
    assert alert.key == "operations.no_periodic_tasks"
    (notice,) = Notice.objects.filter(user=admin_user)
    assert "convene-scheduler" in notice.text


def test_the_periodic_task_marker_is_not_a_worker() -> None:
    heartbeat.beat(heartbeat.PERIODIC_TASKS)

    assert heartbeat.workers_seen() == 0
    assert heartbeat.periodic_tasks_seen()


def test_a_worker_heartbeat_updates_its_own_row() -> None:
    heartbeat.beat("host:1")
    heartbeat.beat("host:1")
    heartbeat.beat("host:2")

    assert WorkerHeartbeat.objects.count() == 2
    assert heartbeat.workers_seen() == 2


def test_workers_gone_for_a_day_are_forgotten() -> None:
    WorkerHeartbeat.objects.create(worker="old:1", seen_at=timezone.now() - timedelta(days=2))
    heartbeat.beat("new:1")

    assert heartbeat.forget_gone_workers() == 1
    assert list(WorkerHeartbeat.objects.values_list("worker", flat=True)) == ["new:1"]


def test_readyz_is_unavailable_when_the_queue_does_not_answer(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huey.contrib.djhuey import HUEY

    heartbeat.beat("host:1")

    def unreachable() -> int:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(HUEY, "pending_count", unreachable)
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["queue"] == "unavailable"
    assert "Redis" not in response.content.decode(), "no details of the failure leak"
