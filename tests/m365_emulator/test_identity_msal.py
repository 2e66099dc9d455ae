"""The real ``msal`` library against the emulator, over HTTPS."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
import msal
import pytest

from m365_emulator.testing import EmulatorHandle

GRAPH_CALENDARS = ["https://graph.microsoft.com/Calendars.ReadWrite"]


def confidential_app(emulator: EmulatorHandle, tenant: str = "organizations") -> Any:
    return msal.ConfidentialClientApplication(
        emulator.client_id,
        client_credential=emulator.client_secret,
        authority=f"{emulator.authority}/{tenant}",
        instance_discovery=False,
        http_client=emulator.requests_session(),
    )


def claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def sign_in_with_msal(emulator: EmulatorHandle, app: Any, upn: str) -> dict[str, Any]:
    flow = app.initiate_auth_code_flow(
        GRAPH_CALENDARS, redirect_uri=emulator.redirect_uri, response_mode="form_post"
    )
    redirect = emulator.sign_in(flow["auth_uri"], upn)
    auth_response = {k: v[0] for k, v in parse_qs(urlparse(redirect).query).items()}
    result: dict[str, Any] = app.acquire_token_by_auth_code_flow(flow, auth_response)
    return result


def test_auth_code_flow_gives_tokens_for_the_signed_in_user(emulator: EmulatorHandle) -> None:
    app = confidential_app(emulator)

    result = sign_in_with_msal(emulator, app, "ada@contoso.test")

    assert "access_token" in result, result
    access = claims(result["access_token"])
    assert access["scp"] == "Calendars.ReadWrite"
    assert access["tid"] == emulator.customer_tenant_id
    assert access["aud"] == "https://graph.microsoft.com"
    assert result["id_token_claims"]["preferred_username"] == "ada@contoso.test"
    assert "refresh_token" in result


def test_auth_code_flow_registers_the_account_from_client_info(emulator: EmulatorHandle) -> None:
    app = confidential_app(emulator)
    sign_in_with_msal(emulator, app, "ada@contoso.test")

    [account] = app.get_accounts()

    ada = emulator.backend.user("ada@contoso.test")
    assert ada is not None
    assert account["home_account_id"] == f"{ada.id}.{emulator.customer_tenant_id}"
    assert account["username"] == "ada@contoso.test"


def _cached_refresh_token(app: Any) -> str:
    [entry] = app.token_cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN)
    return str(entry["secret"])


def test_silent_refresh_gets_a_new_refresh_token_and_the_old_one_stays_valid(
    emulator: EmulatorHandle,
) -> None:
    # Under five minutes of lifetime makes MSAL refresh on every silent call.
    emulator.control("POST", "/config", {"access_token_lifetime": 120}).raise_for_status()
    app = confidential_app(emulator)
    first = sign_in_with_msal(emulator, app, "ada@contoso.test")
    old_refresh_token = _cached_refresh_token(app)
    emulator.advance_clock(200)

    [account] = app.get_accounts()
    refreshed = app.acquire_token_silent(GRAPH_CALENDARS, account=account)

    assert refreshed is not None and "access_token" in refreshed, refreshed
    assert refreshed["access_token"] != first["access_token"]
    assert _cached_refresh_token(app) != old_refresh_token
    # Entra does not revoke a refresh token when it is used.
    replay = app.acquire_token_by_refresh_token(old_refresh_token, GRAPH_CALENDARS)
    assert "access_token" in replay, replay


def test_revoke_on_use_fault_rule_spends_a_used_refresh_token(emulator: EmulatorHandle) -> None:
    emulator.control("POST", "/config", {"access_token_lifetime": 120}).raise_for_status()
    emulator.control("POST", "/faults", {"endpoint": "token", "action": "revokeOnUse"})
    app = confidential_app(emulator)
    sign_in_with_msal(emulator, app, "ada@contoso.test")
    old_refresh_token = _cached_refresh_token(app)
    emulator.advance_clock(200)

    [account] = app.get_accounts()
    refreshed = app.acquire_token_silent(GRAPH_CALENDARS, account=account)

    assert refreshed is not None and "access_token" in refreshed, refreshed
    replay = app.acquire_token_by_refresh_token(old_refresh_token, GRAPH_CALENDARS)
    assert replay["error"] == "invalid_grant"
    assert replay["error_codes"] == [70000]


def test_revoked_refresh_token_gives_invalid_grant(emulator: EmulatorHandle) -> None:
    emulator.control("POST", "/config", {"access_token_lifetime": 120}).raise_for_status()
    app = confidential_app(emulator)
    sign_in_with_msal(emulator, app, "ada@contoso.test")
    emulator.control("POST", "/users/ada@contoso.test/revoke").raise_for_status()
    emulator.advance_clock(1)

    [account] = app.get_accounts()
    result = app.acquire_token_silent_with_error(GRAPH_CALENDARS, account=account)

    assert result is not None
    assert result["error"] == "invalid_grant"
    assert result["error_codes"] == [50173]


def test_client_credentials(emulator: EmulatorHandle) -> None:
    app = confidential_app(emulator, emulator.platform_tenant_id)

    result = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])

    assert "access_token" in result, result
    access = claims(result["access_token"])
    assert access["roles"] == ["Calendars.ReadWrite"]
    assert access["tid"] == emulator.platform_tenant_id
    assert "scp" not in access


def test_wrong_client_secret_is_refused(emulator: EmulatorHandle) -> None:
    app = msal.ConfidentialClientApplication(
        emulator.client_id,
        client_credential="not-the-secret",
        authority=f"{emulator.authority}/{emulator.platform_tenant_id}",
        instance_discovery=False,
        http_client=emulator.requests_session(),
    )

    result = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])

    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: ")


def test_public_client_username_password(emulator: EmulatorHandle) -> None:
    emulator.control(
        "POST", f"/apps/{emulator.client_id}/consent", {"userPrincipalName": "grace@contoso.test"}
    ).raise_for_status()
    app = msal.PublicClientApplication(
        emulator.client_id,
        authority=f"{emulator.authority}/organizations",
        instance_discovery=False,
        http_client=emulator.requests_session(),
    )

    with pytest.warns(DeprecationWarning):
        result = app.acquire_token_by_username_password(
            "grace@contoso.test", emulator.password, scopes=GRAPH_CALENDARS
        )

    assert "access_token" in result, result
    assert claims(result["access_token"])["upn"] == "grace@contoso.test"
    assert claims(result["access_token"])["appidacr"] == "0"


def test_auth_code_flow_uses_pkce_and_a_wrong_verifier_is_refused(
    emulator: EmulatorHandle,
) -> None:
    app = confidential_app(emulator)
    flow = app.initiate_auth_code_flow(GRAPH_CALENDARS, redirect_uri=emulator.redirect_uri)
    assert "code_challenge_method=S256" in flow["auth_uri"]
    redirect = emulator.sign_in(flow["auth_uri"], "ada@contoso.test")
    auth_response = {k: v[0] for k, v in parse_qs(urlparse(redirect).query).items()}
    flow["code_verifier"] = "x" * 43  # not the verifier of the challenge sent

    result = app.acquire_token_by_auth_code_flow(flow, auth_response)

    assert result["error"] == "invalid_grant"
    assert result["error_codes"] == [501481]


def test_a_token_from_msal_reads_me(emulator: EmulatorHandle) -> None:
    app = confidential_app(emulator)
    flow = app.initiate_auth_code_flow(
        [*GRAPH_CALENDARS, "https://graph.microsoft.com/User.Read"],
        redirect_uri=emulator.redirect_uri,
    )
    redirect = emulator.sign_in(flow["auth_uri"], "ada@contoso.test")
    auth_response = {k: v[0] for k, v in parse_qs(urlparse(redirect).query).items()}
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)

    me = emulator.graph("GET", "/me", result["access_token"])

    assert me.status_code == 200, me.text
    assert me.json()["userPrincipalName"] == "ada@contoso.test"
