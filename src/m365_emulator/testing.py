"""Helpers for tests that run against the emulator (used by ``tests/**/conftest.py``).

``STANDARD_SEED`` is a small two-tenant world; ``EmulatorHandle`` wraps a running emulator with
the app's credentials and shortcuts for tokens and the control API. Nothing here depends on
pytest, so any test runner can use it.
"""

from __future__ import annotations

import copy
import re
import ssl
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import httpx

from m365_emulator.backend import Backend
from m365_emulator.server import RunningEmulator

PLATFORM_TENANT_ID = "9b3f1c2e-5a4d-4e8b-9c1f-0a2b3c4d5e6f"
PLATFORM_DOMAIN = "convene-platform.test"
CUSTOMER_TENANT_ID = "4c8e2a1b-7d6f-4b3a-8e9d-1f2a3b4c5d6e"
CUSTOMER_DOMAIN = "contoso.test"
CLIENT_ID = "5f0e7d4c-3b2a-4190-8e7f-6d5c4b3a2910"
CLIENT_SECRET = "emulator-client-secret"
REDIRECT_URI = "http://localhost/callback"
PASSWORD = "Passw0rd!"
SERVICE_MAILBOX = f"events@{PLATFORM_DOMAIN}"

STANDARD_SEED: dict[str, Any] = {
    "tenants": [
        {
            "id": PLATFORM_TENANT_ID,
            "domain": PLATFORM_DOMAIN,
            "displayName": "Convene (platform)",
            "userConsent": True,
            "users": [
                {
                    "userPrincipalName": SERVICE_MAILBOX,
                    "displayName": "Convene Events",
                    "password": PASSWORD,
                },
                {
                    "userPrincipalName": f"admin@{PLATFORM_DOMAIN}",
                    "displayName": "Platform Admin",
                    "password": PASSWORD,
                    "isAdmin": True,
                },
            ],
            "apps": [
                {
                    "clientId": CLIENT_ID,
                    "clientSecret": CLIENT_SECRET,
                    "displayName": "Convene",
                    "redirectUris": [REDIRECT_URI],
                    "delegatedScopes": ["Calendars.ReadWrite", "User.Read"],
                    "applicationPermissions": ["Calendars.ReadWrite"],
                    "adminConsented": True,
                    "allowPublicClient": True,
                }
            ],
        },
        {
            "id": CUSTOMER_TENANT_ID,
            "domain": CUSTOMER_DOMAIN,
            "displayName": "Contoso",
            "userConsent": True,
            "users": [
                {
                    "userPrincipalName": f"{name}@{CUSTOMER_DOMAIN}",
                    "displayName": display,
                    "password": PASSWORD,
                }
                for name, display in (
                    ("ada", "Ada Lovelace"),
                    ("grace", "Grace Hopper"),
                    ("alan", "Alan Turing"),
                )
            ]
            + [
                {
                    "userPrincipalName": f"admin@{CUSTOMER_DOMAIN}",
                    "displayName": "Contoso Admin",
                    "password": PASSWORD,
                    "isAdmin": True,
                }
            ],
        },
    ]
}


def seed_with_delegated_scopes(*scopes: str) -> dict[str, Any]:
    """``STANDARD_SEED`` whose app registrations also list these delegated scopes (e.g.
    ``Mail.Read``), so that tokens may carry them."""
    seed = copy.deepcopy(STANDARD_SEED)
    for tenant in seed["tenants"]:
        for app in tenant.get("apps", []):
            app["delegatedScopes"] = [*app["delegatedScopes"], *scopes]
    return seed


def ca_context(ca_path: str) -> ssl.SSLContext:
    """An SSL context trusting only the emulator's CA (ignores REQUESTS_CA_BUNDLE & co)."""
    return ssl.create_default_context(cafile=ca_path)


def requests_session(ca_path: str, authority: str | None = None) -> Any:
    """A ``requests.Session`` for MSAL's ``http_client`` that really verifies with the CA.

    ``trust_env=False`` matters: otherwise ``REQUESTS_CA_BUNDLE`` overrides ``verify``. With
    ``authority`` given, it also repairs one MSAL quirk: before a password grant MSAL asks
    ``https://{host}/common/userrealm/...`` without the authority's port.
    """
    import requests

    class EmulatorSession(requests.Session):
        def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
            if authority is not None and isinstance(url, str):
                parsed = urlsplit(url)
                wanted = urlsplit(authority)
                if parsed.netloc == wanted.hostname and parsed.path.startswith(
                    "/common/userrealm/"
                ):
                    url = urlunsplit(parsed._replace(netloc=wanted.netloc))
            return super().request(method, url, *args, **kwargs)

    session = EmulatorSession()
    session.trust_env = False
    session.verify = ca_path
    return session


