"""The baseline: the same backfill written with Microsoft's official ``msgraph-sdk``, the way its
documentation shows: a ``GraphServiceClient``, one ``events.post`` per event, asyncio, at most
4 requests in flight per mailbox (a semaphore per mailbox) and the SDK's default middleware
(its retry handler honours Retry-After on 429/503/504).

It posts the very payloads Convene would (``mapping.create_payload``), parsed into the SDK's
``Event`` model, with an app-only token of the organizers' tenant (client credentials, as the
SDK's app-only samples do).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

import httpx
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph import GraphRequestAdapter, GraphServiceClient  # type: ignore[attr-defined]
from msgraph.generated.models.event import Event as GraphEvent
from msgraph.graph_request_adapter import options as SDK_MIDDLEWARE_OPTIONS
from msgraph_core import GraphClientFactory  # type: ignore[import-untyped]

from benchmarks.stack import Stack

PER_MAILBOX = 4


class StaticToken(AccessTokenProvider):
    def __init__(self, token: str, host: str) -> None:
        self._token = token
        self._validator = AllowedHostsValidator([host])

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        return self._token if self._validator.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._validator


def payloads(
    event_ids: list[int], service_mailbox: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """(owner mailbox, Graph JSON) per event: exactly what Convene's first push sends, to the
    organizer's mailbox or (platform calendar) to ``service_mailbox``."""
    from convene.events.models import Event
    from convene.outlook.microsoft import mapping
    from convene.outlook.outbound import sync

    result = []
    for event in Event.objects.filter(pk__in=event_ids).select_related("created_by"):
        owner = service_mailbox or event.created_by.email
        snapshot = sync.event_snapshot(event, owner, platform=service_mailbox is not None)
        result.append((owner, mapping.create_payload(snapshot, generation=0)))
    return result


def run(stack: Stack, work: list[tuple[str, dict[str, Any]]], tenant: str) -> dict[str, Any]:
    """Create every event with the SDK; returns its wall time and what went wrong."""
    client_id = stack.env["OUTLOOK_CLIENT_ID"]
    tenant_id = stack.tenant_id(tenant)
    stack.control("POST", f"/apps/{client_id}/consent", {"tenantId": tenant_id})
    token = httpx.post(
        f"{stack.endpoints['authority']}/{tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": stack.env["OUTLOOK_CLIENT_SECRET"],
            "scope": "https://graph.microsoft.com/.default",
        },
        verify=stack.env["OUTLOOK_CA_BUNDLE"],
    ).json()["access_token"]
    parse = JsonParseNodeFactory()
    events: list[tuple[str, GraphEvent]] = [
        (
            mailbox,
            parse.get_root_parse_node(
                "application/json", json.dumps(body).encode()
            ).get_object_value(GraphEvent),
        )
        for mailbox, body in work
    ]
    cpu_before = time.process_time()
    result = asyncio.run(_create_all(stack, token, events))
    result["client_cpu_ms_per_event"] = round(
        (time.process_time() - cpu_before) * 1000 / max(len(events), 1), 2
    )
    return result


async def _create_all(
    stack: Stack, token: str, events: list[tuple[str, GraphEvent]]
) -> dict[str, Any]:
    host = urlsplit(stack.endpoints["graph"]).hostname or ""
    auth = BaseBearerTokenAuthenticationProvider(StaticToken(token, host))
    gates: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(PER_MAILBOX))
    failures: list[str] = []
    # Timeouts as the SDK's own default client has them (kiota_http: 100 s, connect 30 s); a
    # pool as large as the semaphores allow, so that only they limit what is in flight.
    async with httpx.AsyncClient(
        verify=stack.env["OUTLOOK_CA_BUNDLE"],
        timeout=httpx.Timeout(100, connect=30),
        limits=httpx.Limits(max_connections=PER_MAILBOX * len(gates_for(events))),
    ) as http:
        client = GraphClientFactory.create_with_default_middleware(
            client=http, options=SDK_MIDDLEWARE_OPTIONS
        )
        adapter = GraphRequestAdapter(auth, client=client)
        adapter.base_url = stack.endpoints["graph"]
        graph = GraphServiceClient(request_adapter=adapter)

        async def create(mailbox: str, event: GraphEvent) -> None:
            async with gates[mailbox]:
                try:
                    await graph.users.by_user_id(mailbox).events.post(event)
                except Exception as exc:  # recorded: the baseline's failures are a figure
                    failures.append(f"{type(exc).__name__}: {exc}"[:200])

        started = time.monotonic()
        await asyncio.gather(*(create(m, e) for m, e in events))
        seconds = time.monotonic() - started
    return {
        "seconds": round(seconds, 2),
        "events": len(events),
        "failures": len(failures),
        "first_failures": sorted(set(failures))[:5],
    }


def gates_for(events: list[tuple[str, GraphEvent]]) -> set[str]:
    return {mailbox for mailbox, _ in events}
