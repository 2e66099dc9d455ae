"""Outlook's limits per app and mailbox: concurrency, requests per window; batching; stats."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import asdict

import httpx
import pytest

from m365_emulator.graph.testkit import event_body
from m365_emulator.testing import EmulatorHandle, ca_context

SERVICE = "events@convene-platform.test"


@pytest.fixture
def restore_config(emulator: EmulatorHandle) -> Iterator[None]:
    saved = asdict(emulator.backend.config)
    yield
    emulator.backend.config.update(saved)


@pytest.fixture
def app(emulator: EmulatorHandle) -> str:
    return emulator.app_token()


def concurrent_gets(emulator: EmulatorHandle, token: str, count: int) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(verify=ca_context(emulator.ca_path)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            url = f"{emulator.graph_url}/users/{SERVICE}/events"
            return list(
                await asyncio.gather(*(client.get(url, headers=headers) for _ in range(count)))
            )

    return asyncio.run(run())


def test_concurrency_limit_answers_429_with_retry_after(
    emulator: EmulatorHandle, app: str, restore_config: None
) -> None:
    # The configured latency is Microsoft's answer time: requests hold their slot through it.
    emulator.control("POST", "/config", {"mailbox_concurrency": 2, "latency_ms": 300})
    responses = concurrent_gets(emulator, app, 6)
    throttled = [r for r in responses if r.status_code == 429]
    assert throttled and len(throttled) <= 4
    assert throttled[0].headers["Retry-After"].isdigit()
    assert (
        throttled[0].json()["error"]["message"]
        == "Application is over its MailboxConcurrency limit."
    )
    stats = emulator.control("GET", "/stats").json()
    assert stats["maxConcurrency"][0]["maxConcurrent"] == 2
    assert stats["throttled"]["total"] == len(throttled)


def test_a_burst_of_twelve_meets_the_concurrency_limit_with_the_default_service_time(
    emulator: EmulatorHandle, app: str
) -> None:
    async def bursts() -> list[httpx.Response]:
        async with httpx.AsyncClient(verify=ca_context(emulator.ca_path)) as client:
            headers = {"Authorization": f"Bearer {app}"}
            url = f"{emulator.graph_url}/users/{SERVICE}/events"
            # The first burst opens the connections; the second arrives all at once, as a
            # client with a warm connection pool sends it.
            await asyncio.gather(*(client.get(url, headers=headers) for _ in range(12)))
            # On a busy machine the client may send a burst too slowly for its requests to
            # overlap: up to three tries (the limit is what is checked, not the client).
            for _ in range(3):
                await asyncio.sleep(0.2)
                answers = list(
                    await asyncio.gather(*(client.get(url, headers=headers) for _ in range(12)))
                )
                if any(r.status_code == 429 for r in answers):
                    break
            return answers

    responses = asyncio.run(bursts())
    throttled = [r for r in responses if r.status_code == 429]
    assert throttled, [r.status_code for r in responses]
    assert throttled[0].json()["error"]["code"] == "ApplicationThrottled"
    assert throttled[0].json()["error"]["message"] == (
        "Application is over its MailboxConcurrency limit."
    )
    assert emulator.control("GET", "/stats").json()["maxConcurrency"][0]["maxConcurrent"] == 4


def test_request_window_limit_until_the_window_passes(
    emulator: EmulatorHandle, app: str, restore_config: None
) -> None:
    emulator.control(
        "POST", "/config", {"mailbox_requests_per_window": 5, "mailbox_window_seconds": 60}
    )
    statuses = [
        emulator.graph("GET", f"/users/{SERVICE}/events", app).status_code for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]
    refused = emulator.graph("GET", f"/users/{SERVICE}/events", app)
    assert refused.json()["error"]["code"] == "TooManyRequests"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    emulator.advance_clock(61)
    assert (
        emulator.graph("GET", f"/users/{SERVICE}/events", emulator.app_token()).status_code == 200
    )


def test_limits_are_per_mailbox(emulator: EmulatorHandle, app: str, restore_config: None) -> None:
    emulator.control("POST", "/config", {"mailbox_requests_per_window": 1})
    assert emulator.graph("GET", f"/users/{SERVICE}/events", app).status_code == 200
    assert emulator.graph("GET", f"/users/{SERVICE}/events", app).status_code == 429
    assert (
        emulator.graph("GET", "/users/admin@convene-platform.test/events", app).status_code == 200
    )


def test_throttling_can_be_switched_off(
    emulator: EmulatorHandle, app: str, restore_config: None
) -> None:
    emulator.control("POST", "/config", {"mailbox_requests_per_window": 1, "throttling": False})
    statuses = {
        emulator.graph("GET", f"/users/{SERVICE}/events", app).status_code for _ in range(3)
    }
    assert statuses == {200}


def test_batch_runs_requests_and_reports_each(emulator: EmulatorHandle, app: str) -> None:
    body = {
        "requests": [
            {
                "id": "1",
                "method": "POST",
                "url": f"/users/{SERVICE}/events",
                "headers": {"Content-Type": "application/json"},
                "body": event_body(subject="batched"),
            },
            {"id": "2", "method": "GET", "url": f"/users/{SERVICE}/events", "dependsOn": ["1"]},
        ]
    }
    response = emulator.graph("POST", "/$batch", app, json=body)
    assert response.status_code == 200
    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert by_id["1"]["status"] == 201
    assert [e["subject"] for e in by_id["2"]["body"]["value"]] == ["batched"]
    operations = emulator.control("GET", "/stats").json()["requests"]["byOperation"]
    assert operations["batch"] == 1 and operations["events.create"] == 1


def test_failed_dependency_gives_424(emulator: EmulatorHandle, app: str) -> None:
    body = {
        "requests": [
            {"id": "a", "method": "GET", "url": f"/users/{SERVICE}/events/AAMkAnotthere0000000"},
            {"id": "b", "method": "GET", "url": f"/users/{SERVICE}/events", "dependsOn": ["a"]},
        ]
    }
    by_id = {
        r["id"]: r for r in emulator.graph("POST", "/$batch", app, json=body).json()["responses"]
    }
    assert by_id["a"]["status"] == 404
    assert by_id["a"]["body"]["error"]["code"] == "ErrorItemNotFound"
    assert by_id["b"]["status"] == 424


def test_batch_of_more_than_twenty_is_refused(emulator: EmulatorHandle, app: str) -> None:
    requests = [
        {"id": str(i), "method": "GET", "url": f"/users/{SERVICE}/events"} for i in range(21)
    ]
    response = emulator.graph("POST", "/$batch", app, json={"requests": requests})
    assert response.status_code == 400


def test_batch_with_unknown_dependency_is_refused(emulator: EmulatorHandle, app: str) -> None:
    body = {"requests": [{"id": "1", "method": "GET", "url": "/me/events", "dependsOn": ["9"]}]}
    assert emulator.graph("POST", "/$batch", app, json=body).status_code == 400


def test_batched_requests_are_throttled_one_by_one(
    emulator: EmulatorHandle, app: str, restore_config: None
) -> None:
    emulator.control("POST", "/config", {"mailbox_requests_per_window": 3})
    requests = [
        {"id": str(i), "method": "GET", "url": f"/users/{SERVICE}/events"} for i in range(5)
    ]
    responses = emulator.graph("POST", "/$batch", app, json={"requests": requests}).json()[
        "responses"
    ]
    statuses = sorted(r["status"] for r in responses)
    assert statuses == [200, 200, 200, 429, 429]
    throttled = next(r for r in responses if r["status"] == 429)
    assert "Retry-After" in throttled["headers"]


def test_stats_count_requests_by_app_mailbox_operation_and_status(
    emulator: EmulatorHandle, app: str
) -> None:
    emulator.control("POST", "/stats/reset")
    emulator.graph("POST", f"/users/{SERVICE}/events", app, json=event_body())
    emulator.graph("GET", f"/users/{SERVICE}/events/AAMkAnotthere0000000", app)
    requests = emulator.control("GET", "/stats").json()["requests"]
    assert requests["total"] == 2
    assert requests["byApp"] == {emulator.client_id: 2}
    assert requests["byMailbox"] == {SERVICE: 2}
    assert requests["byOperation"] == {"events.create": 1, "events.get": 1}
    assert requests["byStatus"] == {"201": 1, "404": 1}


def test_a_batch_stays_within_the_mailbox_concurrency(emulator: EmulatorHandle, app: str) -> None:
    emulator.control("POST", "/graph/settings", {"processingMs": 50})
    requests = [
        {"id": str(i), "method": "GET", "url": f"/users/{SERVICE}/events"} for i in range(8)
    ]
    responses = emulator.graph("POST", "/$batch", app, json={"requests": requests}).json()[
        "responses"
    ]
    assert {r["status"] for r in responses} == {200}
    assert emulator.control("GET", "/stats").json()["maxConcurrency"][0]["maxConcurrent"] == 4


def test_fault_rules_answer_requests_inside_a_batch_one_by_one(
    emulator: EmulatorHandle, app: str
) -> None:
    emulator.control(
        "POST",
        "/faults",
        {
            "rules": [
                {
                    "endpoint": "graph",
                    "method": "POST",
                    "path": "/events$",
                    "status": 429,
                    "headers": {"Retry-After": "2"},
                    "count": 1,
                },
                {"endpoint": "graph", "action": "drop", "count": 5},
            ]
        },
    ).raise_for_status()
    try:
        body = {
            "requests": [
                {
                    "id": str(n),
                    "method": "POST",
                    "url": f"/users/{SERVICE}/events",
                    "headers": {"Content-Type": "application/json"},
                    "body": event_body(subject=f"batched {n}"),
                }
                for n in range(3)
            ]
        }
        # The drop rule fires on the batch request, not on the requests inside it.
        with pytest.raises(httpx.TransportError):
            emulator.graph("POST", "/$batch", app, json=body)
        emulator.control("DELETE", "/faults").raise_for_status()
        emulator.control(
            "POST",
            "/faults",
            {
                "rules": [
                    {
                        "endpoint": "graph",
                        "method": "POST",
                        "path": "/events$",
                        "status": 429,
                        "headers": {"Retry-After": "2"},
                        "count": 1,
                    }
                ]
            },
        ).raise_for_status()
        response = emulator.graph("POST", "/$batch", app, json=body)
        statuses = sorted(r["status"] for r in response.json()["responses"])
        assert statuses == [201, 201, 429]
        throttled = next(r for r in response.json()["responses"] if r["status"] == 429)
        assert throttled["headers"]["Retry-After"] == "2"
        assert throttled["body"]["error"]["code"] == "TooManyRequests"
    finally:
        emulator.control("DELETE", "/faults").raise_for_status()
