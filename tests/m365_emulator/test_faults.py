"""Fault rules injected with ``POST /_emulator/faults``."""

from __future__ import annotations

import time

import httpx
import pytest

from m365_emulator.testing import EmulatorHandle

ADA_EVENTS = "/users/ada@contoso.test/events"


def add_fault(emulator: EmulatorHandle, rule: dict[str, object]) -> dict[str, object]:
    response = emulator.control("POST", "/faults", rule)
    assert response.status_code == 201, response.text
    [created] = response.json()["rules"]
    return dict(created)


def discovery(emulator: EmulatorHandle) -> httpx.Response:
    return emulator.http.get(
        f"{emulator.authority}/organizations/v2.0/.well-known/openid-configuration"
    )


def test_status_rule_answers_with_retry_after_and_graph_error_body(
    emulator: EmulatorHandle,
) -> None:
    add_fault(
        emulator,
        {"endpoint": "graph", "status": 429, "headers": {"Retry-After": "7"}, "count": 1},
    )

    response = emulator.graph("GET", ADA_EVENTS, emulator.app_token())

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    error = response.json()["error"]
    assert error["code"] == "TooManyRequests"
    assert error["innerError"]["request-id"] == response.headers["request-id"]


def test_rule_for_one_mailbox_leaves_others_alone(emulator: EmulatorHandle) -> None:
    add_fault(emulator, {"mailbox": "ada@contoso.test", "status": 503})
    token = emulator.app_token()

    ada = emulator.graph("GET", ADA_EVENTS, token)
    grace = emulator.graph("GET", "/users/grace@contoso.test/events", token)

    assert ada.status_code == 503
    assert grace.status_code != 503


def test_mailbox_of_me_comes_from_the_token(emulator: EmulatorHandle) -> None:
    add_fault(emulator, {"mailbox": "ada@contoso.test", "status": 503})

    ada = emulator.graph("GET", "/me/events", emulator.token_for("ada@contoso.test"))
    grace = emulator.graph("GET", "/me/events", emulator.token_for("grace@contoso.test"))

    assert ada.status_code == 503
    assert grace.status_code != 503


def test_count_limits_how_often_a_rule_fires(emulator: EmulatorHandle) -> None:
    add_fault(emulator, {"endpoint": "discovery", "status": 500, "count": 2})

    statuses = [discovery(emulator).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]


def test_ratio_with_a_seed_is_reproducible(emulator: EmulatorHandle) -> None:
    rule = {"endpoint": "discovery", "status": 503, "ratio": 0.5, "seed": 42}

    def run() -> list[int]:
        emulator.control("DELETE", "/faults")
        add_fault(emulator, rule)
        return [discovery(emulator).status_code for _ in range(20)]

    first, second = run(), run()

    assert first == second
    assert {200, 503} == set(first)


