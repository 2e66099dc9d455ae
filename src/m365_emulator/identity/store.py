"""State of the identity platform: signing key, authorization codes, refresh tokens, sign-ins.

Authorization codes and refresh tokens are opaque random strings that point to a grant kept
here, which is how the real service can revoke them and how rotation makes the old refresh token
stop working.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

if TYPE_CHECKING:
    from m365_emulator.backend import Backend


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
    auth_codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshGrant] = field(default_factory=dict)
    pending: dict[str, PendingAuthorization] = field(default_factory=dict)
    # Browser sessions on the UI port (single sign-on between /authorize requests).
    sessions: dict[str, str] = field(default_factory=dict)
    # Access tokens whose signature was already checked -> their claims.
    verified_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reset(self) -> None:
        self.auth_codes.clear()
        self.refresh_tokens.clear()
        self.pending.clear()
        self.sessions.clear()
        self.verified_tokens.clear()

    def new_auth_code(self, grant: AuthorizationCode) -> str:
        code = "1.A" + secrets.token_urlsafe(48)
        with self.backend.lock:
            self.auth_codes[code] = grant
        return code

    def new_refresh_token(self, grant: RefreshGrant) -> str:
        token = "1.A" + secrets.token_urlsafe(64)
        with self.backend.lock:
            self.refresh_tokens[token] = grant
        return token

    def begin(self, pending: PendingAuthorization) -> str:
        transaction = secrets.token_urlsafe(24)
        with self.backend.lock:
            self.pending[transaction] = pending
        return transaction

    def new_session(self, user_id: str) -> str:
        session = secrets.token_urlsafe(24)
        with self.backend.lock:
            self.sessions[session] = user_id
        return session
