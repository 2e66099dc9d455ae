"""The webhook's short way through an ASGI server (``convene.asgi.application``): the same
answers as through Django, without Django's thread per request; every other page unchanged."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from convene.asgi import application
from convene.outlook import tasks
from convene.outlook.inbound import subscriptions, webhook, webhook_asgi
from convene.outlook.models import Mode, NotedChange, Subscription

SECRET = "a-client-state-only-microsoft-and-this-test-know"


@pytest.fixture(autouse=True)
def no_connection_left_open() -> Iterator[None]:
    """The webhook's threads may keep database connections (PostgreSQL): close them, or the
    test database could not be dropped."""
    yield
    application.close_connections()


@pytest.fixture
def subscription(transactional_db: None) -> Subscription:
    return Subscription.objects.create(
        mailbox="ada@contoso.test",
        mode=Mode.ORGANIZER,
        graph_id="sub-1",
        client_state_hash=subscriptions.digest(SECRET),
        expires_at=timezone.now() + timedelta(days=2),
    )


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    mailboxes: list[str] = []
    monkeypatch.setattr(
        tasks, "enqueue_reconcile", lambda mailbox, delay: mailboxes.append(mailbox)
    )
    return mailboxes


def send(method: str, path: str, body: bytes = b"", **headers: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.request(method, path, content=body, headers=headers)

    return asyncio.run(go())


def notification(client_state: str = SECRET, event_id: str = "AAMkEvent1") -> bytes:
    item = {
        "subscriptionId": "sub-1",
        "clientState": client_state,
        "changeType": "updated",
        "resource": f"Users/x/Events/{event_id}",
        "resourceData": {"id": event_id},
    }
    return json.dumps({"value": [item]}).encode()


def test_a_genuine_notification_is_noted_without_a_thread_of_its_own(
    subscription: Subscription, queued: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = webhook._change

    def change(verified: Any) -> int:
        threads.append(threading.current_thread().name)
        return real(verified)

    monkeypatch.setattr(webhook, "_change", change)
    json_type = {"content-type": "application/json"}
    for _ in range(3):
        response = send("POST", "/outlook/webhook/", notification(), **json_type)
        assert response.status_code == 202

    assert list(NotedChange.objects.values_list("mailbox", "graph_id")) == [
        ("ada@contoso.test", "AAMkEvent1")
    ]
    assert queued == ["ada@contoso.test"]
    # The same few long-lived threads, not one started for each request.
    assert all(name.startswith("webhook") for name in threads)


def test_forged_malformed_and_oversized_notifications_are_refused_as_through_django(
    subscription: Subscription, queued: list[str]
) -> None:
    json_type = {"content-type": "application/json"}
    assert (
        send("POST", "/outlook/webhook/", notification("guessed"), **json_type).status_code == 403
    )
    assert send("POST", "/outlook/webhook/", b"{not json", **json_type).status_code == 400
    big = b'{"value": [' + b" " * (webhook.MAX_BODY_BYTES + 10) + b"]}"
    assert send("POST", "/outlook/webhook/", big, **json_type).status_code == 413
    assert (
        send(
            "POST", "/outlook/webhook/", notification(), **{"content-type": "text/plain"}
        ).status_code
        == 415
    )
    assert send("GET", "/outlook/webhook/").status_code == 405
    assert NotedChange.objects.count() == 0
    assert queued == []


def test_the_handshake_echoes_the_token_as_plain_text(transactional_db: None) -> None:
    response = send("POST", "/outlook/webhook/lifecycle/?validationToken=abc%3Cb%3E")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text == "abc<b>"


def test_a_host_not_allowed_is_refused(subscription: Subscription, queued: list[str]) -> None:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://evil.example") as c:
            return await c.post(
                "/outlook/webhook/",
                content=notification(),
                headers={"content-type": "application/json"},
            )

    assert asyncio.run(go()).status_code == 400
    assert queued == []


def test_every_other_page_still_goes_through_django(transactional_db: None) -> None:
    response = send("GET", "/accounts/sign-in/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies  # Django's middleware ran


def test_large_bodies_wait_behind_each_other_not_in_front_of_genuine_notifications(
    subscription: Subscription, queued: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: ten forged 111 KB batches at once held every thread; a real notification
    waited seconds."""
    release = threading.Event()
    real = webhook._receive

    def receive(request: Any, accept: Any) -> Any:
        if len(request.body) > webhook_asgi.LARGE_BODY_BYTES:
            release.wait(timeout=10)  # a large batch that takes its time
        return real(request, accept)

    monkeypatch.setattr(webhook, "_receive", receive)
    forged = json.dumps({"value": [json.loads(notification("guess"))["value"][0]] * 400}).encode()
    assert len(forged) > webhook_asgi.LARGE_BODY_BYTES

    async def go() -> tuple[list[int], float]:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            headers = {"Content-Type": "application/json"}
            large = [
                asyncio.create_task(
                    client.post("/outlook/webhook/", content=forged, headers=headers)
                )
                for _ in range(10)
            ]
            await asyncio.sleep(0.2)
            started = asyncio.get_running_loop().time()
            genuine = await client.post(
                "/outlook/webhook/", content=notification(), headers=headers
            )
            waited = asyncio.get_running_loop().time() - started
            release.set()
            answers = [genuine.status_code] + [(await t).status_code for t in large]
            return answers, waited

    answers, waited = asyncio.run(go())

    assert answers == [202] + [403] * 10
    assert waited < 5  # not behind the blocked large batches (each would wait 10 s)


