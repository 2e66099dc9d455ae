"""``authenticate`` and ``mailbox_for``: the access rules the Graph area relies on."""

from __future__ import annotations

import pytest
from starlette.requests import HTTPConnection

from m365_emulator.errors import GraphError
from m365_emulator.identity.access import Caller, authenticate, mailbox_for
from m365_emulator.testing import EmulatorHandle


def connection(token: str | None) -> HTTPConnection:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    return HTTPConnection(
        {
            "type": "http",
            "scheme": "https",
            "server": ("127.0.0.1", 443),
            "path": "/v1.0/me/events",
            "headers": headers,
        }
    )


def caller(emulator: EmulatorHandle, token: str) -> Caller:
    return authenticate(emulator.backend, connection(token))


def refused(emulator: EmulatorHandle, token: str | None) -> GraphError:
    with pytest.raises(GraphError) as raised:
        authenticate(emulator.backend, connection(token))
    return raised.value


def test_delegated_token_identifies_user_and_scopes(emulator: EmulatorHandle) -> None:
    found = caller(emulator, emulator.token_for("ada@contoso.test"))

    ada = emulator.backend.user("ada@contoso.test")
    assert ada is not None
    assert found == Caller(
        kind="delegated",
        client_id=emulator.client_id,
        tenant_id=emulator.customer_tenant_id,
        user_id=ada.id,
        scopes=frozenset({"Calendars.ReadWrite"}),
    )


def test_application_token_carries_roles(emulator: EmulatorHandle) -> None:
    found = caller(emulator, emulator.app_token())

    assert found.kind == "application"
    assert found.user_id is None
    assert found.scopes == frozenset({"Calendars.ReadWrite"})


def test_missing_token_is_401_with_a_bearer_challenge(emulator: EmulatorHandle) -> None:
    error = refused(emulator, None)

    assert (error.status, error.code) == (401, "InvalidAuthenticationToken")
    assert error.headers["WWW-Authenticate"].startswith("Bearer realm=")


def test_malformed_token_is_401(emulator: EmulatorHandle) -> None:
    assert refused(emulator, "not-a-jwt").code == "InvalidAuthenticationToken"


def test_expired_token_is_401_by_the_emulator_clock(emulator: EmulatorHandle) -> None:
    token = emulator.token_for("ada@contoso.test")
    emulator.advance_clock(90 * 60 + 1)  # past the longest lifetime Entra gives

    error = refused(emulator, token)

    assert error.status == 401
    assert "expired" in error.message


def test_revoking_access_tokens_refuses_those_issued_before(emulator: EmulatorHandle) -> None:
    token = emulator.token_for("ada@contoso.test")
    emulator.advance_clock(5)
    emulator.control(
        "POST", "/users/ada@contoso.test/revoke", {"accessTokens": True}
    ).raise_for_status()

    assert refused(emulator, token).status == 401


def test_delegated_caller_reaches_own_mailbox_via_me(emulator: EmulatorHandle) -> None:
    ada = caller(emulator, emulator.token_for("ada@contoso.test"))

    assert mailbox_for(emulator.backend, ada, None).upn == "ada@contoso.test"
    assert mailbox_for(emulator.backend, ada, "ADA@contoso.test", write=True).upn == (
        "ada@contoso.test"
    )


def test_delegated_caller_cannot_reach_another_mailbox(emulator: EmulatorHandle) -> None:
    ada = caller(emulator, emulator.token_for("ada@contoso.test"))

    with pytest.raises(GraphError) as raised:
        mailbox_for(emulator.backend, ada, "grace@contoso.test")

    assert (raised.value.status, raised.value.code) == (403, "ErrorAccessDenied")


def test_unknown_user_is_404_invalid_user(emulator: EmulatorHandle) -> None:
    app = caller(emulator, emulator.app_token())

    with pytest.raises(GraphError) as raised:
        mailbox_for(emulator.backend, app, "nobody@convene-platform.test")

    assert (raised.value.status, raised.value.code) == (404, "ErrorInvalidUser")


def test_application_caller_reaches_mailboxes_of_its_tenant(emulator: EmulatorHandle) -> None:
    app = caller(emulator, emulator.app_token())

    found = mailbox_for(emulator.backend, app, emulator.service_mailbox, write=True)

    assert found.upn == emulator.service_mailbox


def test_application_caller_cannot_use_me(emulator: EmulatorHandle) -> None:
    app = caller(emulator, emulator.app_token())

    with pytest.raises(GraphError) as raised:
        mailbox_for(emulator.backend, app, None)

    assert raised.value.status == 400


def test_application_caller_cannot_reach_another_tenant(emulator: EmulatorHandle) -> None:
    app = caller(emulator, emulator.app_token())

    with pytest.raises(GraphError) as raised:
        mailbox_for(emulator.backend, app, "ada@contoso.test")

    assert raised.value.status == 404


def test_access_policy_limits_app_to_listed_mailboxes(emulator: EmulatorHandle) -> None:
    emulator.control(
        "POST",
        f"/apps/{emulator.client_id}/access-policy",
        {"tenantId": emulator.platform_tenant_id, "allowedMailboxes": [emulator.service_mailbox]},
    ).raise_for_status()
    app = caller(emulator, emulator.app_token())

    allowed = mailbox_for(emulator.backend, app, emulator.service_mailbox)
    with pytest.raises(GraphError) as raised:
        mailbox_for(emulator.backend, app, "admin@convene-platform.test")

    assert allowed.upn == emulator.service_mailbox
    assert (raised.value.status, raised.value.message) == (403, "Access to OData is disabled.")


def test_removing_the_access_policy_restores_access(emulator: EmulatorHandle) -> None:
    path = f"/apps/{emulator.client_id}/access-policy"
    body = {"tenantId": emulator.platform_tenant_id, "allowedMailboxes": [emulator.service_mailbox]}
    emulator.control("POST", path, body).raise_for_status()
    emulator.http.request(
        "DELETE",
        f"{emulator.authority}/_emulator{path}",
        params={"tenantId": emulator.platform_tenant_id},
    ).raise_for_status()
    app = caller(emulator, emulator.app_token())

    assert mailbox_for(emulator.backend, app, "admin@convene-platform.test").upn == (
        "admin@convene-platform.test"
    )


def test_user_without_mailbox_is_refused(emulator: EmulatorHandle) -> None:
    emulator.control(
        "POST",
        "/seed",
        {
            "tenants": [
                {
                    "id": emulator.platform_tenant_id,
                    "domain": "convene-platform.test",
                    "users": [
                        {
                            "userPrincipalName": "guest@convene-platform.test",
                            "password": "x",
                            "hasMailbox": False,
                        }
                    ],
                }
            ]
        },
    ).raise_for_status()
    app = caller(emulator, emulator.app_token())

    with pytest.raises(GraphError) as raised:
        mailbox_for(emulator.backend, app, "guest@convene-platform.test")

    assert raised.value.code == "MailboxNotEnabledForRESTAPI"
