"""``POST /{tenant}/oauth2/v2.0/token``: the four grants the emulator supports.

authorization_code (with PKCE and nonce), refresh_token (rotating), client_credentials and
password. Client authentication accepts a secret (form or HTTP Basic) or a certificate-signed
``client_assertion``; public clients may omit both when the app allows public client flows.
"""

from __future__ import annotations

import base64
import hmac
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import jwt
from cryptography import x509
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from m365_emulator.backend import Backend
from m365_emulator.directory import App, Tenant, User
from m365_emulator.faults import REVOKE_ON_USE_KEY
from m365_emulator.identity import tokens
from m365_emulator.identity.errors import (
    IdentityError,
    app_not_found,
    consent_missing,
    missing_parameter,
    tenant_not_found,
)
from m365_emulator.identity.forms import Form, read_form
from m365_emulator.identity.scopes import OIDC_SCOPES, RequestedScopes, parse_scopes
from m365_emulator.identity.store import RefreshGrant

_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MULTI_TENANT_SEGMENTS = frozenset({"common", "organizations"})


def resolve_tenant(backend: Backend, segment: str) -> Tenant | None:
    """The tenant a path segment names; None for ``common`` / ``organizations``."""
    if segment.lower() in MULTI_TENANT_SEGMENTS:
        return None
    tenant = backend.tenant(segment)
    if tenant is None:
        raise tenant_not_found(segment)
    return tenant


def issuer_base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


async def token(backend: Backend, request: Request) -> Response:
    segment = request.path_params["tenant"]
    try:
        form = await read_form(request)
        return _token(backend, request, segment, form)
    except IdentityError as exc:
        return exc.response(backend.clock.now(), request.headers.get("client-request-id"))


def _token(backend: Backend, request: Request, segment: str, form: Form) -> Response:
    tenant = resolve_tenant(backend, segment)
    grant_type = _field(form, "grant_type")
    if grant_type is None:
        raise missing_parameter("grant_type")
    client_id, secret = _client_id_and_secret(request, form)
    if client_id is None:
        raise missing_parameter("client_id")
    app = backend.app(client_id)
    if app is None:
        raise app_not_found(client_id, segment)
    if grant_type == "authorization_code":
        acr = _authenticate_client(app, form, secret, request, public_allowed=True)
        return _authorization_code(backend, request, tenant, app, form, acr)
    if grant_type == "refresh_token":
        acr = _authenticate_client(app, form, secret, request, public_allowed=True)
        return _refresh_token(backend, request, tenant, app, form, acr)
    if grant_type == "password":
        acr = _authenticate_client(app, form, secret, request, public_allowed=True)
        return _password(backend, request, tenant, segment, app, form, acr)
    if grant_type == "client_credentials":
        acr = _authenticate_client(app, form, secret, request, public_allowed=False)
        return _client_credentials(backend, request, tenant, app, form, acr)
    raise IdentityError(
        "unsupported_grant_type",
        70003,
        f"The app requested an unsupported grant type '{grant_type}'.",
    )


# ----- grants ------------------------------------------------------------------------------


def _authorization_code(
    backend: Backend, request: Request, tenant: Tenant | None, app: App, form: Form, acr: str
) -> Response:
    code = _field(form, "code")
    if code is None:
        raise missing_parameter("code")
    grant = backend.identity.redeem_code(
        code,
        client_id=app.client_id,
        tenant_id=tenant.id if tenant is not None else None,
        redirect_uri=_field(form, "redirect_uri"),
        code_verifier=_field(form, "code_verifier"),
    )
    user = backend.user(grant.user_id)
    if user is None:
        raise IdentityError("invalid_grant", 70000, "Provided grant is invalid or malformed.")
    return _user_tokens(backend, request, app, user, grant.scopes, grant.nonce, acr)


