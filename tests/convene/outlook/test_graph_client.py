"""Error paths of the Graph client, one response each (respx); the happy paths run against the
emulator in the sync tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import respx

from convene.outlook.mailboxes import platform
from convene.outlook.microsoft import errors, graph
from convene.outlook.microsoft.graph import Call, GraphClient, parse_retry_after
from convene.outlook.microsoft.registration import AppRegistration

BASE = "https://graph.test/v1.0"


def client(tokens: list[bool] | None = None) -> GraphClient:
    def token(fresh: bool) -> str:
        if tokens is not None:
            tokens.append(fresh)
        return "fresh-token" if fresh else "cached-token"

    return GraphClient(base_url=BASE, token=token, http=httpx.Client())


def gated_client(gates: list[str]) -> GraphClient:
    """A client that notes which gate each request held: "one" slot or the "batch" gate."""

    @contextmanager
    def gate(name: str) -> Iterator[None]:
        gates.append(name)
        yield

    return GraphClient(
        base_url=BASE,
        token=lambda fresh: "token",
        http=httpx.Client(),
        gate=lambda: gate("one"),
        batch_gate=lambda: gate("batch"),
    )


def graph_error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"code": code, "message": f"{code} happened", "innerError": {}}}
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, "TooManyRequests", errors.Throttled),
        (500, "generalException", errors.Transient),
        (503, "serviceNotAvailable", errors.Transient),
        (504, "gatewayTimeout", errors.Transient),
        (403, "ErrorAccessDenied", errors.AccessDenied),
        (404, "ErrorItemNotFound", errors.NotFound),
        (400, "ErrorInvalidRequest", errors.Rejected),
        (410, "syncStateNotFound", errors.SyncStateExpired),
        (410, "SyncStateNotFound", errors.SyncStateExpired),
        (400, "InvalidDeltaToken", errors.SyncStateExpired),
        (400, "resyncRequired", errors.SyncStateExpired),
        (404, "MailboxNotEnabledForRESTAPI", errors.MailboxGone),
        (404, "ErrorInvalidUser", errors.MailboxGone),
    ],
)
@respx.mock
def test_graph_errors_become_typed_failures(status: int, code: str, expected: type) -> None:
    respx.patch(f"{BASE}/me/events/abc").mock(return_value=graph_error(status, code))
    with pytest.raises(expected) as caught:
        client().call(Call.update_event("abc", {"subject": "x"}))
    assert caught.value.code == code
    assert caught.value.status == status


@respx.mock
def test_retry_after_is_read_from_a_429() -> None:
    respx.post(f"{BASE}/me/events").mock(
        return_value=graph_error(429, "TooManyRequests", {"Retry-After": "2.128"})
    )
    with pytest.raises(errors.Throttled) as caught:
        client().create_event({})
    assert caught.value.retry_after == pytest.approx(2.128)


@respx.mock
def test_a_401_is_retried_once_with_a_fresh_token() -> None:
    route = respx.get(f"{BASE}/me/events/abc").mock(
        side_effect=[graph_error(401, "InvalidAuthenticationToken"), httpx.Response(200, json={})]
    )
    asked: list[bool] = []
    client(asked).get_event("abc")
    assert asked == [False, True]
    assert route.calls[1].request.headers["Authorization"] == "Bearer fresh-token"


@respx.mock
def test_a_second_401_means_the_authorization_is_lost() -> None:
    respx.get(f"{BASE}/me/events/abc").mock(
        return_value=graph_error(401, "InvalidAuthenticationToken")
    )
    with pytest.raises(errors.AuthorizationLost):
        client().get_event("abc")


@respx.mock
def test_timeouts_and_dropped_connections_are_transient() -> None:
    respx.get(f"{BASE}/me/events/slow").mock(side_effect=httpx.ReadTimeout("slow"))
    respx.get(f"{BASE}/me/events/gone").mock(side_effect=httpx.RemoteProtocolError("dropped"))
    with pytest.raises(errors.Transient):
        client().get_event("slow")
    with pytest.raises(errors.Transient):
        client().get_event("gone")


@respx.mock
def test_application_access_addresses_the_mailbox_and_quotes_ids() -> None:
    route = respx.patch(f"{BASE}/users/events%40platform.test/events/a%2Fb%3D").mock(
        return_value=httpx.Response(200, json={"id": "a/b="})
    )
    app = GraphClient(
        base_url=BASE, token=lambda fresh: "t", http=httpx.Client(), mailbox="events@platform.test"
    )
    app.call(Call.update_event("a/b=", {"subject": "x"}))
    assert route.called


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@respx.mock
def test_a_batch_answers_each_call_with_its_own_result_or_typed_failure() -> None:
    sent: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.extend(json.loads(request.content)["requests"])
        throttled = {"error": {"code": "ApplicationThrottled", "message": "slow down"}}
        missing = {"error": {"code": "ErrorItemNotFound", "message": "gone"}}
        return httpx.Response(
            200,
            json={
                "responses": [  # Graph answers in any order
                    {"id": "2", "status": 404, "headers": {}, "body": missing},
                    {"id": "0", "status": 201, "headers": {}, "body": {"id": "new"}},
                    {
                        "id": "1",
                        "status": 429,
                        "headers": {"Retry-After": "3"},
                        "body": throttled,
                    },
                ]
            },
        )

    respx.post(f"{BASE}/$batch").mock(side_effect=answer)
    gates: list[str] = []
    created, throttled, missing = gated_client(gates).batch(
        [
            Call("POST", "/events", {"subject": "a"}),
            Call("PATCH", "/events/b", {"subject": "b"}),
            Call("POST", "/events/c/cancel", {"comment": "c"}),
        ]
    )

    assert created == {"id": "new"}
    assert isinstance(throttled, errors.Throttled) and throttled.retry_after == 3
    assert isinstance(missing, errors.NotFound) and missing.code == "ErrorItemNotFound"
    assert [(r["id"], r["method"], r["url"]) for r in sent] == [
        ("0", "POST", "/me/events"),
        ("1", "PATCH", "/me/events/b"),
        ("2", "POST", "/me/events/c/cancel"),
    ]
    assert gates == ["batch"]


def test_a_batch_holds_one_to_twenty_calls() -> None:
    with pytest.raises(ValueError):
        client().batch([Call("POST", "/events", {})] * 21)


@respx.mock
def test_an_ordered_batch_chains_its_calls_and_holds_one_request_slot() -> None:
    sent: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.extend(json.loads(request.content)["requests"])
        unavailable = {"error": {"code": "serviceNotAvailable", "message": "later"}}
        failed = {"error": {"code": "FailedDependency", "message": "Failed dependency."}}
        return httpx.Response(
            200,
            json={
                "responses": [
                    {"id": "0", "status": 201, "headers": {}, "body": {"id": "first"}},
                    {"id": "1", "status": 503, "headers": {}, "body": unavailable},
                    {"id": "2", "status": 424, "headers": {}, "body": failed},
                ]
            },
        )

    respx.post(f"{BASE}/$batch").mock(side_effect=answer)
    gates: list[str] = []
    created, unavailable, skipped = gated_client(gates).batch(
        [Call("POST", "/events", {"subject": str(n)}) for n in range(3)], ordered=True
    )

    assert created == {"id": "first"}
    assert isinstance(unavailable, errors.Transient)
    assert not isinstance(unavailable, errors.NotSent)
    assert isinstance(skipped, errors.NotSent)
    assert [r.get("dependsOn") for r in sent] == [None, ["0"], ["1"]]
    assert gates == ["one"]  # Outlook runs it one request at a time: one slot


@respx.mock
def test_a_batched_401_is_retried_rather_than_taken_for_a_lost_authorization() -> None:
    refused = graph_error(401, "InvalidAuthenticationToken").json()
    respx.post(f"{BASE}/$batch").mock(
        return_value=httpx.Response(
            200, json={"responses": [{"id": "0", "status": 401, "headers": {}, "body": refused}]}
        )
    )
    (outcome,) = client().batch([Call("POST", "/events", {"subject": "a"})])
    assert isinstance(outcome, errors.Transient)


def test_a_subscription_names_a_mailboxs_events_as_graph_does() -> None:
    app = GraphClient(
        base_url=BASE, token=lambda fresh: "t", http=httpx.Client(), mailbox="events@platform.test"
    )
    assert client().events_resource == "me/events"
    assert app.events_resource == "users/events@platform.test/events"


def test_every_client_to_graph_shares_the_one_connection_pool(settings: object) -> None:
    registration = AppRegistration.from_settings()
    platform_client = platform.client(registration, "events@platform.test", "platform.test")
    assert platform_client.http is graph.shared_http(registration)
    assert graph.shared_http(registration) is graph.shared_http(registration)


@pytest.mark.parametrize(
    ("code", "deleted"),
    [("ErrorItemNotFound", True), ("itemNotFound", True), ("ResourceNotFound", False)],
)
@respx.mock
def test_only_item_not_found_says_the_event_is_gone(code: str, deleted: bool) -> None:
    respx.patch(f"{BASE}/me/events/abc").mock(return_value=graph_error(404, code))
    with pytest.raises(errors.NotFound) as caught:
        client().call(Call.update_event("abc", {"subject": "x"}))
    assert caught.value.item_not_found is deleted
