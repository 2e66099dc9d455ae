"""The notification endpoint: the handshake, and refusing anything forged, unknown or malformed
without changing anything. (Real deliveries from the emulator: test_replies*.py.)"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from convene.outlook import tasks
from convene.outlook.inbound import noted_changes, reconcile, subscriptions
from convene.outlook.models import ChangeInbox, Mode, NotedChange, OutlookSettings, Subscription

SECRET = "a-client-state-only-microsoft-and-this-test-know"
URL = "/outlook/webhook/"
LIFECYCLE_URL = "/outlook/webhook/lifecycle/"


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """What the endpoint queued (instead of a real queue)."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(
        tasks, "enqueue_reconcile", lambda mailbox, delay: calls.append(("changes", (mailbox,)))
    )
    monkeypatch.setattr(tasks, "lifecycle_task", lambda *a: calls.append(("lifecycle", a)))
    return calls


def noted() -> list[tuple[str, str]]:
    """The changed events the endpoint kept for the worker to read."""
    return list(NotedChange.objects.order_by("pk").values_list("mailbox", "graph_id"))


@pytest.fixture
def subscription(db: None) -> Subscription:
    return Subscription.objects.create(
        mailbox="ada@contoso.test",
        mode=Mode.ORGANIZER,
        graph_id="sub-1",
        client_state_hash=subscriptions.digest(SECRET),
        expires_at=timezone.now() + timedelta(days=2),
    )


def change(
    subscription_id: str = "sub-1", client_state: str = SECRET, **extra: Any
) -> dict[str, Any]:
    return {
        "subscriptionId": subscription_id,
        "clientState": client_state,
        "changeType": "updated",
        "resource": "Users/x/Events/AAMkEvent1",
        "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": "AAMkEvent1"},
        **extra,
    }


def post(body: Any, url: str = URL, content_type: str = "application/json") -> Any:
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return Client().post(url, raw, content_type=content_type)


def test_the_validation_handshake_echoes_the_token_as_plain_text(db: None) -> None:
    token = "Validation: <script>alert(1)</script> & more"
    response = Client().post(
        f"{URL}?validationToken={token.replace('&', '%26').replace(' ', '+')}",
        b"",
        content_type="text/plain; charset=utf-8",
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == token


def test_the_lifecycle_url_answers_the_handshake_too(db: None) -> None:
    response = Client().post(f"{LIFECYCLE_URL}?validationToken=abc", b"", content_type="text/plain")
    assert (response.status_code, response.content) == (200, b"abc")


def test_a_genuine_notification_only_queues_work_and_answers_202_at_once(
    subscription: Subscription, queued: list[Any]
) -> None:
    started = time.monotonic()
    response = post({"value": [change()]})
    elapsed = time.monotonic() - started

    assert response.status_code == 202
    assert elapsed < 0.5
    assert noted() == [("ada@contoso.test", "AAMkEvent1")]
    assert queued == [("changes", ("ada@contoso.test",))]
    subscription.refresh_from_db()
    assert subscription.last_notification_at is not None


def test_a_burst_of_notifications_queues_one_task_per_mailbox_and_notes_each_event_once(
    subscription: Subscription, queued: list[Any]
) -> None:
    for _ in range(5):
        assert post({"value": [change()]}).status_code == 202
    other = change(resourceData={"id": "AAMkEvent2"})
    assert post({"value": [change(), other]}).status_code == 202

    assert noted() == [("ada@contoso.test", "AAMkEvent1"), ("ada@contoso.test", "AAMkEvent2")]
    assert queued == [("changes", ("ada@contoso.test",))]


def test_a_change_noted_while_the_worker_reads_queues_another_task(
    subscription: Subscription, queued: list[Any]
) -> None:
    post({"value": [change()]})
    # The worker has started: it took the task and claimed what was noted.
    ChangeInbox.objects.update(queued_at=None)
    NotedChange.objects.update(claimed_by="worker-1", claimed_until=timezone.now())

    assert post({"value": [change()]}).status_code == 202

    assert len(noted()) == 2
    assert queued == [("changes", ("ada@contoso.test",))] * 2


def test_a_wrong_client_state_is_refused(subscription: Subscription, queued: list[Any]) -> None:
    response = post({"value": [change(client_state="guessed")]})
    assert response.status_code == 403
    assert queued == []
    assert noted() == []


def test_an_unknown_subscription_is_refused(subscription: Subscription, queued: list[Any]) -> None:
    response = post({"value": [change(subscription_id="sub-unknown")]})
    assert response.status_code == 403
    assert queued == []
    assert noted() == []


def test_a_removed_subscription_is_refused(subscription: Subscription, queued: list[Any]) -> None:
    Subscription.objects.filter(pk=subscription.pk).update(state=Subscription.State.REMOVED)
    response = post({"value": [change()]})
    assert response.status_code == 403
    assert queued == []
    assert noted() == []


def test_a_subscription_ended_here_is_refused_at_once_though_it_was_just_verified(
    subscription: Subscription, queued: list[Any]
) -> None:
    assert post({"value": [change()]}).status_code == 202  # remembered by the webhook now

    subscriptions.remove(subscription, OutlookSettings.load(), why="test")

    assert post({"value": [change()]}).status_code == 403


def test_notifications_of_a_subscription_just_verified_do_not_read_it_again(
    subscription: Subscription, queued: list[Any]
) -> None:
    """Its row was read per notification: as much CPU as the rest of the webhook's work."""
    assert post({"value": [change()]}).status_code == 202
    with CaptureQueriesContext(connection) as queries:
        assert post({"value": [change()]}).status_code == 202
    tables = " ".join(query["sql"] for query in queries.captured_queries)
    assert "outlook_subscription" not in tables


def test_in_a_mixed_batch_only_the_genuine_notification_counts(
    subscription: Subscription, queued: list[Any]
) -> None:
    forged = change(client_state="forged")
    forged["resourceData"] = {"id": "AAMkForged"}
    response = post({"value": [forged, change()]})
    assert response.status_code == 202
    assert noted() == [("ada@contoso.test", "AAMkEvent1")]
    assert queued == [("changes", ("ada@contoso.test",))]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"value": "nope"}',
        b'{"value": []}',
        b'{"value": ["a string"]}',
        b'{"other": 1}',
    ],
)
def test_malformed_bodies_are_refused(
    subscription: Subscription, queued: list[Any], body: bytes
) -> None:
    assert post(body).status_code == 400
    assert queued == []
    assert noted() == []


