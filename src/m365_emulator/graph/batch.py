"""JSON batching (``POST /$batch``): up to 20 requests, ``dependsOn`` ordering, 424 on failure.

Requests without dependencies run concurrently, as Graph runs them; each goes through the same
dispatch as a direct request, so each is authorized, throttled and counted on its own.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from m365_emulator.errors import GraphError
from m365_emulator.faults import FaultRule, fault_body
from m365_emulator.graph.api import GraphRequest, GraphResponse
from m365_emulator.graph.payload import parse_json_body

if TYPE_CHECKING:
    from m365_emulator.graph.api import GraphApi


PARALLEL_REQUESTS = 4


def _invalid(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


async def run_batch(api: GraphApi, outer: GraphRequest) -> GraphResponse:
    payload = parse_json_body(outer.body)
    items = payload.get("requests")
    if not isinstance(items, list) or not items:
        raise _invalid("Invalid batch payload format.")
    limit = api.backend.config.max_batch_requests
    if len(items) > limit:
        raise _invalid(f"Number of batch request steps exceeds the maximum value of {limit}.")
    by_id: dict[str, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict):
            raise _invalid("Invalid batch payload format.")
        item_id, method, url = item.get("id"), item.get("method"), item.get("url")
        if not isinstance(item_id, str) or not item_id:
            raise _invalid("Batch request id is missing.")
        if item_id in by_id:
            raise _invalid(f"Batch request id '{item_id}' is duplicated.")
        if not isinstance(method, str) or not isinstance(url, str):
            raise _invalid(f"Batch request '{item_id}' needs a method and a url.")
        by_id[item_id] = item
    for item_id, item in by_id.items():
        depends = item.get("dependsOn") or []
        if not isinstance(depends, list) or any(d not in by_id or d == item_id for d in depends):
            raise _invalid(f"Batch request '{item_id}' depends on an unknown request.")
    _refuse_cycles(by_id)

    # Graph hands Outlook at most four requests of one batch at a time.
    parallel = asyncio.Semaphore(PARALLEL_REQUESTS)
    mailboxes: set[str | None] = set()  # the mailboxes its requests addressed, for the stats
    results: dict[str, asyncio.Future[dict[str, Any]]] = {
        item_id: asyncio.get_running_loop().create_future() for item_id in by_id
    }

    async def run(item_id: str) -> None:
        item = by_id[item_id]
        depends = item.get("dependsOn") or []
        outcomes = [await results[d] for d in depends]
        if any(not 200 <= o["status"] < 300 for o in outcomes):
            results[item_id].set_result(
                _error_item(
                    item_id, GraphError(424, "FailedDependency", "Failed dependency."), outer
                )
            )
            return
        async with parallel:
            results[item_id].set_result(await _run_one(api, outer, item_id, item, mailboxes))

    await asyncio.gather(*(run(item_id) for item_id in by_id))
    api.store.stats.batch({m for m in mailboxes if m})
    return GraphResponse(200, {"responses": [results[i].result() for i in by_id]})


async def _run_one(
    api: GraphApi,
    outer: GraphRequest,
    item_id: str,
    item: dict[str, Any],
    mailboxes: set[str | None],
) -> dict[str, Any]:
    parts = urlsplit(str(item["url"]))
    path = unquote(parts.path).lstrip("/")
    path = path.removeprefix("v1.0/")
    headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    body = item.get("body")
    raw = (
        b""
        if body is None
        else json.dumps(body).encode()
        if not isinstance(body, str)
        else body.encode()
    )
    request = GraphRequest(
        method=str(item["method"]).upper(),
        path=path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=headers,
        body=raw,
        caller=outer.caller,
        base_url=outer.base_url,
    )
    if path.lower() == "$batch":
        return _error_item(item_id, _invalid("A batch cannot contain another batch."), outer)
    fault = _fault(api, request)
    if fault is not None:
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.action == "respond":
            return _fault_item(item_id, fault)
    try:
        response = await api.dispatch(request)
    except GraphError as exc:
        return _error_item(item_id, exc, outer)
    finally:
        mailboxes.add(request.mailbox_upn)
    result: dict[str, Any] = {
        "id": item_id,
        "status": response.status,
        "headers": dict(response.headers),
    }
    if response.body is not None:
        result["headers"]["Content-Type"] = (
            "application/json; odata.metadata=minimal; odata.streaming=true"
        )
        result["body"] = response.body
    return result


def _fault(api: GraphApi, request: GraphRequest) -> FaultRule | None:
    """An injected fault for one request of the batch: Graph fails (and throttles) each one on
    its own, so rules for Graph requests apply to each, as an answer or a delay."""
    faults = api.backend.faults
    if not faults.rules():
        return None
    names: set[str] = set()
    user_ref = re.match(r"users/([^/]+)", request.path, re.IGNORECASE)
    user = (
        api.backend.user(user_ref.group(1))
        if user_ref
        else api.backend.user(request.caller.user_id)
        if request.caller.user_id and request.path.lower().startswith("me")
        else None
    )
    if user is not None:
        names = {user.upn.lower(), user.id.lower()}
    elif user_ref:
        names = {user_ref.group(1).lower()}
    return faults.match(
        request.method, f"/v1.0/{request.path}", frozenset(names), "graph", ("respond", "delay")
    )


def _fault_item(item_id: str, rule: FaultRule) -> dict[str, Any]:
    date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    request_id = str(uuid.uuid4())
    raw = fault_body(rule, "graph", (request_id, request_id), date)
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = raw.decode()
    headers = {k: str(v) for k, v in rule.headers.items()}
    return {
        "id": item_id,
        "status": rule.status,
        "headers": {"Content-Type": "application/json", **headers},
        "body": body,
    }


def _error_item(item_id: str, error: GraphError, outer: GraphRequest) -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    headers = {**error.headers, "Content-Type": "application/json"}
    return {
        "id": item_id,
        "status": error.status,
        "headers": headers,
        "body": {
            "error": {
                "code": error.code,
                "message": error.message,
                "innerError": {
                    "request-id": request_id,
                    "client-request-id": outer.headers.get("client-request-id", request_id),
                },
            }
        },
    }


def _refuse_cycles(by_id: dict[str, dict[str, Any]]) -> None:
    state: dict[str, int] = {}

    def visit(item_id: str) -> None:
        if state.get(item_id) == 2:
            return
        if state.get(item_id) == 1:
            raise _invalid("Batch requests have circular dependencies.")
        state[item_id] = 1
        for dep in by_id[item_id].get("dependsOn") or []:
            visit(dep)
        state[item_id] = 2

    for item_id in by_id:
        visit(item_id)
