"""Reading a user: ``GET /me`` and ``GET /users/{id | userPrincipalName}``, with the permissions
Microsoft's "Get user" page asks for (api-reference/v1.0/api/user-get.md).

- ``/me`` needs a delegated token with User.Read or anything wider; an app-only token is 400.
- Another user needs User.ReadBasic.All (which shows only the basic properties) or wider,
  delegated; app-only tokens need User.Read.All (or wider) consented in the tenant.
- Without the permission Graph's directory answers 403 ``Authorization_RequestDenied``; an
  unknown user (or one of another tenant) is 404 ``Request_ResourceNotFound``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from m365_emulator.errors import GraphError

if TYPE_CHECKING:
    from m365_emulator.backend import Backend
    from m365_emulator.directory import User
    from m365_emulator.identity.access import Caller

_WIDE = frozenset(
    {
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    }
)
_OWN_DELEGATED = frozenset({"User.Read", "User.ReadWrite", "Directory.AccessAsUser.All"})
_OTHERS_BASIC = frozenset({"User.ReadBasic.All"})

# The properties Graph returns without $select (user-get.md).
DEFAULT_PROPERTIES = (
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
)
# What User.ReadBasic.All may read of other users.
BASIC_PROPERTIES = frozenset(
    {"displayName", "givenName", "id", "mail", "surname", "userPrincipalName"}
)


def _denied() -> GraphError:
    return GraphError(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )


def _not_found(user_ref: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{user_ref}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )


def readable_user(backend: Backend, caller: Caller, user_ref: str | None) -> tuple[User, bool]:
    """The user ``/me`` or ``/users/{user_ref}`` names, and whether only basic properties may
    be read; raises Graph's 400 / 403 / 404 otherwise."""
    if caller.kind == "application":
        if user_ref is None:
            raise GraphError(
                400, "BadRequest", "/me request is only valid with delegated authentication flow."
            )
        if not caller.scopes & _WIDE or not backend.is_admin_consented(
            caller.client_id, caller.tenant_id
        ):
            raise _denied()
        target = backend.user(user_ref)
        if target is None or target.tenant_id != caller.tenant_id:
            raise _not_found(user_ref)
        return target, False

    assert caller.user_id is not None  # delegated callers always carry a user
    target = backend.user(user_ref if user_ref is not None else caller.user_id)
    if target is None or target.tenant_id != caller.tenant_id:
        raise _not_found(user_ref or "me")
    if target.id == caller.user_id and caller.scopes & (_OWN_DELEGATED | _OTHERS_BASIC | _WIDE):
        return target, False
    if caller.scopes & _WIDE:
        return target, False
    if caller.scopes & _OTHERS_BASIC:
        return target, True
    raise _denied()


def user_json(user: User, *, select: list[str] | None, basic_only: bool) -> dict[str, Any]:
    """A user as Graph returns it; properties the directory does not hold are null."""
    given, _, surname = user.display_name.partition(" ")
    known: dict[str, Any] = {
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": given or None,
        "jobTitle": None,
        "mail": user.mail if user.has_mailbox else None,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": surname or None,
        "userPrincipalName": user.upn,
        "id": user.id,
    }
    names = select or list(DEFAULT_PROPERTIES)
    by_lower = {name.lower(): name for name in known}
    data: dict[str, Any] = {}
    for name in names:
        canonical = by_lower.get(name.lower())
        if canonical is None:
            # A property this directory does not model: Graph would return its value; null
            # is what an unset one reads as.
            data[name] = None
        elif not basic_only or canonical in BASIC_PROPERTIES:
            data[canonical] = known[canonical]
    return data