def test_a_genuine_notification_without_an_event_id_is_refused(
    subscription: Subscription, queued: list[Any]
) -> None:
    response = post({"value": [change(resourceData="nope")]})
    assert response.status_code == 400
    assert queued == []
    assert noted() == []


def test_an_oversized_body_is_refused(subscription: Subscription, queued: list[Any]) -> None:
    padding = "x" * 1_100_000
    response = post({"value": [change(padding=padding)]})
    assert response.status_code == 413
    assert queued == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_other_content_types_are_refused(
    subscription: Subscription, queued: list[Any], content_type: str
) -> None:
    response = post(json.dumps({"value": [change()]}), content_type=content_type)
    assert response.status_code == 415
    assert queued == []


def test_only_post_is_accepted(db: None) -> None:
    assert Client().get(URL).status_code == 405


def test_lifecycle_notifications_queue_their_handling(
    subscription: Subscription, queued: list[Any]
) -> None:
    item = {"subscriptionId": "sub-1", "clientState": SECRET, "lifecycleEvent": "missed"}
    response = post({"value": [item]}, url=LIFECYCLE_URL)
    assert response.status_code == 202
    assert queued == [("lifecycle", (subscription.pk, "missed"))]


def test_an_unknown_lifecycle_event_is_refused(
    subscription: Subscription, queued: list[Any]
) -> None:
    item = {"subscriptionId": "sub-1", "clientState": SECRET, "lifecycleEvent": "explode"}
    assert post({"value": [item]}, url=LIFECYCLE_URL).status_code == 400
    assert queued == []


def test_when_the_queue_is_down_the_change_is_kept_and_the_sweep_queues_it(
    subscription: Subscription, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: Any) -> None:
        raise ConnectionError("queue unavailable")

    monkeypatch.setattr(tasks, "enqueue_reconcile", down)
    # Accepted: the change is recorded, so Graph need not deliver it again.
    assert post({"value": [change()]}).status_code == 202
    assert noted() == [("ada@contoso.test", "AAMkEvent1")]

    swept: list[str] = []
    assert noted_changes.sweep(lambda mailbox, delay: swept.append(mailbox)) == 1
    assert swept == ["ada@contoso.test"]


def test_when_the_change_cannot_be_recorded_graph_is_asked_to_deliver_again(
    subscription: Subscription, queued: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("database unavailable")

    monkeypatch.setattr(NotedChange.objects, "bulk_create", database_down)
    assert post({"value": [change()]}).status_code == 503
    assert queued == []


def test_the_worker_reads_each_noted_event_once_and_keeps_the_busy_one_for_later(
    subscription: Subscription, queued: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for event_id in ["AAMkEvent1", "AAMkEvent2", "AAMkEvent1", "AAMkBusy"]:
        post({"value": [change(resourceData={"id": event_id})]})
    read: list[str] = []

    def read_event(mailbox: str, graph_id: str, enqueue: Any) -> bool:
        read.append(graph_id)
        return graph_id != "AAMkBusy"  # being pushed right now

    monkeypatch.setattr(reconcile, "reconcile", read_event)
    again: list[tuple[str, float]] = []

    done = noted_changes.reconcile_noted(
        "ada@contoso.test", tasks.enqueue_sync, lambda *a: again.append(a)
    )

    assert (done, read) == (2, ["AAMkBusy", "AAMkEvent1", "AAMkEvent2"])
    assert noted() == [("ada@contoso.test", "AAMkBusy")]
    assert again == [("ada@contoso.test", noted_changes.AGAIN_SECONDS)]


def test_changes_claimed_by_a_worker_that_died_are_read_again(
    subscription: Subscription, queued: list[Any]
) -> None:
    post({"value": [change()]})
    # A worker took the task and died mid-way: its claim and the queued mark run out.
    long_ago = timezone.now() - timedelta(hours=1)
    NotedChange.objects.update(claimed_by="dead-worker", claimed_until=long_ago)
    ChangeInbox.objects.update(queued_at=long_ago)

    swept: list[str] = []
    assert noted_changes.sweep(lambda mailbox, delay: swept.append(mailbox)) == 1
    assert swept == ["ada@contoso.test"]
    # Queued now: the next sweep leaves it to that task.
    assert noted_changes.sweep(lambda mailbox, delay: swept.append(mailbox)) == 0
