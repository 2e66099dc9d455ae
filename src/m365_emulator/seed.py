"""Reading a seed document (format in docs/emulator.md) into directory records.

Everything is checked before anything is returned, so a bad document changes nothing; the
``Backend`` then adds the records under its lock.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from m365_emulator.directory import BOOKING_MODES, App, RoomInfo, RoomList, Tenant, User
from m365_emulator.errors import GraphError
from m365_emulator.graph.sending import SendingLimits, limits_from_json

# Namespace for ids derived from names when a seed leaves them out, so they are stable.
_SEED_NAMESPACE = uuid.UUID("6d3f6a52-52c3-4f0c-9d0e-4d9e2f1c7a10")


class SeedError(ValueError):
    """A seed document is malformed; the message names the offending field."""


def parse_seed(
    data: Mapping[str, Any],
) -> tuple[list[Tenant], list[User], list[App], list[tuple[str, str]], list[RoomList]]:
    if not isinstance(data, Mapping):
        raise SeedError("the seed must be a JSON object with a 'tenants' list")
    _no_unknown_keys(data, {"tenants"}, "seed")
    raw_tenants = data.get("tenants")
    if not isinstance(raw_tenants, list):
        raise SeedError("tenants: must be a list")
    tenants: list[Tenant] = []
    users: list[User] = []
    apps: list[App] = []
    consents: list[tuple[str, str]] = []
    lists: list[RoomList] = []
    for t_index, raw in enumerate(raw_tenants):
        where = f"tenants[{t_index}]"
        if not isinstance(raw, Mapping):
            raise SeedError(f"{where}: must be an object")
        _no_unknown_keys(
            raw,
            {
                "id",
                "domain",
                "displayName",
                "userConsent",
                "users",
                "apps",
                "consentedApps",
                "rooms",
                "roomLists",
            },
            where,
        )
        domain = _required_str(raw, "domain", where).lower()
        tenant_id = _guid(raw.get("id") or _derived_id("tenant", domain), f"{where}.id")
        tenant = Tenant(
            id=tenant_id,
            domain=domain,
            user_consent=_bool(raw, "userConsent", True, where),
            display_name=_optional_str(raw, "displayName", where) or domain,
        )
        tenants.append(tenant)
        for u_index, raw_user in enumerate(_list(raw, "users", where)):
            users.append(_parse_user(raw_user, tenant, f"{where}.users[{u_index}]"))
        for l_index, raw_list in enumerate(_list(raw, "roomLists", where)):
            lists.append(_parse_room_list(raw_list, tenant, f"{where}.roomLists[{l_index}]"))
        for r_index, raw_room in enumerate(_list(raw, "rooms", where)):
            users.append(_parse_room(raw_room, tenant, f"{where}.rooms[{r_index}]"))
        for a_index, raw_app in enumerate(_list(raw, "apps", where)):
            app = _parse_app(raw_app, tenant, f"{where}.apps[{a_index}]")
            apps.append(app)
        for c_index, client_id in enumerate(_list(raw, "consentedApps", where)):
            consents.append((_guid(client_id, f"{where}.consentedApps[{c_index}]"), tenant.id))
    _unique([t.id for t in tenants], "tenant id")
    _unique([t.domain for t in tenants], "tenant domain")
    _unique([u.id for u in users], "user id")
    _unique([u.upn.lower() for u in users], "userPrincipalName")
    _unique([a.client_id for a in apps], "app clientId")
    _unique([r.email.lower() for r in lists], "room list emailAddress")
    known_lists = {r.email.lower() for r in lists}
    for user in users:
        listed = user.room.room_list if user.room is not None else None
        if listed is not None and listed.lower() not in known_lists:
            raise SeedError(f"room {user.upn}: unknown roomList {listed!r}")
    return tenants, users, apps, consents, lists


def _parse_user(raw: Any, tenant: Tenant, where: str) -> User:
    if not isinstance(raw, Mapping):
        raise SeedError(f"{where}: must be an object")
    _no_unknown_keys(
        raw,
        {
            "id",
            "userPrincipalName",
            "displayName",
            "password",
            "isAdmin",
            "hasMailbox",
            "allowedOnlineMeetingProviders",
            "defaultOnlineMeetingProvider",
            "sharesFreeBusy",
            "teamsMeetingDelaySeconds",
            "sendingLimits",
        },
        where,
    )
    upn = _required_str(raw, "userPrincipalName", where)
    if "@" not in upn:
        raise SeedError(f"{where}.userPrincipalName: {upn!r} is not of the form name@domain")
    allowed = (
        tuple(_list(raw, "allowedOnlineMeetingProviders", where))
        if "allowedOnlineMeetingProviders" in raw
        else ("teamsForBusiness",)
    )
    default = raw.get("defaultOnlineMeetingProvider", allowed[0] if allowed else "unknown")
    providers = ("teamsForBusiness", "skypeForBusiness", "skypeForConsumer")
    if any(p not in providers for p in allowed):
        raise SeedError(
            f"{where}.allowedOnlineMeetingProviders: each one of {', '.join(providers)}"
        )
    if default != "unknown" and default not in allowed:
        raise SeedError(
            f"{where}.defaultOnlineMeetingProvider: 'unknown' or one of the allowed providers"
        )
    return User(
        id=_guid(raw.get("id") or _derived_id("user", upn.lower()), f"{where}.id"),
        tenant_id=tenant.id,
        upn=upn,
        display_name=_optional_str(raw, "displayName", where) or upn.split("@")[0],
        password=_required_str(raw, "password", where),
        is_admin=_bool(raw, "isAdmin", False, where),
        has_mailbox=_bool(raw, "hasMailbox", True, where),
        online_meeting_providers=allowed,
        default_online_meeting_provider=default,
        shares_free_busy=_bool(raw, "sharesFreeBusy", True, where),
        teams_meeting_delay_seconds=_seconds(raw, "teamsMeetingDelaySeconds", where),
        sending_limits=_sending_limits(raw, where),
    )


def _sending_limits(raw: Mapping[str, Any], where: str) -> dict[str, int]:
    """The mailbox's own Exchange sending limits (JSON names, as the control API takes them)."""
    given = raw.get("sendingLimits", {})
    if not isinstance(given, Mapping):
        raise SeedError(f"{where}.sendingLimits: must be an object")
    try:
        limits_from_json(dict(given), SendingLimits())
    except GraphError as exc:
        raise SeedError(f"{where}.sendingLimits: {exc.message}") from None
    return dict(given)


