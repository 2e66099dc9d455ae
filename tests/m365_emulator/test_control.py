"""The core control API under ``/_emulator``."""

from __future__ import annotations

from datetime import datetime

import pytest

from m365_emulator.testing import EmulatorHandle


def test_reset_forgets_the_directory(emulator: EmulatorHandle) -> None:
    response = emulator.control("POST", "/reset")

    assert response.status_code == 200
    assert emulator.backend.user("ada@contoso.test") is None
    assert emulator.control("GET", "/directory").json() == {"tenants": [], "apps": []}


def test_reset_restores_the_starting_settings(emulator: EmulatorHandle) -> None:
    emulator.control("POST", "/config", {"access_token_lifetime": 60}).raise_for_status()

    emulator.control("POST", "/reset")

    assert emulator.control("GET", "/config").json()["access_token_lifetime"] == 0


def test_seed_reports_the_assigned_ids(emulator: EmulatorHandle) -> None:
    response = emulator.control(
        "POST",
        "/seed",
        {
            "tenants": [
                {
                    "domain": "fabrikam.test",
                    "users": [{"userPrincipalName": "ben@fabrikam.test", "password": "x"}],
                }
            ]
        },
    )

    assert response.status_code == 201
    [tenant] = response.json()["tenants"]
    [user] = tenant["users"]
    assert emulator.backend.user("ben@fabrikam.test").id == user["id"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("seed", "complaint"),
    [
        ({"tenants": [{"users": []}]}, "tenants[0].domain"),
        ({"tenants": [{"domain": "x.test", "id": "nope"}]}, "tenants[0].id"),
        (
            {"tenants": [{"domain": "x.test", "users": [{"userPrincipalName": "a@x.test"}]}]},
            "tenants[0].users[0].password",
        ),
        ({"tenants": [{"domain": "x.test", "colour": "red"}]}, "colour"),
        ({"tenants": [{"domain": "x.test", "apps": [{"clientId": "1"}]}]}, "clientId"),
        ({"tenant": []}, "tenant"),
    ],
)
def test_bad_seed_is_refused_with_the_offending_field(
    emulator: EmulatorHandle, seed: dict[str, object], complaint: str
) -> None:
    response = emulator.control("POST", "/seed", seed)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalidSeed"
    assert complaint in response.json()["error"]["message"]


def test_a_bad_seed_changes_nothing(emulator: EmulatorHandle) -> None:
    emulator.control(
        "POST",
        "/seed",
        {
            "tenants": [
                {
                    "domain": "good.test",
                    "users": [{"userPrincipalName": "a@good.test", "password": "x"}],
                },
                {
                    "domain": "bad.test",
                    "users": [{"userPrincipalName": "no-at-sign", "password": "x"}],
                },
            ]
        },
    )

    assert emulator.backend.tenant("good.test") is None


def test_seed_that_is_not_json_is_refused(emulator: EmulatorHandle) -> None:
    response = emulator.http.post(f"{emulator.authority}/_emulator/seed", content=b"{oops")

    assert response.status_code == 400
    assert "JSON" in response.json()["error"]["message"]


def test_clock_moves_forward(emulator: EmulatorHandle) -> None:
    before = datetime.fromisoformat(emulator.control("GET", "/clock").json()["now"])

    after = emulator.control("POST", "/clock", {"advanceSeconds": 86400}).json()["now"]

    assert (datetime.fromisoformat(after) - before).total_seconds() >= 86400


def test_clock_refuses_to_go_back(emulator: EmulatorHandle) -> None:
    assert emulator.control("POST", "/clock", {"advanceSeconds": -5}).status_code == 400


def test_config_is_read_and_updated(emulator: EmulatorHandle) -> None:
    updated = emulator.control("POST", "/config", {"latency_ms": 5, "throttling": False}).json()

    assert updated["latency_ms"] == 5
    assert updated["throttling"] is False
    assert emulator.backend.config.latency_ms == 5


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"latency": 5}, "unknown emulator settings: latency"),
        ({"latency_ms": "5"}, "latency_ms must be of type int"),
        ({"throttling": 1}, "throttling must be of type bool"),
        ({"latency_ms": -1}, "must not be negative"),
    ],
)
def test_bad_config_is_refused(
    emulator: EmulatorHandle, change: dict[str, object], complaint: str
) -> None:
    response = emulator.control("POST", "/config", change)

    assert response.status_code == 400
    assert complaint in response.json()["error"]["message"]


def test_revoke_of_an_unknown_user_is_404(emulator: EmulatorHandle) -> None:
    assert emulator.control("POST", "/users/nobody@contoso.test/revoke").status_code == 404


def test_access_policy_refuses_mailboxes_of_another_tenant(emulator: EmulatorHandle) -> None:
    response = emulator.control(
        "POST",
        f"/apps/{emulator.client_id}/access-policy",
        {"tenantId": emulator.platform_tenant_id, "allowedMailboxes": ["ada@contoso.test"]},
    )

    assert response.status_code == 400
    assert "ada@contoso.test" in response.json()["error"]["message"]


def test_admin_consent_shortcut_allows_client_credentials(emulator: EmulatorHandle) -> None:
    emulator.control(
        "POST", f"/apps/{emulator.client_id}/consent", {"tenantId": "contoso.test"}
    ).raise_for_status()

    assert emulator.app_token(emulator.customer_tenant_id)


def test_directory_lists_tenants_users_and_apps(emulator: EmulatorHandle) -> None:
    directory = emulator.control("GET", "/directory").json()

    domains = {t["domain"] for t in directory["tenants"]}
    assert domains == {"convene-platform.test", "contoso.test"}
    [app] = directory["apps"]
    assert app["adminConsentedTenants"] == [emulator.platform_tenant_id]


def test_disabling_a_mailbox_answers_mailbox_not_enabled(emulator: EmulatorHandle) -> None:
    token = emulator.token_for("ada@contoso.test")
    emulator.control("POST", "/users/ada@contoso.test/mailbox", {"enabled": False})

    response = emulator.graph("GET", "/me/events", token)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "MailboxNotEnabledForRESTAPI"


def test_enabling_the_mailbox_again_brings_its_events_back(emulator: EmulatorHandle) -> None:
    token = emulator.token_for("ada@contoso.test")
    emulator.graph(
        "POST",
        "/me/events",
        token,
        json={
            "subject": "Kept",
            "start": {"dateTime": "2030-01-01T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-01-01T11:00:00", "timeZone": "UTC"},
        },
    ).raise_for_status()
    emulator.control("POST", "/users/ada@contoso.test/mailbox", {"enabled": False})
    emulator.control("POST", "/users/ada@contoso.test/mailbox", {"enabled": True})

    events = emulator.graph("GET", "/me/events", token).json()["value"]

    assert [e["subject"] for e in events] == ["Kept"]


def test_mailbox_switch_needs_a_boolean(emulator: EmulatorHandle) -> None:
    response = emulator.control("POST", "/users/ada@contoso.test/mailbox", {"enabled": "no"})

    assert response.status_code == 400
