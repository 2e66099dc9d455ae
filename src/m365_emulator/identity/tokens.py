"""Minting and reading the JWTs the identity platform issues (access tokens and id tokens).

Access tokens for Graph follow Entra's v1.0 access-token claims (``aud``, ``tid``, ``oid``,
``appid``, ``scp`` or ``roles``...); id tokens follow OpenID Connect v2.0 (``nonce``,
``preferred_username``...). Both are RS256-signed with the key published at the JWKS endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt

from m365_emulator.directory import GRAPH_APP_ID, GRAPH_RESOURCE

if TYPE_CHECKING:
    from m365_emulator.backend import Backend
    from m365_emulator.directory import App, User


# Draws access token lifetimes (Entra: a random 60 to 90 minutes).
_LIFETIMES = random.Random()


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _sign(backend: Backend, claims: dict[str, Any]) -> str:
    key = backend.identity.signing_key
    return jwt.encode(
        claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"}
    )


def service_principal_id(client_id: str, tenant_id: str) -> str:
    """The app's service principal object id in a tenant (stable, one per app and tenant)."""
    return str(uuid.uuid5(uuid.UUID(tenant_id), f"servicePrincipal:{client_id}"))


def pairwise_subject(user: User, client_id: str) -> str:
    """``sub`` is unique per user and app, as Entra's pairwise subject is."""
    digest = hashlib.sha256(f"{user.id}:{client_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def delegated_access_token(
    backend: Backend, issuer_base: str, app: App, user: User, scopes: frozenset[str], acr: str
) -> tuple[str, int]:
    now = backend.clock.now()
    lifetime = backend.config.access_token_seconds(_LIFETIMES)
    claims = {
        "aud": GRAPH_RESOURCE,
        "iss": f"{issuer_base}/{user.tenant_id}/",
        "iat": _epoch(now),
        "nbf": _epoch(now),
        "exp": _epoch(now + timedelta(seconds=lifetime)),
        "ver": "1.0",
        "idtyp": "user",
        "tid": user.tenant_id,
        "oid": user.id,
        "sub": pairwise_subject(user, app.client_id),
        "upn": user.upn,
        "unique_name": user.upn,
        "name": user.display_name,
        "appid": app.client_id,
        "app_displayname": app.display_name,
        "appidacr": acr,
        "scp": " ".join(sorted(scopes)),
        "uti": uuid.uuid4().hex,
    }
    return _sign(backend, claims), lifetime


def application_access_token(
    backend: Backend,
    issuer_base: str,
    app: App,
    tenant_id: str,
    acr: str,
    roles: frozenset[str],
) -> tuple[str, int]:
    now = backend.clock.now()
    lifetime = backend.config.access_token_seconds(_LIFETIMES)
    principal = service_principal_id(app.client_id, tenant_id)
    claims = {
        "aud": GRAPH_RESOURCE,
        "iss": f"{issuer_base}/{tenant_id}/",
        "iat": _epoch(now),
        "nbf": _epoch(now),
        "exp": _epoch(now + timedelta(seconds=lifetime)),
        "ver": "1.0",
        "idtyp": "app",
        "tid": tenant_id,
        "oid": principal,
        "sub": principal,
        "appid": app.client_id,
        "app_displayname": app.display_name,
        "appidacr": acr,
        "roles": sorted(roles),
        "uti": uuid.uuid4().hex,
    }
    return _sign(backend, claims), lifetime


def id_token(backend: Backend, issuer_base: str, app: App, user: User, nonce: str | None) -> str:
    now = backend.clock.now()
    claims: dict[str, Any] = {
        "aud": app.client_id,
        "iss": f"{issuer_base}/{user.tenant_id}/v2.0",
        "iat": _epoch(now),
        "nbf": _epoch(now),
        "exp": _epoch(now + timedelta(hours=1)),
        "ver": "2.0",
        "tid": user.tenant_id,
        "oid": user.id,
        "sub": pairwise_subject(user, app.client_id),
        "preferred_username": user.upn,
        "name": user.display_name,
        "email": user.mail,
        "uti": uuid.uuid4().hex,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return _sign(backend, claims)


def client_info(user: User) -> str:
    """Base64url JSON ``{"uid", "utid"}``: MSAL builds the account's home id from it."""
    raw = json.dumps({"uid": user.id, "utid": user.tenant_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


class TokenRejected(Exception):
    """An access token failed validation; the message is the one Graph would give."""


def read_access_token(backend: Backend, token: str) -> dict[str, Any]:
    """Verify signature and audience, then lifetime against the emulator's clock.

    A token's signature never changes validity, so verified claims are cached: checking RS256
    on every Graph request would otherwise cost more than the request itself.
    """
    claims = backend.identity.verified_claims(token)
    if claims is None:
        claims = _verify(backend, token)
        backend.identity.remember_verified(token, claims, _VERIFIED_CACHE_SIZE)
    now = backend.clock.timestamp()
    if not (int(claims.get("nbf", 0)) - 300 <= now < int(claims.get("exp", 0))):
        raise TokenRejected("Access token has expired or is not yet valid.")
    return claims


_VERIFIED_CACHE_SIZE = 10_000


def _verify(backend: Backend, token: str) -> dict[str, Any]:
    public_key = backend.identity.signing_key.private_key.public_key()
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            public_key,
            algorithms=["RS256"],
            audience=[GRAPH_RESOURCE, GRAPH_APP_ID],
            # Time claims are checked by the caller against the emulator's clock.
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidAudienceError:
        raise TokenRejected("Access token validation failure. Invalid audience.") from None
    except jwt.DecodeError:
        raise TokenRejected("IDX14100: JWT is not well formed.") from None
    except jwt.InvalidTokenError:
        raise TokenRejected("Access token validation failure.") from None
    return claims
