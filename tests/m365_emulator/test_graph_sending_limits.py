"""Exchange Online's sending limits: a mailbox's meeting messages count against recipients per
message, recipients per day (rolling 24 hours, on the emulator's clock) and messages per minute."""

from __future__ import annotations

from typing import Any

import pytest

from m365_emulator.graph.testkit import event_body
from m365_emulator.testing import CUSTOMER_DOMAIN, EmulatorHandle

SERVICE = "events@convene-platform.test"
ADA, GRACE, ALAN = (f"{name}@{CUSTOMER_DOMAIN}" for name in ("ada", "grace", "alan"))
EXTERNAL = tuple(f"guest{n}@example.org" for n in range(6))


@pytest.fixture
def app(emulator: EmulatorHandle) -> str:
    return emulator.app_token()


def limit(emulator: EmulatorHandle, **limits: int) -> dict[str, Any]:
    response = emulator.control("POST", f"/mailboxes/{SERVICE}/sending", limits)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def usage(emulator: EmulatorHandle) -> dict[str, Any]:
    body: dict[str, Any] = emulator.control("GET", f"/mailboxes/{SERVICE}/sending").json()
    return body


def create(emulator: EmulatorHandle, token: str, *attendees: str) -> Any:
    return emulator.graph(
        "POST", f"/users/{SERVICE}/events", token, json=event_body(attendees=attendees)
    )


def test_defaults_are_exchange_onlines_documented_limits(emulator: EmulatorHandle) -> None:
    assert usage(emulator)["limits"] == {
        "recipientsPerMessage": 500,
        "recipientsPerDay": 10_000,
        "messagesPerMinute": 30,
    }


def test_invitations_updates_and_cancellations_count_their_recipients(
    emulator: EmulatorHandle, app: str
) -> None:
    created = create(emulator, app, ADA, GRACE, EXTERNAL[0])
    assert created.status_code == 201
    event_id = created.json()["id"]
    assert usage(emulator)["recipientsLast24Hours"] == 3

    # Only who joins is told of an attendee change; a new title reaches everyone.
    patch = {"attendees": [*created.json()["attendees"], _attendee(ALAN)]}
    assert emulator.graph(
        "PATCH", f"/users/{SERVICE}/events/{event_id}", app, json=patch
    ).is_success
    assert usage(emulator)["recipientsLast24Hours"] == 4
    renamed = {"subject": "Renamed"}
    assert emulator.graph(
        "PATCH", f"/users/{SERVICE}/events/{event_id}", app, json=renamed
    ).is_success
    assert usage(emulator)["recipientsLast24Hours"] == 8

    cancelled = emulator.graph(
        "POST", f"/users/{SERVICE}/events/{event_id}/cancel", app, json={"comment": "Off"}
    )
    assert cancelled.status_code == 202
    counted = usage(emulator)
    assert counted["recipientsLast24Hours"] == 12
    assert counted["messagesLast24Hours"] == 4


def test_a_message_over_the_recipient_limit_is_refused_and_nothing_is_made(
    emulator: EmulatorHandle, app: str
) -> None:
    limit(emulator, recipientsPerMessage=3)

    refused = create(emulator, app, ADA, GRACE, ALAN, EXTERNAL[0])

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "ErrorRecipientLimitExceeded"
    assert "The limit is 3. This message has 4 recipients." in error["message"]
    assert "5.5.3" in error["message"]
    assert emulator.control("GET", f"/mailboxes/{SERVICE}/events").json()["value"] == []
    assert emulator.control("GET", f"/mailboxes/{ADA}/events").json()["value"] == []
    assert usage(emulator)["recipientsLast24Hours"] == 0
    assert create(emulator, app, ADA, GRACE, ALAN).status_code == 201


def test_the_daily_recipient_limit_refuses_until_the_24_hours_have_passed(
    emulator: EmulatorHandle, app: str
) -> None:
    limit(emulator, recipientsPerDay=5)
    assert create(emulator, app, ADA, GRACE, ALAN).status_code == 201
    emulator.advance_clock(3600)
    assert create(emulator, app, EXTERNAL[0], EXTERNAL[1]).status_code == 201

    refused = create(emulator, app, EXTERNAL[2])

    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "ErrorExceededMessageLimit"
    assert "SubmissionQuotaExceededException" in error["message"]
    # The first message (3 recipients) leaves the 24 hours 23 hours from now.
    assert 23 * 3600 - 5 <= int(refused.headers["Retry-After"]) <= 23 * 3600
    assert len(emulator.control("GET", f"/mailboxes/{SERVICE}/events").json()["value"]) == 2

    emulator.advance_clock(23 * 3600)
    assert create(emulator, emulator.app_token(), EXTERNAL[2]).status_code == 201
    assert usage(emulator)["recipientsLast24Hours"] == 3


def test_messages_over_the_minute_rate_are_accepted_and_queued(
    emulator: EmulatorHandle, app: str
) -> None:
    limit(emulator, messagesPerMinute=2)
    for _ in range(3):
        assert create(emulator, app, ADA).status_code == 201
    assert usage(emulator)["deferredMessages"] == 1
    assert len(emulator.control("GET", f"/mailboxes/{ADA}/events").json()["value"]) == 3


def test_bad_limits_are_refused_and_change_nothing(emulator: EmulatorHandle) -> None:
    for bad in ({"recipientsPerDay": 0}, {"recipientsPerDay": "10"}, {"perHour": 5}):
        response = emulator.control("POST", f"/mailboxes/{SERVICE}/sending", bad)
        assert response.status_code == 400, bad
    assert usage(emulator)["limits"]["recipientsPerDay"] == 10_000


def _attendee(address: str) -> dict[str, Any]:
    return {"emailAddress": {"address": address}, "type": "required"}


def test_a_mailbox_seeded_with_its_own_limits_keeps_them(emulator: EmulatorHandle) -> None:
    seeded = emulator.control(
        "POST",
        "/seed",
        {
            "tenants": [
                {
                    "domain": "convene-platform.test",
                    "users": [
                        {
                            "userPrincipalName": "small@convene-platform.test",
                            "password": "x",
                            "sendingLimits": {"recipientsPerDay": 7},
                        }
                    ],
                }
            ]
        },
    )
    assert seeded.status_code == 201, seeded.text
    found = emulator.control("GET", "/mailboxes/small@convene-platform.test/sending").json()
    assert found["limits"]["recipientsPerDay"] == 7
    assert found["limits"]["recipientsPerMessage"] == 500


def test_a_seed_with_bad_sending_limits_is_refused(emulator: EmulatorHandle) -> None:
    user = {"userPrincipalName": "bad@convene-platform.test", "password": "x"}
    refused = emulator.control(
        "POST",
        "/seed",
        {
            "tenants": [
                {
                    "domain": "convene-platform.test",
                    "users": [{**user, "sendingLimits": {"recipientsPerDay": -1}}],
                }
            ]
        },
    )
    assert refused.status_code == 400
    assert "sendingLimits" in refused.text
    assert emulator.backend.user("bad@convene-platform.test") is None
