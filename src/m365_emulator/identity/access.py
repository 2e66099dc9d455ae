"""Who is calling Graph, and which mailbox may they reach.

The Graph area calls ``authenticate`` once per request and ``mailbox_for`` to turn ``/me`` or
``/users/{id | userPrincipalName}`` into a user, with Exchange's access rules applied:
delegated tokens reach only the signed-in user's mailbox; application tokens reach mailboxes of
a tenant whose admin consented, narrowed by an application access policy if one exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from starlette.requests import HTTPConnection

from m365_emulator.errors import GraphError
from m365_emulator.identity.tokens import TokenRejected, read_access_token

if TYPE_CHECKING:
    from m365_emulator.backend import Backend
    from m365_emulator.directory import User

# Application permissions and delegated scopes that allow reading / writing calendars.
_READ_SCOPES = frozenset({"Calendars.Read", "Calendars.ReadWrite"})
_WRITE_SCOPES = frozenset({"Calendars.ReadWrite"})
# Reading messages (the meeting requests and answers in an Inbox) needs a mail permission;
# with ``Mail.ReadBasic`` only, a message comes without its body and bodyPreview.
MAIL_READ_SCOPES = frozenset({"Mail.Read", "Mail.ReadWrite"})
_MAIL_SCOPES = MAIL_READ_SCOPES | {"Mail.ReadBasic", "Mail.ReadBasic.All"}


@dataclass(frozen=True)
class Caller:
    kind: Literal["delegated", "application"]
    client_id: str
    tenant_id: str
    user_id: str | None
    # Delegated scopes ("Calendars.ReadWrite") or application roles, as in the token.
    scopes: frozenset[str]


def _unauthorized(connection: HTTPConnection, message: str) -> GraphError:
    authority = f"{connection.url.scheme}://{connection.url.netloc}"
    challenge = (
        f'Bearer realm="", authorization_uri="{authority}/common/oauth2/authorize", '
        'client_id="00000003-0000-0000-c000-000000000000"'
    )
    return GraphError(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": challenge})


def authenticate(backend: Backend, request: HTTPConnection) -> Caller:
    """The caller behind the request's bearer token, or 401 ``InvalidAuthenticationToken``."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized(request, "Access token is empty.")
    try:
        claims = read_access_token(backend, token.strip())
    except TokenRejected as exc:
        raise _unauthorized(request, str(exc)) from None
    client_id = str(claims.get("appid", ""))
    tenant_id = str(claims.get("tid", ""))
    if backend.app(client_id) is None or backend.tenant(tenant_id) is None:
        raise _unauthorized(request, "Access token validation failure.")
    if claims.get("idtyp") == "app" or "scp" not in claims:
        return Caller(
            kind="application",
            client_id=client_id,
            tenant_id=tenant_id,
            user_id=None,
            scopes=frozenset(claims.get("roles", [])),
        )
    user = backend.user(str(claims.get("oid", "")))
    if user is None:
        raise _unauthorized(request, "Access token validation failure.")
    valid_from = user.access_tokens_valid_from
    issued = datetime.fromtimestamp(int(claims.get("iat", 0)), tz=backend.clock.now().tzinfo)
    if valid_from is not None and issued < valid_from.replace(microsecond=0):
        raise _unauthorized(request, "Access token has expired or is not yet valid.")
    return Caller(
        kind="delegated",
        client_id=client_id,
        tenant_id=tenant_id,
        user_id=user.id,
        scopes=frozenset(str(claims["scp"]).split()),
    )


def caller_mailbox_hint(backend: Backend, request: HTTPConnection) -> User | None:
    """The signed-in user of a delegated token, without raising (for fault rules and stats)."""
    try:
        caller = authenticate(backend, request)
    except GraphError:
        return None
    return backend.user(caller.user_id) if caller.user_id else None


def mailbox_for(
    backend: Backend,
    caller: Caller,
    user_ref: str | None,
    write: bool = False,
    mail: bool = False,
) -> User:
    """The mailbox owner for ``/me`` (``user_ref=None``) or ``/users/{user_ref}``.

    Raises 403 ``ErrorAccessDenied`` when the caller may not reach it, 404 ``ErrorInvalidUser``
    for an unknown user and 404 ``MailboxNotEnabledForRESTAPI`` for a user without a mailbox.
    """
    needed = _MAIL_SCOPES if mail else _WRITE_SCOPES if write else _READ_SCOPES
    if caller.kind == "delegated":
        if user_ref is None:
            assert caller.user_id is not None  # delegated callers always carry a user
            target = backend.user(caller.user_id)
        else:
            target = backend.user(user_ref)
        if target is None:
            raise _invalid_user(user_ref or "")
        if target.id != caller.user_id:
            raise GraphError(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        if not caller.scopes & needed:
            raise GraphError(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        return _with_mailbox(target)

    if user_ref is None:
        # Graph answers /me with an app-only token this way.
        raise GraphError(
            400,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        )
    target = backend.user(user_ref)
    if target is None or target.tenant_id != caller.tenant_id:
        # App-only tokens are scoped to one tenant; other tenants' users do not exist for them.
        raise _invalid_user(user_ref)
    if not (caller.scopes & needed) or not backend.is_admin_consented(
        caller.client_id, caller.tenant_id
    ):
        raise GraphError(
            403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
        )
    policy = backend.access_policy(caller.client_id, caller.tenant_id)
    if policy is not None and target.id not in policy.allowed_user_ids:
        raise GraphError(403, "ErrorAccessDenied", "Access to OData is disabled.")
    return _with_mailbox(target)


def _invalid_user(user_ref: str) -> GraphError:
    # What Exchange answers for /users/{x}/... when x names no mailbox user it knows.
    return GraphError(404, "ErrorInvalidUser", f"The requested user '{user_ref}' is invalid.")


def _with_mailbox(user: User) -> User:
    if not user.has_mailbox:
        raise GraphError(
            404,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        )
    return user