def _refresh_token(
    backend: Backend, request: Request, tenant: Tenant | None, app: App, form: Form, acr: str
) -> Response:
    presented = _field(form, "refresh_token")
    if presented is None:
        raise missing_parameter("refresh_token")
    requested = parse_scopes(_field(form, "scope"))
    now = backend.clock.now()
    user, scopes = backend.identity.redeem_refresh_token(
        presented,
        app=app,
        tenant_id=tenant.id if tenant is not None else None,
        requested=requested,
        now=now,
        spend=bool(request.scope.get(REVOKE_ON_USE_KEY)),
    )
    return _user_tokens(backend, request, app, user, scopes, None, acr)


def _password(
    backend: Backend,
    request: Request,
    tenant: Tenant | None,
    segment: str,
    app: App,
    form: Form,
    acr: str,
) -> Response:
    username = _field(form, "username")
    password = _field(form, "password")
    if username is None:
        raise missing_parameter("username")
    if password is None:
        raise missing_parameter("password")
    user = backend.user(username)
    if user is None or (tenant is not None and user.tenant_id != tenant.id):
        raise IdentityError(
            "invalid_grant",
            50034,
            f"The user account {{EUII Hidden}} does not exist in the {segment} directory. To "
            "sign into this application, the account must be added to the directory.",
        )
    if not hmac.compare_digest(user.password.encode(), password.encode()):
        raise IdentityError(
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.",
        )
    requested = parse_scopes(_field(form, "scope"))
    scopes = _consented_request(backend, app, user, requested)
    return _user_tokens(backend, request, app, user, scopes, None, acr)


def _consented_request(
    backend: Backend, app: App, user: User, requested: RequestedScopes
) -> frozenset[str]:
    """The scopes to grant without asking, or ``consent_required`` (non-interactive grants)."""
    wanted = app.delegated_scopes if requested.default else requested.graph
    unregistered = wanted - app.delegated_scopes
    if unregistered:
        raise invalid_scope(sorted(unregistered)[0])
    if not wanted <= backend.consented_scopes(user, app):
        raise consent_missing(app.client_id, app.display_name)
    return frozenset(wanted) | requested.oidc


def invalid_scope(scope: str) -> IdentityError:
    return IdentityError(
        "invalid_scope",
        70011,
        f"The provided value for the input parameter 'scope' is not valid. The scope {scope} "
        "is not registered for this application.",
    )


def _client_credentials(
    backend: Backend, request: Request, tenant: Tenant | None, app: App, form: Form, acr: str
) -> Response:
    if tenant is None:
        raise IdentityError(
            "invalid_request",
            9001023,
            "The grant type is not supported over the /common or /consumers endpoints. "
            "Please use the tenant-specific endpoint.",
        )
    raw_scope = _field(form, "scope") or ""
    requested = parse_scopes(raw_scope)
    if not requested.default or requested.graph or requested.oidc:
        raise IdentityError(
            "invalid_scope",
            1002012,
            f"The provided value for scope {raw_scope} is not valid. Client credential flows "
            "must have a scope value with /.default suffixed to the resource identifier "
            "(application ID URI).",
        )
    consented = tenant.id in app.admin_consented_tenants
    if not consented and tenant.id != app.home_tenant_id and tenant.id not in app.delegated_grants:
        raise app_not_found(app.client_id, tenant.id)
    # Where the app exists (its home tenant, or a tenant that granted it delegated scopes only)
    # but holds no consented application permission, it still gets a token, without roles.
    roles = app.application_permissions if consented else frozenset()
    access_token, lifetime = tokens.application_access_token(
        backend, issuer_base(request), app, tenant.id, acr, roles
    )
    return _json(
        {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access_token,
        }
    )


