"""Routes of the identity platform on each port."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from m365_emulator.backend import Backend
from m365_emulator.identity import discovery, pages, token_endpoint


def api_routes(backend: Backend) -> list[BaseRoute]:
    """The TLS API port: discovery, keys and the token endpoint, per tenant segment."""

    async def openid_configuration(request: Request) -> Response:
        return discovery.openid_configuration(backend, request)

    async def keys(request: Request) -> Response:
        return discovery.keys(backend, request)

    async def user_realm(request: Request) -> Response:
        return discovery.user_realm(backend, request)

    async def token(request: Request) -> Response:
        return await token_endpoint.token(backend, request)

    return [
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
        Route("/discovery/v2.0/keys", keys),
        Route("/{tenant}/discovery/v2.0/keys", keys),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
        Route("/common/userrealm/{username}", user_realm),
    ]


def ui_routes(backend: Backend) -> list[BaseRoute]:
    """The plain-HTTP UI port: sign-in, consent and admin consent pages."""
    return pages.ui_routes(backend)
