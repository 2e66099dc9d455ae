"""Everything that talks to the Microsoft identity platform, through MSAL.

- ``start_sign_in`` / ``finish_sign_in``: the authorization code flow with PKCE for an organizer,
  its state kept server-side in the Django session and usable once.
- ``delegated_token``: an access token from a stored (serialized) MSAL token cache, refreshed
  silently; the caller persists the cache when MSAL rotated the refresh token.
- ``app_token``: client credentials for the platform calendar.

Nothing else in Convene imports ``msal``.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit, urlunsplit

import msal
import requests
from django.core import signing

from convene.outlook.microsoft import crypto
from convene.outlook.microsoft.errors import AuthorizationLost, MicrosoftError, Rejected, Transient
from convene.outlook.microsoft.registration import AppRegistration

# MSAL's debug log holds token request bodies (authorization codes, PKCE verifiers, refresh
# tokens): whatever level the site logs at, MSAL never logs below INFO (settings keep its
# routine INFO lines out too, at WARNING).
_msal_log = logging.getLogger("msal")
_msal_log.setLevel(max(_msal_log.getEffectiveLevel(), logging.INFO))

# Delegated permissions Convene asks for; MSAL adds openid, profile and offline_access itself.
DELEGATED_SCOPES = ["Calendars.ReadWrite", "User.Read"]
# Asked only of an admin who reads the tenant's rooms in organizer mode (incremental consent:
# organizers are never asked for it). List places accepts it delegated (work or school).
PLACES_SCOPES = ["Place.Read.All"]
# Asked of organizers only while the admin wants decline comments shown (OutlookSettings.
# show_decline_comments), on top of the calendar scopes (incremental consent): a decline's
# comment is the body of the answer message in the organizer's mailbox, and a message's body
# needs Mail.Read (Mail.ReadBasic leaves it out).
MAIL_SCOPES = ["Mail.Read"]
APP_SCOPES = ["https://graph.microsoft.com/.default"]
# What an organization's admin approves for organizer calendars: the same delegated scopes,
# named. Never /.default: that asks for every permission on the registration, application
# permissions included (read and write of every calendar in the organization).
ORGANIZER_CONSENT_SCOPES = [
    *(f"https://graph.microsoft.com/{scope}" for scope in DELEGATED_SCOPES),
    "offline_access",
    "openid",
    "profile",
]

# Errors after which only the person can restore access (identity platform error codes).
_LOST = {"invalid_grant", "interaction_required", "consent_required", "login_required"}

# Sign-ins in progress, per Django session: state -> what we need to finish them.
SESSION_KEY = "outlook_sign_ins"
SIGN_IN_TTL_SECONDS = 15 * 60
_STATE_SALT = "convene.outlook.sign-in-state"


# What MSAL raises when Microsoft's identity platform cannot be reached (requests' errors), or
# answers with a server error rather than an OAuth error (``MsalServiceError``, from a 5xx): both
# pass, and neither says anything about the person's authorization.
UNAVAILABLE = (requests.RequestException, msal.exceptions.MsalServiceError)


class SignInError(MicrosoftError):
    """A sign-in that cannot complete; ``reason`` picks the page that explains what to do."""

    def __init__(self, reason: str, message: str, *, code: str = "", return_to: str = "") -> None:
        super().__init__(message, code=code)
        self.reason = reason
        # Where the person was going when the sign-in started (e.g. their event form with its
        # draft), when known: every way out of a failed sign-in leads back there.
        self.return_to = return_to
        # The delegated scopes that sign-in asked for (when known).
        self.scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignedIn:
    username: str
    tenant_id: str
    home_account_id: str
    token_cache: str
    return_to: str
    # The delegated scopes Microsoft granted (as its token answer lists them).
    scopes: frozenset[str] = frozenset()

    def granted(self, scope: str) -> bool:
        """Whether ``scope`` (``Mail.Read``) is among the granted scopes, named short or as
        ``https://graph.microsoft.com/Mail.Read``."""
        wanted = scope.lower()
        return any(s.lower().rsplit("/", 1)[-1] == wanted for s in self.scopes)


