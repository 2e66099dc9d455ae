"""A database that refuses connections gives a "try again" page, never a 500 (issue 22, item 3).

In the chaos run PostgreSQL refused connections ("too many clients") and six requests ended in
HTTP 500 from the session middleware. Here the database refuses every new connection after the
person signed in: the page is a 503 with Retry-After, and no change was made.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from convene.accounts.models import Role
from convene.events.models import Event


def refuse_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on the database refuses every new connection, as PostgreSQL does when full."""

    def refuse(self: Any, params: dict[str, Any]) -> Any:
        # The driver's own error (sqlite3's or psycopg's), as the backend sees it.
        raise database.Database.OperationalError("sorry, too many clients already")

    database = connections["default"]
    database.close()
    monkeypatch.setattr(type(database), "get_new_connection", refuse)


def signed_in(make_user: Any, role: Role = Role.REGULAR) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(make_user(role))
    return client


def test_a_page_asks_to_try_again_when_the_database_refuses(
    transactional_db: None, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in(make_user)
    refuse_connections(monkeypatch)
    response = client.get("/")
    monkeypatch.undo()
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert "try again" in response.content.decode()


def test_a_change_refused_by_the_database_is_not_half_done(
    transactional_db: None, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in(make_user, Role.ORGANIZER)
    start = (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT18:00")
    end = (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT20:00")

    refuse_connections(monkeypatch)
    response = client.post(
        "/events/new/",
        {"title": "Refused", "start": start, "end": end, "timezone": "UTC", "location": ""},
    )
    monkeypatch.undo()

    assert response.status_code == 503
    assert not Event.objects.filter(title="Refused").exists()


def test_other_server_errors_are_still_500(
    transactional_db: None, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in(make_user)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr("convene.events.views.render", broken)
    assert client.get("/").status_code == 500
