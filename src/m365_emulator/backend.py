"""The in-memory world of one emulator: tenants, users, app registrations, consents, policies.

Like a moto backend, it holds state only; the HTTP areas (``identity``, ``graph``, ``control``)
read and change it through its methods. Handlers run on the server's event loop while tests may
read it from another thread, so every method takes ``backend.lock`` itself (short critical
sections, no I/O inside); callers never hold the lock or touch the dicts. ``backend.identity``
and ``backend.graph`` share this one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, replace
from typing import Any

from m365_emulator.clock import Clock
from m365_emulator.config import EmulatorConfig
from m365_emulator.directory import AccessPolicy, App, RoomList, Tenant, User
from m365_emulator.faults import FaultBook
from m365_emulator.graph.store import GraphStore
from m365_emulator.identity.store import IdentityStore
from m365_emulator.seed import SeedError, parse_seed


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

    def tenant_of(self, user: User) -> Tenant:
        with self.lock:
            return self.tenants[user.tenant_id]

    def all_tenants(self) -> list[Tenant]:
        with self.lock:
            return list(self.tenants.values())

    def all_apps(self) -> list[App]:
        with self.lock:
            return list(self.apps.values())

    def users_in(self, tenant_id: str) -> list[User]:
        with self.lock:
            return [u for u in self.users.values() if u.tenant_id == tenant_id]

    # ----- consent and policies ------------------------------------------------------------

    def is_admin_consented(self, client_id: str, tenant_id: str) -> bool:
        app = self.app(client_id)
        return app is not None and tenant_id in app.admin_consented_tenants

    def grant_admin_consent(
        self, client_id: str, tenant_id: str, scopes: Iterable[str] | None = None
    ) -> None:
        """Consent for the whole tenant.

        Without ``scopes`` (``/.default``), to every permission registered on the app: its
        application permissions and every delegated scope. With ``scopes``, to those delegated
        scopes only, for every user: an application permission can only be asked for through
        ``/.default``, so naming scopes never grants one.
        """
        with self.lock:
            app = self.apps[client_id]
            if scopes is None:
                app.admin_consented_tenants.add(tenant_id)
            else:
                app.delegated_grants.setdefault(tenant_id, set()).update(scopes)

    def consented_scopes(self, user: User, app: App) -> set[str]:
        """Delegated scopes ``user`` may get for ``app`` without being asked."""
        with self.lock:
            if user.tenant_id in app.admin_consented_tenants:
                return set(app.delegated_scopes)
            return set(self.user_consents.get((user.id, app.client_id), set())) | set(
                app.delegated_grants.get(user.tenant_id, set())
            )

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

    def set_mailbox_enabled(self, user: User, enabled: bool) -> None:
        """A removed Exchange Online licence or a disabled mailbox (``enabled=False``)."""
        with self.lock:
            user.has_mailbox = enabled

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
        tenants, users, apps, consents, lists = parse_seed(data)
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