def _user_tokens(
    backend: Backend,
    request: Request,
    app: App,
    user: User,
    scopes: frozenset[str],
    nonce: str | None,
    acr: str,
) -> Response:
    graph_scopes = frozenset(s for s in scopes if s not in OIDC_SCOPES)
    base = issuer_base(request)
    access_token, lifetime = tokens.delegated_access_token(
        backend, base, app, user, graph_scopes, acr
    )
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join(sorted(graph_scopes) + sorted(scopes & OIDC_SCOPES)),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
        "client_info": tokens.client_info(user),
    }
    if "offline_access" in scopes:
        now = backend.clock.now()
        body["refresh_token"] = backend.identity.new_refresh_token(
            RefreshGrant(
                client_id=app.client_id,
                user_id=user.id,
                tenant_id=user.tenant_id,
                scopes=scopes,
                issued_at=now,
                expires_at=now + timedelta(seconds=backend.config.refresh_token_lifetime),
            )
        )
    if "openid" in scopes:
        body["id_token"] = tokens.id_token(backend, base, app, user, nonce)
    return _json(body)


# ----- client authentication ---------------------------------------------------------------


def _client_id_and_secret(request: Request, form: Form) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except ValueError:
            raise IdentityError(
                "invalid_client", 7000216, "Malformed HTTP Basic authorization header.", 401
            ) from None
        user, _, secret = decoded.partition(":")
        return unquote(user), unquote(secret)
    return _field(form, "client_id"), _field(form, "client_secret")


def _authenticate_client(
    app: App, form: Form, secret: str | None, request: Request, *, public_allowed: bool
) -> str:
    """Check the client's credential; returns ``appidacr`` (0 public, 1 secret, 2 certificate)."""
    assertion = _field(form, "client_assertion")
    if secret is not None:
        if app.client_secret is None or not hmac.compare_digest(
            app.client_secret.encode(), secret.encode()
        ):
            raise IdentityError(
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
                401,
            )
        return "1"
    if assertion is not None:
        if _field(form, "client_assertion_type") != _ASSERTION_TYPE:
            raise IdentityError(
                "invalid_request",
                50027,
                f"client_assertion_type must be '{_ASSERTION_TYPE}'.",
            )
        _verify_client_assertion(app, assertion, str(request.url.replace(query="")))
        return "2"
    if public_allowed and app.allow_public_client:
        return "0"
    raise IdentityError(
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or "
        "'client_secret'.",
        401,
    )


def _verify_client_assertion(app: App, assertion: str, token_url: str) -> None:
    """A JWT signed with the private key of a certificate registered on the app."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError:
        raise _bad_assertion("The client assertion is not a well-formed JWT.") from None
    thumbprint = header.get("x5t#S256") or header.get("x5t")
    for pem in app.certificates:
        cert = x509.load_pem_x509_certificate(pem.encode())
        if thumbprint not in (_thumbprint(cert, "sha1"), _thumbprint(cert, "sha256")):
            continue
        try:
            claims = jwt.decode(
                assertion,
                cert.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256", "PS256", "ES256"],
                audience=[token_url, token_url.rstrip("/")],
                # Issuer and subject must be the app itself.
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise _bad_assertion("The client assertion has expired.") from None
        except jwt.InvalidTokenError as exc:
            raise _bad_assertion(f"Client assertion failed validation: {exc}.") from None
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            raise _bad_assertion("Client assertion 'iss' and 'sub' must be the client id.")
        return
    raise IdentityError(
        "invalid_client",
        700027,
        f"The certificate with identifier used to sign the client assertion is not registered "
        f"on application. [Reason - The key was not found., Thumbprint of key used by client: "
        f"'{thumbprint}']",
        401,
    )


def _thumbprint(cert: x509.Certificate, algorithm: str) -> str:
    from cryptography.hazmat.primitives import hashes

    chosen = hashes.SHA1() if algorithm == "sha1" else hashes.SHA256()  # noqa: S303
    return base64.urlsafe_b64encode(cert.fingerprint(chosen)).rstrip(b"=").decode()


def _bad_assertion(message: str) -> IdentityError:
    return IdentityError("invalid_client", 700027, message, 401)


# ----- helpers ------------------------------------------------------------------------------


def _field(form: Form, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value != "" else None


def _json(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
