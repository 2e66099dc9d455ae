"""Microsoft's own Graph SDK (msgraph-sdk) talking to the emulator, with a token from it: for the
emulator's SDK conformance test and the benchmarks' SDK baseline."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.graph_request_adapter import options as SDK_MIDDLEWARE_OPTIONS
from msgraph_core import GraphClientFactory


class StaticToken(AccessTokenProvider):  # type: ignore[misc]
    """Hands the SDK one token obtained from the emulator, for the emulator's host only."""

    def __init__(self, token: str, host: str) -> None:
        self._token = token
        self._validator = AllowedHostsValidator([host])

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        return self._token if self._validator.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._validator


def graph_service_client(http: httpx.AsyncClient, graph_url: str, token: str) -> GraphServiceClient:
    """The SDK's client on ``http``, with the SDK's own middleware (which, among others, turns
    /users/me-token-to-replace into /me), sending ``token`` to ``graph_url``."""
    auth = BaseBearerTokenAuthenticationProvider(
        StaticToken(token, urlsplit(graph_url).hostname or "")
    )
    client = GraphClientFactory.create_with_default_middleware(
        client=http, options=SDK_MIDDLEWARE_OPTIONS
    )
    adapter = GraphRequestAdapter(auth, client=client)
    adapter.base_url = graph_url
    return GraphServiceClient(request_adapter=adapter)
