"""OpenID Connect discovery and the signing keys, as ``login.microsoftonline.com`` serves them.

The document points ``authorization_endpoint`` at the plain-HTTP UI port (where a person signs
in) and everything else at the TLS API port.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from m365_emulator.backend import Backend
from m365_emulator.identity.errors import IdentityError
from m365_emulator.identity.token_endpoint import issuer_base, resolve_tenant


def ui_base(backend: Backend, request: Request) -> str:
    """Where the sign-in pages live; the API port itself when no UI server is running."""
    return backend.ui_url or issuer_base(request)


def openid_configuration(backend: Backend, request: Request) -> Response:
    segment = request.path_params["tenant"]
    try:
        tenant = resolve_tenant(backend, segment)
    except IdentityError as exc:
        # Discovery for an unknown tenant answers 400 with error "invalid_tenant".
        exc.error = "invalid_tenant"
        return exc.response(backend.clock.now())
    base = issuer_base(request)
    ui = ui_base(backend, request)
    # For common/organizations the issuer carries a placeholder, exactly as Entra's does.
    issuer_tenant = tenant.id if tenant is not None else "{tenantid}"
    document: dict[str, Any] = {
        "token_endpoint": f"{base}/{segment}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{base}/{segment}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{issuer_tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{ui}/{segment}/oauth2/v2.0/authorize",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{ui}/{segment}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "oid",
            "email",
        ],
        "tenant_region_scope": None,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "code_challenge_methods_supported": ["plain", "S256"],
    }
    return JSONResponse(document)


def keys(backend: Backend, request: Request) -> Response:
    return JSONResponse({"keys": [backend.identity.signing_key.jwk()]})


def user_realm(backend: Backend, request: Request) -> Response:
    """``/common/userrealm/{username}``: MSAL asks before a password grant whether the account
    is federated. Every emulated account is managed (cloud-only)."""
    username = request.path_params["username"]
    domain = username.rpartition("@")[2].lower()
    tenant = backend.tenant(domain)
    return JSONResponse(
        {
            "ver": "1.0",
            "account_type": "Managed" if tenant is not None else "Unknown",
            "domain_name": domain,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_audience_urn": "urn:federation:MicrosoftOnline",
        }
    )
