"""State of the identity platform: signing key, authorization codes, refresh tokens, sign-ins.

Authorization codes and refresh tokens are opaque random strings that point to a grant kept
here, which is how the real service can revoke them and how rotation makes the old refresh token
stop working.

The grants, pending sign-ins and sessions are reached only through the store's methods, which take
the backend's lock themselves; callers never hold it or touch the dicts. Redeeming a code or a
refresh token (Entra's checks and their AADSTS errors) happens here; the token endpoint only reads
the form and answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from m365_emulator.identity.errors import IdentityError, consent_missing, missing_parameter
from m365_emulator.identity.scopes import OIDC_SCOPES, RequestedScopes

if TYPE_CHECKING:
    from m365_emulator.backend import Backend
    from m365_emulator.directory import App, User


@dataclass
class AuthorizationCode:
    client_id: str
    user_id: str
    tenant_id: str
    redirect_uri: str
    scopes: frozenset[str]
    code_challenge: str | None
    code_challenge_method: str
    nonce: str | None
    expires_at: datetime
    redeemed: bool = False


@dataclass
class RefreshGrant:
    client_id: str
    user_id: str
    tenant_id: str
    scopes: frozenset[str]
    issued_at: datetime
    expires_at: datetime


@dataclass
class PendingAuthorization:
    """An /authorize request between the sign-in page and the redirect back to the app."""

    kind: str  # "authorize" or "adminconsent"
    tenant_segment: str
    params: dict[str, str]
    user_id: str | None = None


@dataclass
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": _b64_uint(numbers.n),
            "e": _b64_uint(numbers.e),
        }


def _b64_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _new_signing_key() -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = base64.urlsafe_b64encode(hashlib.sha1(der).digest()).rstrip(b"=").decode()  # noqa: S324
    return SigningKey(kid=kid, private_key=key)


@dataclass
class IdentityStore:
    backend: Backend
    # The key survives resets, so clients that cached the JWKS keep validating tokens.
    signing_key: SigningKey = field(default_factory=_new_signing_key)
    _auth_codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    _refresh_tokens: dict[str, RefreshGrant] = field(default_factory=dict)
    _pending: dict[str, PendingAuthorization] = field(default_factory=dict)
    # Browser sessions on the UI port (single sign-on between /authorize requests).
    _sessions: dict[str, str] = field(default_factory=dict)
    # Access tokens whose signature was already checked -> their claims.
    _verified_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reset(self) -> None:
        with self.backend.lock:
            self._auth_codes.clear()
            self._refresh_tokens.clear()
            self._pending.clear()
            self._sessions.clear()
            self._verified_tokens.clear()

    def redeem_code(
        self,
        code: str,
        *,
        client_id: str,
        tenant_id: str | None,
        redirect_uri: str | None,
        code_verifier: str | None,
    ) -> AuthorizationCode:
        """Spend an authorization code, with Entra's checks in Entra's order; once only."""
        with self.backend.lock:
            grant = self._auth_codes.get(code)
            if grant is None or grant.client_id != client_id:
                raise IdentityError(
                    "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
                )
            if grant.redeemed:
                raise IdentityError(
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid "
                    "code or use an existing refresh token.",
                )
            if self.backend.clock.now() >= grant.expires_at:
                raise IdentityError(
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to "
                    "inactivity. Send a new interactive authorization request for this user and "
                    "resource.",
                )
            if tenant_id is not None and tenant_id != grant.tenant_id:
                raise IdentityError(
                    "invalid_grant",
                    700005,
                    "Provided Authorization Code is intended to use against other tenant, thus "
                    "rejected.",
                )
            if redirect_uri != grant.redirect_uri:
                raise IdentityError(
                    "invalid_grant",
                    50011,
                    f"The reply address '{redirect_uri}' does not match the reply address "
                    f"'{grant.redirect_uri}' provided when requesting Authorization code.",
                )
            if grant.code_challenge is not None:
                _verify_pkce(grant.code_challenge, grant.code_challenge_method, code_verifier)
            grant.redeemed = True
            return grant

    def redeem_refresh_token(
        self,
        presented: str,
        *,
        app: App,
        tenant_id: str | None,
        requested: RequestedScopes,
        now: datetime,
        spend: bool,
    ) -> tuple[User, frozenset[str]]:
        """The user and scopes a refresh token grants now (narrowed to ``requested``).

        Entra answers with a new refresh token and leaves the presented one valid until it
        expires; ``spend`` (a ``revokeOnUse`` fault rule) spends it, for clients that must keep
        the new one.
        """
        with self.backend.lock:
            grant = self._refresh_tokens.get(presented)
            if grant is None or grant.client_id != app.client_id:
                raise IdentityError(
                    "invalid_grant", 70000, "Provided grant is invalid or malformed."
                )
            user = self.backend.user(grant.user_id)
            if user is None:
                raise IdentityError(
                    "invalid_grant", 70000, "Provided grant is invalid or malformed."
                )
            if tenant_id is not None and tenant_id != grant.tenant_id:
                raise IdentityError(
                    "invalid_grant",
                    700005,
                    "Provided grant is intended to use against other tenant.",
                )
            valid_from = user.refresh_tokens_valid_from
            if valid_from is not None and grant.issued_at < valid_from:
                raise IdentityError(
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth token is "
                    "needed. The user might have changed or reset their password. The grant was "
                    f"issued on '{_stamp(grant.issued_at)}' and the TokensValidFrom date (before "
                    f"which tokens are not valid) for this user is '{_stamp(valid_from)}'.",
                    suberror="bad_token",
                )
            if now >= grant.expires_at:
                raise IdentityError(
                    "invalid_grant",
                    700082,
                    "The refresh token has expired due to inactivity. The token was issued on "
                    f"{_stamp(grant.issued_at)} and was inactive for "
                    f"{self.backend.config.refresh_token_lifetime // 86400}.00:00:00.",
                    suberror="bad_token",
                )
            scopes = grant.scopes
            if requested.graph or requested.default:
                wanted = app.delegated_scopes if requested.default else requested.graph
                allowed = grant.scopes | self.backend.consented_scopes(user, app)
                if not wanted <= allowed:
                    raise consent_missing(app.client_id, app.display_name)
                # The OIDC part (refresh token, id token) carries over from the original grant.
                scopes = frozenset(wanted) | (grant.scopes & OIDC_SCOPES)
            if spend:
                del self._refresh_tokens[presented]
            return user, scopes

    def pending_authorization(self, transaction: str) -> PendingAuthorization | None:
        with self.backend.lock:
            return self._pending.get(transaction)

    def forget_pending(self, transaction: str) -> None:
        with self.backend.lock:
            self._pending.pop(transaction, None)

    def session_user_id(self, session: str | None) -> str | None:
        with self.backend.lock:
            return self._sessions.get(session or "")

    def end_session(self, session: str | None) -> None:
        with self.backend.lock:
            self._sessions.pop(session or "", None)

    def verified_claims(self, token: str) -> dict[str, Any] | None:
        with self.backend.lock:
            return self._verified_tokens.get(token)

    def remember_verified(self, token: str, claims: dict[str, Any], limit: int) -> None:
        """Cache a token's checked claims; the cache starts over once it holds ``limit``."""
        with self.backend.lock:
            if len(self._verified_tokens) >= limit:
                self._verified_tokens.clear()
            self._verified_tokens[token] = claims

    def new_auth_code(self, grant: AuthorizationCode) -> str:
        code = "1.A" + secrets.token_urlsafe(48)
        with self.backend.lock:
            self._auth_codes[code] = grant
        return code

    def new_refresh_token(self, grant: RefreshGrant) -> str:
        token = "1.A" + secrets.token_urlsafe(64)
        with self.backend.lock:
            self._refresh_tokens[token] = grant
        return token

    def begin(self, pending: PendingAuthorization) -> str:
        transaction = secrets.token_urlsafe(24)
        with self.backend.lock:
            self._pending[transaction] = pending
        return transaction

    def new_session(self, user_id: str) -> str:
        session = secrets.token_urlsafe(24)
        with self.backend.lock:
            self._sessions[session] = user_id
        return session


def _verify_pkce(challenge: str, method: str, verifier: str | None) -> None:
    if verifier is None:
        raise missing_parameter("code_verifier")
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        computed = verifier
    if not hmac.compare_digest(computed, challenge):
        raise IdentityError(
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization "
            "request.",
        )


def _stamp(moment: Any) -> str:
    return str(moment.strftime("%m/%d/%Y %H:%M:%S"))
