"""Admin alerts: told once per condition, cleared when it clears, told again if it returns; a
failing source neither silences the others nor clears its own; the alerts page shows the fix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from convene.core import extensions
from convene.core.extensions import AlertCondition
from convene.core.models import Notice
from convene.operations import alerts, heartbeat
from convene.operations.models import AdminAlert

pytestmark = pytest.mark.django_db

DISK = AlertCondition(key="test.disk", title="The disk is full", fix="Delete old backups.")


@pytest.fixture
def conditions() -> Iterator[list[AlertCondition]]:
    """What the test source says holds now (the test changes it)."""
    holding: list[AlertCondition] = []
    extensions.register_alert_source("test", lambda: list(holding))
    # A worker is alive and periodic tasks run: no alert of operations' own in these tests.
    heartbeat.beat("host:1")
    heartbeat.beat(heartbeat.PERIODIC_TASKS)
    yield holding
    extensions._alert_sources.pop("test")


def test_a_condition_is_told_to_every_admin_once(
    conditions: list[AlertCondition], admin_user: Any, make_user: Any, mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    from convene.accounts.models import Role

    second_admin = make_user(Role.ADMIN)
    conditions.append(DISK)

    with django_capture_on_commit_callbacks(execute=True):
        alerts.evaluate()
        alerts.evaluate()

    assert Notice.objects.filter(user=admin_user).count() == 1
    assert Notice.objects.filter(user=second_admin).count() == 1
    assert Notice.objects.get(user=admin_user).text == "The disk is full. Delete old backups."
    assert len(mailoutbox) == 2


def test_a_condition_that_clears_and_returns_is_told_again(
    conditions: list[AlertCondition], admin_user: Any
) -> None:
    conditions.append(DISK)
    alerts.evaluate()
    conditions.clear()
    alerts.evaluate()
    conditions.append(DISK)
    alerts.evaluate()

    assert AdminAlert.objects.filter(key="test.disk").count() == 2
    assert Notice.objects.filter(user=admin_user).count() == 2


def test_a_failing_source_keeps_its_alerts_open(
    conditions: list[AlertCondition], admin_user: Any
) -> None:
    conditions.append(DISK)
    alerts.evaluate()

    def broken() -> list[AlertCondition]:
        raise RuntimeError("cannot tell")

    extensions.register_alert_source("test", broken)
    alerts.evaluate()

    assert AdminAlert.objects.get(key="test.disk").is_open


def test_the_alerts_page_shows_open_alerts_with_their_fix(
    conditions: list[AlertCondition], client: Client, admin_user: Any
) -> None:
    conditions.append(DISK)
    alerts.evaluate()
    client.force_login(admin_user)

    page = client.get("/manage/alerts/").content.decode()

    assert "The disk is full" in page and "Delete old backups." in page


def test_the_sync_dashboard_points_to_open_alerts(
    conditions: list[AlertCondition], client: Client, admin_user: Any
) -> None:
    conditions.append(DISK)
    alerts.evaluate()
    client.force_login(admin_user)

    page = client.get("/outlook/admin/sync/").content.decode()

    assert "1 open alert needs an admin" in page and 'href="/manage/alerts/"' in page


def test_the_admin_menu_links_to_the_alerts_page_for_admins_only(
    client: Client, admin_user: Any, organizer: Any
) -> None:
    link = '<a class="dropdown-item" href="/manage/alerts/">Alerts</a>'
    client.force_login(admin_user)
    assert link in client.get("/").content.decode()

    client.force_login(organizer)
    assert link not in client.get("/").content.decode()