_FORM = re.compile(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', re.DOTALL)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def page_form(html: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the first form on an emulator page."""
    found = _FORM.search(html)
    if found is None:
        raise AssertionError(f"no form on the page:\n{html[:2000]}")
    fields = {unescape(k): unescape(v) for k, v in _HIDDEN.findall(found.group(2))}
    return unescape(found.group(1)), fields


def browser_sign_in(
    browser: httpx.Client,
    auth_uri: str,
    upn: str,
    password: str,
    *,
    consent: bool = True,
    for_organization: bool = False,
) -> str:
    """Play the person in the browser: sign in (and consent) on the emulator's pages.

    ``browser`` is an httpx client that keeps cookies and does not follow redirects. Returns
    the URL the emulator finally redirects to (the app's redirect URI with ``code`` or
    ``error``); for ``response_mode=form_post`` the posted fields are put in its query.
    """
    response = browser.get(auth_uri)
    for _ in range(6):
        if response.is_redirect:
            return str(response.headers["location"])
        if response.status_code != 200:
            raise AssertionError(f"sign-in page answered {response.status_code}: {response.text}")
        action, fields = page_form(response.text)
        step = fields.get("step")
        if step is None:  # form_post: the page posts these fields to the app
            return f"{action}?{urlencode(fields)}"
        if step == "signin":
            fields.update(username=upn, password=password, decision="signin")
        elif step == "select":
            fields["account"] = "other"
        elif step == "admin":  # "Need admin approval": the only way on is back to the app
            fields["decision"] = "cancel"
        elif step == "consent":
            fields["decision"] = "accept" if consent else "decline"
            if for_organization:
                fields["organization"] = "on"
        response = browser.post(urljoin(str(response.url), action), data=fields)
    raise AssertionError("the sign-in did not finish")


@dataclass
class EmulatorHandle:
    """A running emulator seeded with ``STANDARD_SEED`` and the app's credentials."""

    emulator: RunningEmulator
    http: httpx.Client
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    redirect_uri: str = REDIRECT_URI
    password: str = PASSWORD
    platform_tenant_id: str = PLATFORM_TENANT_ID
    customer_tenant_id: str = CUSTOMER_TENANT_ID
    service_mailbox: str = SERVICE_MAILBOX
    _tokens: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)

    @property
    def backend(self) -> Backend:
        return self.emulator.backend

    @property
    def authority(self) -> str:
        return self.emulator.authority

    @property
    def graph_url(self) -> str:
        return self.emulator.graph_url

    @property
    def ui_url(self) -> str:
        return self.emulator.ui_url

    @property
    def ca_path(self) -> str:
        return str(self.emulator.ca_path)

    def token_endpoint(self, tenant: str) -> str:
        return f"{self.authority}/{tenant}/oauth2/v2.0/token"

    def token_for(self, upn: str, scopes: tuple[str, ...] = ("Calendars.ReadWrite",)) -> str:
        """A delegated access token for a seeded user (password grant; consent granted first)."""
        key = (upn.lower(), scopes)
        if key in self._tokens:
            return self._tokens[key]
        user = self.backend.user(upn)
        if user is None:
            raise LookupError(f"no seeded user {upn}")
        self.backend.grant_user_consent(user.id, self.client_id, scopes)
        response = self.http.post(
            self.token_endpoint(user.tenant_id),
            data={
                "grant_type": "password",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "username": upn,
                "password": user.password,
                "scope": " ".join(f"https://graph.microsoft.com/{s}" for s in scopes),
            },
        )
        response.raise_for_status()
        token = str(response.json()["access_token"])
        self._tokens[key] = token
        return token

    def app_token(self, tenant_id: str = PLATFORM_TENANT_ID) -> str:
        """An app-only access token (client credentials) for ``tenant_id``."""
        response = self.http.post(
            self.token_endpoint(tenant_id),
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": "https://graph.microsoft.com/.default",
            },
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def graph(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        """Call Graph: ``path`` is relative to ``/v1.0`` (``"/me/events"``)."""
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return self.http.request(method, f"{self.graph_url}{path}", headers=headers, **kwargs)

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Call the control API: ``path`` is relative to ``/_emulator`` (``"/faults"``)."""
        return self.http.request(method, f"{self.authority}/_emulator{path}", json=body)

    def reset(self, seed: dict[str, Any] | None = STANDARD_SEED) -> None:
        self._tokens.clear()
        self.control("POST", "/reset").raise_for_status()
        if seed is not None:
            self.control("POST", "/seed", seed).raise_for_status()

    def advance_clock(self, seconds: float) -> None:
        self._tokens.clear()
        self.control("POST", "/clock", {"advanceSeconds": seconds}).raise_for_status()

    def requests_session(self) -> Any:
        return requests_session(self.ca_path, self.authority)

    def browser(self) -> httpx.Client:
        """A fresh 'browser' for the UI port: keeps cookies, does not follow redirects."""
        return httpx.Client(follow_redirects=False, timeout=10)

    def viewer(self, upn: str) -> httpx.Client:
        """A browser signed in to the mailbox viewer as ``upn`` (through its own sign-in page);
        the caller closes it."""
        browser = httpx.Client(base_url=self.emulator.ui_url, follow_redirects=True, timeout=10)
        page = browser.post("/mailboxes/sign-in", data={"username": upn, "password": self.password})
        if page.status_code != 200:
            browser.close()
            raise AssertionError(f"viewer sign-in as {upn} answered {page.status_code}")
        return browser

    def sign_in(self, auth_uri: str, upn: str, **options: Any) -> str:
        """Sign ``upn`` in on the emulator's pages (see ``browser_sign_in``)."""
        with self.browser() as browser:
            return browser_sign_in(browser, auth_uri, upn, self.password, **options)
