"""Reading users: GET /me and GET /users/{id | userPrincipalName} with the permissions Graph
asks for (User.Read for oneself, User.ReadBasic.All / User.Read.All for others)."""

from __future__ import annotations

from copy import deepcopy
from typing import Any
from urllib.parse import quote

from m365_emulator.testing import STANDARD_SEED, EmulatorHandle

ADA = "ada@contoso.test"
GRACE = "grace@contoso.test"
DEFAULTS = {
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
}


def test_me_with_user_read_answers_the_default_properties(emulator: EmulatorHandle) -> None:
    token = emulator.token_for(ADA, scopes=("User.Read",))
    response = emulator.graph("GET", "/me", token)
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
    assert set(body) - {"@odata.context"} == DEFAULTS
    assert body["userPrincipalName"] == ADA
    assert body["id"] == emulator.backend.user(ADA).id  # type: ignore[union-attr]


def test_me_with_select_names_the_list_in_the_context(emulator: EmulatorHandle) -> None:
    token = emulator.token_for(ADA, scopes=("User.Read",))
    body = emulator.graph("GET", "/me?$select=displayName,mail", token).json()
    assert body == {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(displayName,mail)/$entity",
        "displayName": body["displayName"],
        "mail": ADA,
    }


def test_me_without_a_user_permission_is_forbidden(emulator: EmulatorHandle) -> None:
    token = emulator.token_for(ADA, scopes=("Calendars.ReadWrite",))
    response = emulator.graph("GET", "/me", token)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Authorization_RequestDenied"


def test_oneself_by_user_principal_name_needs_only_user_read(emulator: EmulatorHandle) -> None:
    token = emulator.token_for(ADA, scopes=("User.Read",))
    response = emulator.graph("GET", f"/users/{quote(ADA)}", token)
    assert response.status_code == 200
    assert response.json()["userPrincipalName"] == ADA


def test_another_user_with_only_user_read_is_forbidden(emulator: EmulatorHandle) -> None:
    token = emulator.token_for(ADA, scopes=("User.Read",))
    response = emulator.graph("GET", f"/users/{quote(GRACE)}", token)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "Insufficient privileges to complete the operation."
    )


def test_me_with_an_app_only_token_is_a_bad_request(emulator: EmulatorHandle) -> None:
    response = emulator.graph("GET", "/me", emulator.app_token())
    assert response.status_code == 400


def test_app_only_reading_a_user_needs_user_read_all(emulator: EmulatorHandle) -> None:
    user = emulator.service_mailbox
    without = emulator.graph("GET", f"/users/{quote(user)}", emulator.app_token())
    assert without.status_code == 403
    emulator.reset(_with_application_permission("User.Read.All"))
    with_it = emulator.graph("GET", f"/users/{quote(user)}", emulator.app_token())
    assert with_it.status_code == 200
    assert with_it.json()["userPrincipalName"] == user


def test_an_unknown_user_is_not_found(emulator: EmulatorHandle) -> None:
    emulator.reset(_with_application_permission("User.Read.All"))
    response = emulator.graph("GET", "/users/nobody@convene-platform.test", emulator.app_token())
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "Request_ResourceNotFound"


def _with_application_permission(permission: str) -> dict[str, Any]:
    """The standard world, its app also holding this application permission."""
    seed: dict[str, Any] = deepcopy(STANDARD_SEED)
    for tenant in seed["tenants"]:
        for app in tenant.get("apps", []):
            app["applicationPermissions"] = [*app["applicationPermissions"], permission]
    return seed