def _seconds(raw: Mapping[str, Any], key: str, where: str) -> int:
    value = raw.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SeedError(f"{where}.{key}: must be a whole number of seconds >= 0")
    return value


def _parse_room_list(raw: Any, tenant: Tenant, where: str) -> RoomList:
    if not isinstance(raw, Mapping):
        raise SeedError(f"{where}: must be an object")
    _no_unknown_keys(raw, {"id", "emailAddress", "displayName"}, where)
    email = _required_str(raw, "emailAddress", where)
    if "@" not in email:
        raise SeedError(f"{where}.emailAddress: {email!r} is not of the form name@domain")
    return RoomList(
        id=_guid(raw.get("id") or _derived_id("roomlist", email.lower()), f"{where}.id"),
        tenant_id=tenant.id,
        email=email,
        display_name=_optional_str(raw, "displayName", where) or email.split("@")[0],
    )


def _parse_room(raw: Any, tenant: Tenant, where: str) -> User:
    """A room: a mailbox nobody signs in to, with what the places API shows of it."""
    if not isinstance(raw, Mapping):
        raise SeedError(f"{where}: must be an object")
    _no_unknown_keys(
        raw,
        {
            "id",
            "emailAddress",
            "displayName",
            "capacity",
            "building",
            "floorNumber",
            "roomList",
            "booking",
        },
        where,
    )
    email = _required_str(raw, "emailAddress", where)
    if "@" not in email:
        raise SeedError(f"{where}.emailAddress: {email!r} is not of the form name@domain")
    capacity, floor = raw.get("capacity"), raw.get("floorNumber")
    for name, value in (("capacity", capacity), ("floorNumber", floor)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise SeedError(f"{where}.{name}: must be a whole number")
    if capacity is not None and capacity < 1:
        raise SeedError(f"{where}.capacity: must be at least 1")
    booking = raw.get("booking", "autoAccept")
    if booking not in BOOKING_MODES:
        raise SeedError(f"{where}.booking: one of {', '.join(BOOKING_MODES)}")
    user_id = _guid(raw.get("id") or _derived_id("user", email.lower()), f"{where}.id")
    return User(
        id=user_id,
        tenant_id=tenant.id,
        upn=email,
        display_name=_optional_str(raw, "displayName", where) or email.split("@")[0],
        # Nobody signs in to a room mailbox: a password no one knows.
        password=secrets.token_urlsafe(24),
        room=RoomInfo(
            id=user_id,
            capacity=capacity,
            building=_optional_str(raw, "building", where),
            floor_number=floor,
            room_list=_optional_str(raw, "roomList", where),
            booking=booking,
        ),
    )


def _parse_app(raw: Any, tenant: Tenant, where: str) -> App:
    if not isinstance(raw, Mapping):
        raise SeedError(f"{where}: must be an object")
    _no_unknown_keys(
        raw,
        {
            "clientId",
            "clientSecret",
            "displayName",
            "redirectUris",
            "delegatedScopes",
            "applicationPermissions",
            "adminConsented",
            "certificates",
            "allowPublicClient",
        },
        where,
    )
    client_id = _guid(_required_str(raw, "clientId", where), f"{where}.clientId")
    certificates = [str(c) for c in _list(raw, "certificates", where)]
    for c_index, pem in enumerate(certificates):
        _check_certificate(pem, f"{where}.certificates[{c_index}]")
    app = App(
        client_id=client_id,
        client_secret=_optional_str(raw, "clientSecret", where),
        redirect_uris=[str(u) for u in _list(raw, "redirectUris", where)],
        delegated_scopes=frozenset(str(s) for s in _list(raw, "delegatedScopes", where)),
        application_permissions=frozenset(
            str(s) for s in _list(raw, "applicationPermissions", where)
        ),
        home_tenant_id=tenant.id,
        display_name=_optional_str(raw, "displayName", where) or f"App {client_id[:8]}",
        certificates=certificates,
        allow_public_client=_bool(raw, "allowPublicClient", False, where),
    )
    if _bool(raw, "adminConsented", False, where):
        app.admin_consented_tenants.add(tenant.id)
    return app


def _check_certificate(pem: str, where: str) -> None:
    from cryptography import x509

    try:
        x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise SeedError(f"{where}: not a PEM certificate ({exc})") from None


def _derived_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(_SEED_NAMESPACE, f"{kind}:{name}"))


def _guid(value: Any, where: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise SeedError(f"{where}: {value!r} is not a GUID") from None


def _required_str(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise SeedError(f"{where}.{key}: required, a non-empty string")
    return value


def _optional_str(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise SeedError(f"{where}.{key}: must be a string")
    return value


def _bool(raw: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise SeedError(f"{where}.{key}: must be true or false")
    return value


def _list(raw: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise SeedError(f"{where}.{key}: must be a list")
    return value


def _no_unknown_keys(raw: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SeedError(
            f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


def _unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise SeedError(f"duplicate {what} {value!r} in seed")
        seen.add(value)