def start_sign_in(
    registration: AppRegistration,
    session: Any,
    *,
    user_id: int,
    redirect_uri: str,
    return_to: str,
    login_hint: str | None = None,
    extra_scopes: Sequence[str] = (),
) -> str:
    """Begin a sign-in for ``user_id``; returns the Microsoft URL to send the browser to.
    ``extra_scopes`` are asked beside Convene's own (e.g. ``PLACES_SCOPES``)."""
    scopes = [*DELEGATED_SCOPES, *(s for s in extra_scopes if s not in DELEGATED_SCOPES)]
    # form_post: the code comes back in a POST body, never in a URL (browser history, proxy
    # and server logs); see views.callback for how it then meets the person's session.
    flow = _app(registration).initiate_auth_code_flow(
        scopes,
        redirect_uri=redirect_uri,
        login_hint=login_hint,
        response_mode="form_post",
        state=_new_state(),
    )
    pending = _pending(session)
    pending[flow["state"]] = {
        # Sealed with a key that is not in the database (the PKCE verifier and nonce inside
        # finish a sign-in): someone who reads the sessions table cannot use them.
        "flow": crypto.seal(json.dumps(flow)),
        "user_id": user_id,
        "return_to": return_to,
        "scopes": scopes,
        "started": time.time(),
    }
    session[SESSION_KEY] = pending
    return str(flow["auth_uri"])


def finish_sign_in(
    registration: AppRegistration, session: Any, *, user_id: int, params: dict[str, str]
) -> SignedIn:
    """Complete the sign-in Microsoft redirected back from. Raises ``SignInError``."""
    pending = _pending(session)
    entry = pending.pop(params.get("state", ""), None)
    session[SESSION_KEY] = pending  # a state is good for one callback only
    if entry is None:
        raise SignInError(
            "state", "This sign-in link is not valid any more (used already, or not started here)."
        )
    if entry["user_id"] != user_id:
        raise SignInError("state", "This sign-in was started by another account.")
    try:
        return _redeem(registration, entry, params)
    except SignInError as exc:
        exc.return_to = str(entry["return_to"])
        exc.scopes = tuple(entry.get("scopes") or ())
        raise


def _redeem(
    registration: AppRegistration, entry: dict[str, Any], params: dict[str, str]
) -> SignedIn:
    """The second half of ``finish_sign_in``: Microsoft's answer for a sign-in started here."""
    if "error" in params:
        raise _callback_error(params)
    try:
        flow = json.loads(crypto.unseal(entry["flow"], max_age_seconds=SIGN_IN_TTL_SECONDS))
    except (crypto.UndecryptableToken, TypeError, ValueError) as exc:
        raise SignInError("state", "This sign-in could not be read back; start again.") from exc
    cache = msal.SerializableTokenCache()
    # The code is good for one request, on a connection of its own: a pooled keep-alive one may
    # be closed by Microsoft for being idle just as the code goes out ("Remote end closed
    # connection without response"), and the person would have to sign in all over again.
    # And with a memory of its own: MSAL replays a 5xx to every code redemption of the app for
    # seconds, so one person's failed sign-in would fail everyone else's meanwhile.
    with _new_http_session(registration) as http:
        app = _app(registration, cache, http_client=http, http_cache={})
        try:
            result = app.acquire_token_by_auth_code_flow(
                flow, params, scopes=list(entry.get("scopes") or DELEGATED_SCOPES)
            )
        except ValueError as exc:  # MSAL: state mismatch or missing code
            raise SignInError(
                "state", f"Microsoft's answer did not match this sign-in ({exc})."
            ) from exc
        except UNAVAILABLE as exc:
            raise SignInError("unreachable", f"Could not reach Microsoft ({exc}).") from exc
    if "error" in result:
        raise _callback_error(result)
    claims = result.get("id_token_claims") or {}
    accounts = app.get_accounts()
    if not accounts:
        raise SignInError("failed", "Microsoft did not return an account.")
    account = accounts[0]
    granted = result.get("scope") or ()
    return SignedIn(
        username=str(account.get("username") or claims.get("preferred_username", "")),
        tenant_id=str(claims.get("tid", "")),
        home_account_id=str(account["home_account_id"]),
        token_cache=cache.serialize(),
        return_to=str(entry["return_to"]),
        scopes=frozenset(granted.split() if isinstance(granted, str) else map(str, granted)),
    )


def admin_consent_url(
    registration: AppRegistration,
    tenant: str,
    redirect_uri: str,
    state: str | None = None,
    *,
    application: bool = False,
    extra_scopes: Sequence[str] = (),
) -> str:
    """The page where a tenant's admin grants Convene its permissions for the whole tenant.

    Organizer calendars (the default) name the delegated scopes (with ``extra_scopes``, e.g.
    ``MAIL_SCOPES``, named too); ``application`` (the platform calendar's own registration, in
    its own tenant) asks for ``/.default``, the only way to request an application permission.
    """
    scopes = (
        APP_SCOPES
        if application
        else [
            *ORGANIZER_CONSENT_SCOPES[: len(DELEGATED_SCOPES)],
            *(f"https://graph.microsoft.com/{scope}" for scope in extra_scopes),
            *ORGANIZER_CONSENT_SCOPES[len(DELEGATED_SCOPES) :],
        ]
    )
    query = urlencode(
        {
            "client_id": registration.client_id,
            "scope": " ".join(scopes),
            "redirect_uri": redirect_uri,
            "state": state or secrets.token_urlsafe(16),
        }
    )
    return f"{registration.authority_host}/{tenant}/v2.0/adminconsent?{query}"


