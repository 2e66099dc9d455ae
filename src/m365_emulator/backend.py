"""The in-memory world of one emulator: tenants, users, app registrations, consents, policies.

Like a moto backend, it holds state only; the HTTP areas (``identity``, ``graph``, ``control``)
read and change it. Handlers run on the server's event loop while tests may read it from another
thread, so every change happens under ``backend.lock`` (short critical sections, no I/O inside).
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from m365_emulator.clock import Clock
from m365_emulator.config import EmulatorConfig
from m365_emulator.faults import FaultBook
from m365_emulator.graph.places import BOOKING_MODES, RoomInfo, RoomList
from m365_emulator.graph.store import GraphStore
from m365_emulator.identity.store import IdentityStore

# Namespace for ids derived from names when a seed leaves them out, so they are stable.
_SEED_NAMESPACE = uuid.UUID("6d3f6a52-52c3-4f0c-9d0e-4d9e2f1c7a10")

# Microsoft Graph's own application id; access tokens for Graph carry it (or its URL) as audience.
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"


class SeedError(ValueError):
    """A seed document is malformed; the message names the offending field."""


@dataclass
class Tenant:
    id: str
    domain: str
    user_consent: bool = True
    display_name: str = ""


@dataclass
class User:
    id: str
    tenant_id: str
    upn: str
    display_name: str
    password: str
    is_admin: bool = False
    has_mailbox: bool = True
    # The calendar's online meeting providers (calendar.allowedOnlineMeetingProviders and
    # defaultOnlineMeetingProvider): a tenant with Teams allows teamsForBusiness.
    online_meeting_providers: tuple[str, ...] = ("teamsForBusiness",)
    default_online_meeting_provider: str = "teamsForBusiness"
    # False: the mailbox shares no free/busy with others (getSchedule answers an error for it).
    shares_free_busy: bool = True
    # > 0: Teams meetings of this mailbox's events appear that many seconds after the event
    # asked for one (the create answers without ``onlineMeeting``).
    teams_meeting_delay_seconds: int = 0
    # Set for a room mailbox (places API, booking mode).
    room: RoomInfo | None = None
    # Refresh tokens (and, for revocation with ``accessTokens``, access tokens) issued before
    # this instant are refused, as after a password reset or an admin's "revoke sessions".
    refresh_tokens_valid_from: datetime | None = None
    access_tokens_valid_from: datetime | None = None

    @property
    def mail(self) -> str:
        return self.upn


@dataclass
class App:
    client_id: str
    client_secret: str | None
    redirect_uris: list[str]
    delegated_scopes: frozenset[str]
    application_permissions: frozenset[str]
    home_tenant_id: str
    admin_consented_tenants: set[str] = field(default_factory=set)
    display_name: str = ""
    # PEM certificates whose keys may sign a ``client_assertion`` for this app.
    certificates: list[str] = field(default_factory=list)
    # "Allow public client flows": username/password without a client secret.
    allow_public_client: bool = False


@dataclass(frozen=True)
class AccessPolicy:
    """An application access policy: the app reaches only these mailboxes in the tenant."""

    client_id: str
    tenant_id: str
    allowed_user_ids: frozenset[str]


class Backend:
    def __init__(self, config: EmulatorConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or EmulatorConfig()
        # What ``reset()`` returns the settings to (the CLI flags or the test's choice).
        self._initial_config = replace(self.config)
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        # Public base URLs, set by the server once its ports are known.
        self.authority: str | None = None
        self.ui_url: str | None = None
        self.tenants: dict[str, Tenant] = {}
        self.users: dict[str, User] = {}
        # Lower-cased UPN -> user id, so Graph's /users/{upn} lookups stay O(1).
        self._user_ids_by_upn: dict[str, str] = {}
        self.apps: dict[str, App] = {}
        # (user id, client id) -> delegated scopes the user consented to.
        self.user_consents: dict[tuple[str, str], set[str]] = {}
        self.access_policies: dict[tuple[str, str], AccessPolicy] = {}
        # Lower-cased emailAddress -> room list (the places API).
        self.room_lists: dict[str, RoomList] = {}
        self.faults = FaultBook()
        self.identity = IdentityStore(self)
        self.graph = GraphStore(self)

    # ----- lookups -------------------------------------------------------------------------

    def user(self, id_or_upn: str) -> User | None:
        """The user with this object id or userPrincipalName (case-insensitive, as Entra)."""
        with self.lock:
            found = self.users.get(id_or_upn)
            if found is not None:
                return found
            wanted = id_or_upn.lower()
            indexed = self.users.get(self._user_ids_by_upn.get(wanted, ""))
            if indexed is not None and indexed.upn.lower() == wanted:
                return indexed
            for user in self.users.values():
                if user.upn.lower() == wanted or user.id.lower() == wanted:
                    return user
            return None

    def tenant(self, id_or_domain: str) -> Tenant | None:
        """The tenant with this id or verified domain (case-insensitive)."""
        with self.lock:
            wanted = id_or_domain.lower()
            for tenant in self.tenants.values():
                if tenant.id.lower() == wanted or tenant.domain.lower() == wanted:
                    return tenant
            return None

    def app(self, client_id: str) -> App | None:
        with self.lock:
            return self.apps.get(client_id) or self.apps.get(client_id.lower())

    def users_in(self, tenant_id: str) -> list[User]:
        with self.lock:
            return [u for u in self.users.values() if u.tenant_id == tenant_id]

    # ----- consent and policies ------------------------------------------------------------

    def is_admin_consented(self, client_id: str, tenant_id: str) -> bool:
        app = self.app(client_id)
        return app is not None and tenant_id in app.admin_consented_tenants

    def grant_admin_consent(self, client_id: str, tenant_id: str) -> None:
        """Consent for the whole tenant: app permissions and every registered delegated scope."""
        with self.lock:
            app = self.apps[client_id]
            app.admin_consented_tenants.add(tenant_id)

    def consented_scopes(self, user: User, app: App) -> set[str]:
        """Delegated scopes ``user`` may get for ``app`` without being asked."""
        with self.lock:
            if user.tenant_id in app.admin_consented_tenants:
                return set(app.delegated_scopes)
            return set(self.user_consents.get((user.id, app.client_id), set()))

    def grant_user_consent(self, user_id: str, client_id: str, scopes: Iterable[str]) -> None:
        with self.lock:
            self.user_consents.setdefault((user_id, client_id), set()).update(scopes)

    def set_access_policy(
        self, client_id: str, tenant_id: str, allowed_user_ids: Iterable[str]
    ) -> AccessPolicy:
        with self.lock:
            policy = AccessPolicy(client_id, tenant_id, frozenset(allowed_user_ids))
            self.access_policies[(client_id, tenant_id)] = policy
            return policy

    def remove_access_policy(self, client_id: str, tenant_id: str) -> bool:
        with self.lock:
            return self.access_policies.pop((client_id, tenant_id), None) is not None

    def access_policy(self, client_id: str, tenant_id: str) -> AccessPolicy | None:
        with self.lock:
            return self.access_policies.get((client_id, tenant_id))

    def revoke_sessions(self, user: User, *, access_tokens: bool = False) -> None:
        """Invalidate the user's refresh tokens (and optionally access tokens) issued until now."""
        with self.lock:
            now = self.clock.now()
            user.refresh_tokens_valid_from = now
            if access_tokens:
                user.access_tokens_valid_from = now

    # ----- lifecycle -----------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything (tenants, users, apps, tokens, mailboxes, faults), rewind the clock
        and restore the settings the emulator started with."""
        with self.lock:
            self.config.update(asdict(self._initial_config))
            self.faults.clear()
            self.tenants.clear()
            self.users.clear()
            self._user_ids_by_upn.clear()
            self.apps.clear()
            self.user_consents.clear()
            self.access_policies.clear()
            self.room_lists.clear()
            self.clock.reset()
            self.identity.reset()
            self.graph.reset()

    def seed(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Add the tenants, users and apps of a seed document (format in docs/emulator.md).

        Validates everything first, so a bad document changes nothing. Returns a summary with the
        ids that were assigned.
        """
        tenants, users, apps, consents, lists = _parse_seed(data)
        with self.lock:
            for tenant in tenants:
                existing = self.tenants.get(tenant.id)
                if existing is not None and existing.domain.lower() != tenant.domain.lower():
                    raise SeedError(f"tenant {tenant.id} already exists with another domain")
            known_apps = set(self.apps) | {a.client_id for a in apps}
            for client_id, _tenant_id in consents:
                if client_id not in known_apps:
                    raise SeedError(f"consentedApps: unknown app {client_id}")
            for user in users:
                clash = self.user(user.upn)
                if clash is not None and clash.id != user.id:
                    raise SeedError(f"user {user.upn} already exists with id {clash.id}")
            for tenant in tenants:
                self.tenants.setdefault(tenant.id, tenant)
            for user in users:
                self.users[user.id] = user
                self._user_ids_by_upn[user.upn.lower()] = user.id
            for app in apps:
                self.apps[app.client_id] = app
            for found in lists:
                self.room_lists[found.email.lower()] = found
            for client_id, tenant_id in consents:
                self.apps[client_id].admin_consented_tenants.add(tenant_id)
        return {
            "tenants": [
                {
                    "id": t.id,
                    "domain": t.domain,
                    "users": [
                        {"id": u.id, "userPrincipalName": u.upn}
                        for u in users
                        if u.tenant_id == t.id
                    ],
                }
                for t in tenants
            ],
            "apps": [a.client_id for a in apps],
        }


# ----- seed parsing ------------------------------------------------------------------------


def _parse_seed(
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
    )


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