def test_too_many_large_bodies_waiting_are_refused_at_once(
    subscription: Subscription, queued: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each waiting body is held in memory (up to 1 MB): a flood is answered 503 beyond a few
    dozen, which Graph, for a genuine batch, delivers again later."""
    release = threading.Event()
    real = webhook._receive

    def receive(request: Any, accept: Any) -> Any:
        release.wait(timeout=10)
        return real(request, accept)

    monkeypatch.setattr(webhook, "_receive", receive)
    forged = json.dumps({"value": [json.loads(notification("guess"))["value"][0]] * 400}).encode()
    flood = webhook_asgi.LARGE_BODIES_WAITING + 8

    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            headers = {"Content-Type": "application/json"}
            posts = [
                asyncio.create_task(
                    client.post("/outlook/webhook/", content=forged, headers=headers)
                )
                for _ in range(flood)
            ]
            for _ in range(100):  # the refused are answered while the others still wait
                if sum(t.done() for t in posts) >= 8:
                    break
                await asyncio.sleep(0.05)
            release.set()
            return [(await t).status_code for t in posts]

    answers = asyncio.run(go())

    assert sorted(answers) == [403] * webhook_asgi.LARGE_BODIES_WAITING + [503] * 8


def test_each_webhook_thread_keeps_its_database_connection(
    subscription: Subscription, queued: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a connection per notification (SQLite's CONN_MAX_AGE is 0) cost twice what the
    notification itself did (issue 19: about 1 ms of CPU per notification wanted)."""
    from django.db import connection

    seen: dict[str, set[int]] = {}
    real = webhook._change

    def change(verified: Any) -> int:
        queued = real(verified)  # reads the database: the thread's connection is open now
        name = threading.current_thread().name
        seen.setdefault(name, set()).add(id(connection.connection))
        return queued

    monkeypatch.setattr(webhook, "_change", change)
    for number in range(12):
        response = send(
            "POST",
            "/outlook/webhook/",
            notification(event_id=f"AAMkEvent{number}"),
            **{"Content-Type": "application/json"},
        )
        assert response.status_code == 202

    assert seen and all(len(connections) == 1 for connections in seen.values())


def test_a_pooled_connection_goes_back_to_the_pool_after_each_notification() -> None:
    """With PostgreSQL's pool, five idle webhook threads each holding a connection would take
    half of the web process's pool (WEB_POOL_SIZE) from its pages."""
    assert webhook_asgi._keeps_own_connection({"CONN_MAX_AGE": 0, "OPTIONS": {}})
    assert not webhook_asgi._keeps_own_connection(
        {"CONN_MAX_AGE": 0, "OPTIONS": {"pool": {"max_size": 10}}}
    )
    assert not webhook_asgi._keeps_own_connection({"CONN_MAX_AGE": 60, "OPTIONS": {}})