def admin_consent_page(
    registration: AppRegistration,
    tenant: str,
    redirect_uri: str,
    state: str,
    *,
    application: bool = False,
    extra_scopes: Sequence[str] = (),
) -> str:
    """``admin_consent_url`` on the host that serves Microsoft's sign-in pages.

    That host is the discovery document's authorize endpoint: the authority itself in
    production, the emulator's browser port locally. If discovery fails the plain URL is
    returned and Microsoft's page explains the problem (an unknown tenant, say).
    """
    url = admin_consent_url(
        registration,
        tenant,
        redirect_uri,
        state,
        application=application,
        extra_scopes=extra_scopes,
    )
    try:
        authorize = urlsplit(_app(registration, tenant=tenant).authority.authorization_endpoint)
    except (ValueError, *UNAVAILABLE):
        return url
    return urlunsplit(urlsplit(url)._replace(scheme=authorize.scheme, netloc=authorize.netloc))


def delegated_token(
    registration: AppRegistration,
    token_cache: str,
    home_account_id: str,
    *,
    force_refresh: bool = False,
    scopes: Sequence[str] = tuple(DELEGATED_SCOPES),
) -> DelegatedToken:
    """An access token for the stored authorization, and the cache to store if it changed.

    Raises ``AuthorizationLost`` when Microsoft refuses the refresh token, ``Transient`` when it
    cannot be reached.
    """
    cache = msal.SerializableTokenCache()
    cache.deserialize(token_cache)
    app = _app(registration, cache)
    account = next(
        (a for a in app.get_accounts() if a.get("home_account_id") == home_account_id), None
    )
    if account is None:
        raise AuthorizationLost("No stored authorization for this account.")
    try:
        result = app.acquire_token_silent_with_error(
            list(scopes), account, force_refresh=force_refresh
        )
    except UNAVAILABLE as exc:
        raise Transient(f"Could not reach Microsoft's sign-in service ({exc}).") from exc
    if not result:
        raise AuthorizationLost("The stored authorization has no usable token.")
    if "access_token" not in result:
        raise _token_error(result)
    changed = cache.serialize() if cache.has_state_changed else None
    return DelegatedToken(str(result["access_token"]), changed, _seconds(result.get("expires_in")))


class DelegatedToken(NamedTuple):
    token: str
    rotated_cache: str | None  # the serialized MSAL cache to store, when it changed
    expires_in: float  # seconds the token stays valid (0 when Microsoft did not say)


# --- what a refusal from the identity platform means --------------------------------------


def secret_refused(error: MicrosoftError) -> bool:
    """Convene's client secret or certificate does not match its registration (or expired)."""
    return error.code == "invalid_client"


def consent_missing(error: MicrosoftError) -> bool:
    """No administrator of the tenant has consented to Convene (AADSTS65001), or the tenant
    does not know the app at all (AADSTS700016)."""
    text = str(error)
    return error.code == "unauthorized_client" or "AADSTS700016" in text or "AADSTS65001" in text


def tenant_unknown(error: MicrosoftError) -> bool:
    """The tenant named (id or domain) does not exist (AADSTS90002)."""
    return error.code == "invalid_tenant" or "AADSTS90002" in str(error)


def _seconds(value: Any) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 0.0


class AppTokens:
    """Client-credentials tokens per tenant, kept in memory and renewed before they expire.

    MSAL caches the token and asks again only when less than five minutes remain; one app object
    per tenant keeps that cache alive for the process. Threads wanting a tenant's token take
    turns (a lock per tenant): when the cache is empty, one asks Microsoft and the others then
    find its token in the cache. (Without it, the threads that start a backfill together each
    asked for a token of their own; at the platform backfill's start, six token requests.)
    """

    def __init__(
        self, registration: AppRegistration, *, http_cache: dict[Any, Any] | None = None
    ) -> None:
        self.registration = registration
        # MSAL replays a token endpoint's 400 from this cache for a minute; a diagnosis right
        # after an admin consented passes a cache of its own to really ask again.
        self._http_cache = _msal_http_cache if http_cache is None else http_cache
        self._apps: dict[str, msal.ConfidentialClientApplication] = {}
        self._asking: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def forget_refusals(self) -> None:
        """Really ask Microsoft next time. MSAL replays a refused token request (no admin
        consent yet, say) for a minute, though an admin may fix it a second later."""
        if self._http_cache is not _msal_http_cache:
            self._http_cache.clear()

    def token(self, tenant: str) -> str:
        with self._lock:
            app = self._apps.get(tenant)
            if app is None:
                app = self._apps[tenant] = _app(
                    self.registration, tenant=tenant, http_cache=self._http_cache
                )
            asking = self._asking.setdefault(tenant, threading.Lock())
        try:
            with asking:
                result = app.acquire_token_for_client(APP_SCOPES)
        except UNAVAILABLE as exc:
            raise Transient(f"Could not reach Microsoft's sign-in service ({exc}).") from exc
        if "access_token" not in result:
            raise _token_error(result)
        return str(result["access_token"])