def test_token_endpoint_fault_uses_the_identity_error_shape(emulator: EmulatorHandle) -> None:
    add_fault(
        emulator,
        {"endpoint": "token", "status": 400, "error": "invalid_grant", "aadsts": 50173},
    )

    response = emulator.http.post(
        emulator.token_endpoint(emulator.platform_tenant_id),
        data={"grant_type": "client_credentials", "client_id": emulator.client_id},
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_codes"] == [50173]


def test_delay_rule_slows_the_request_then_answers_normally(emulator: EmulatorHandle) -> None:
    add_fault(emulator, {"endpoint": "discovery", "action": "delay", "delayMs": 300})

    started = time.perf_counter()
    response = discovery(emulator)

    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_drop_rule_closes_the_connection_without_answering(emulator: EmulatorHandle) -> None:
    add_fault(emulator, {"endpoint": "token", "action": "drop", "count": 1})

    with pytest.raises(httpx.TransportError):
        emulator.http.post(emulator.token_endpoint("organizations"), data={})

    assert discovery(emulator).status_code == 200


def test_timeout_rule_hangs_longer_than_the_client_waits(emulator: EmulatorHandle) -> None:
    add_fault(emulator, {"path": "openid-configuration$", "action": "timeout", "count": 1})

    with pytest.raises(httpx.ReadTimeout):
        emulator.http.get(
            f"{emulator.authority}/organizations/v2.0/.well-known/openid-configuration",
            timeout=0.3,
        )

    assert discovery(emulator).status_code == 200


def test_method_and_path_must_both_match(emulator: EmulatorHandle) -> None:
    add_fault(emulator, {"method": "POST", "path": "/discovery/", "status": 500})

    assert emulator.http.get(f"{emulator.authority}/discovery/v2.0/keys").status_code == 200


def test_rules_are_listed_with_their_counters_and_can_be_cleared(emulator: EmulatorHandle) -> None:
    created = add_fault(emulator, {"endpoint": "discovery", "status": 500, "count": 3})
    discovery(emulator)

    [listed] = emulator.control("GET", "/faults").json()["rules"]
    cleared = emulator.control("DELETE", "/faults")

    assert listed["id"] == created["id"]
    assert listed["fired"] == 1
    assert listed["remaining"] == 2
    assert cleared.status_code == 204
    assert emulator.control("GET", "/faults").json()["rules"] == []


def test_one_rule_can_be_deleted_by_id(emulator: EmulatorHandle) -> None:
    created = add_fault(emulator, {"endpoint": "discovery", "status": 500})

    emulator.control("DELETE", f"/faults/{created['id']}")

    assert discovery(emulator).status_code == 200


@pytest.mark.parametrize(
    ("rule", "complaint"),
    [
        ({"status": 99}, "status"),
        ({"action": "explode"}, "action"),
        ({"status": 500, "ratio": 2}, "ratio"),
        ({"status": 500, "path": "("}, "regular expression"),
        ({"status": 500, "colour": "red"}, "colour"),
        ({"action": "delay"}, "delayMs"),
    ],
)
def test_malformed_rules_are_refused_with_a_reason(
    emulator: EmulatorHandle, rule: dict[str, object], complaint: str
) -> None:
    response = emulator.control("POST", "/faults", rule)

    assert response.status_code == 400
    assert complaint in response.json()["error"]["message"]


NEW_EVENT = {
    "subject": "Lost answer",
    "transactionId": "6f0d2b34-0c55-4b35-b4a7-5f3a2ef6d0a1",
    "start": {"dateTime": "2030-01-01T10:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2030-01-01T11:00:00", "timeZone": "UTC"},
}


def test_lose_answer_creates_the_event_but_drops_the_connection(
    emulator: EmulatorHandle,
) -> None:
    add_fault(emulator, {"method": "POST", "path": "/events$", "action": "loseAnswer", "count": 1})
    token = emulator.token_for("ada@contoso.test")

    with pytest.raises(httpx.TransportError):
        emulator.graph("POST", "/me/events", token, json=NEW_EVENT)
    retried = emulator.graph("POST", "/me/events", token, json=NEW_EVENT)

    assert retried.status_code == 201
    subjects = [e["subject"] for e in emulator.graph("GET", "/me/events", token).json()["value"]]
    assert subjects == ["Lost answer"]  # the transactionId made the retry safe


def test_lose_answer_can_forget_the_transaction_id(emulator: EmulatorHandle) -> None:
    add_fault(
        emulator,
        {
            "method": "POST",
            "path": "/events$",
            "action": "loseAnswer",
            "forgetTransactionId": True,
            "count": 1,
        },
    )
    token = emulator.token_for("ada@contoso.test")

    with pytest.raises(httpx.TransportError):
        emulator.graph("POST", "/me/events", token, json=NEW_EVENT)
    emulator.graph("POST", "/me/events", token, json=NEW_EVENT).raise_for_status()

    subjects = [e["subject"] for e in emulator.graph("GET", "/me/events", token).json()["value"]]
    assert subjects == ["Lost answer", "Lost answer"]


def test_forget_transaction_id_needs_lose_answer(emulator: EmulatorHandle) -> None:
    response = emulator.control("POST", "/faults", {"action": "drop", "forgetTransactionId": True})

    assert response.status_code == 400