# --- MSAL plumbing ------------------------------------------------------------------------

# MSAL keeps discovery documents and its own throttling memory here; sharing it between the
# short-lived app objects saves a discovery request per token.
_msal_http_cache: dict[Any, Any] = {}


def _app(
    registration: AppRegistration,
    cache: msal.SerializableTokenCache | None = None,
    tenant: str | None = None,
    http_cache: dict[Any, Any] | None = None,
    http_client: requests.Session | None = None,
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        registration.client_id,
        client_credential=registration.client_credential(),
        authority=f"{registration.authority_host}/{tenant or registration.tenant}",
        token_cache=cache,
        http_client=http_client or _http_session(registration),
        http_cache=_msal_http_cache if http_cache is None else http_cache,
        # The authority may be the local emulator, which Microsoft's instance discovery
        # does not know; the host comes from our own configuration, not from users.
        instance_discovery=False,
        timeout=15,
    )


_sessions: dict[str | None, requests.Session] = {}
_sessions_lock = threading.Lock()


def _http_session(registration: AppRegistration) -> requests.Session:
    """The process's session for this CA bundle, whose connections token requests reuse."""
    with _sessions_lock:
        session = _sessions.get(registration.ca_bundle)
        if session is None:
            session = _sessions[registration.ca_bundle] = _new_http_session(registration)
        return session


def _new_http_session(registration: AppRegistration) -> requests.Session:
    """A requests session that verifies with the configured CA bundle, and only that.

    ``trust_env`` is off because ``requests`` otherwise lets ``REQUESTS_CA_BUNDLE`` override
    ``verify``, silently swapping the CA we were told to trust.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = registration.ca_bundle or True
    return session


def _new_state() -> str:
    """A state only Convene can make (signed with SECRET_KEY, with its time): an answer posted
    to the callback is looked at only if its state is one of these, and recent."""
    return signing.TimestampSigner(salt=_STATE_SALT).sign(secrets.token_urlsafe(24))


def is_recent_state(state: str) -> bool:
    """Did Convene issue this state for a sign-in, within the time a sign-in may take?"""
    try:
        signing.TimestampSigner(salt=_STATE_SALT).unsign(state, max_age=SIGN_IN_TTL_SECONDS)
    except signing.BadSignature:
        return False
    return True


def _pending(session: Any) -> dict[str, Any]:
    now = time.time()
    pending: dict[str, Any] = dict(session.get(SESSION_KEY, {}))
    return {s: e for s, e in pending.items() if now - e["started"] < SIGN_IN_TTL_SECONDS}


def _error_codes(result: dict[str, Any]) -> set[int]:
    codes = result.get("error_codes") or []
    return {int(c) for c in codes if str(c).isdigit()}


def _callback_error(result: dict[str, Any]) -> SignInError:
    error = str(result.get("error", ""))
    description = str(result.get("error_description", ""))
    codes = _error_codes(result)
    if error == "consent_required" or codes & {65001, 90094} or "AADSTS65001" in description:
        return SignInError("consent", description, code=error)
    if error == "access_denied" or codes & {65004}:
        return SignInError("cancelled", description, code=error)
    if error in {"temporarily_unavailable", "server_error"}:
        return SignInError("unreachable", description, code=error)
    return SignInError("failed", description or error, code=error)


def _token_error(result: dict[str, Any]) -> MicrosoftError:
    error = str(result.get("error", ""))
    description = str(result.get("error_description", error))
    if error in _LOST:
        return AuthorizationLost(description, code=error)
    if error in {"temporarily_unavailable", "server_error"}:
        return Transient(description, code=error)
    if error in {"invalid_client", "unauthorized_client"}:
        # Convene's own credentials were refused: an admin must fix the app registration,
        # and no organizer's sign-in would help.
        return Rejected(f"Microsoft refused Convene's app registration: {description}", code=error)
    return Transient(description, code=error)
