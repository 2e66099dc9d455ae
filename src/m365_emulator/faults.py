"""Injected faults: answer chosen requests with an error, a delay, a hang or a dropped socket.

A test registers rules with ``POST /_emulator/faults``. A rule matches on method, a path regular
expression, the mailbox a Graph request is about and the endpoint kind, and fires for its next
``count`` matches, or on a ``ratio`` of them with a seedable random generator, so flaky-network
tests are reproducible. ``FaultMiddleware`` applies them on the API port (never to the control
API itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from m365_emulator.backend import Backend

Action = Literal["respond", "delay", "timeout", "drop", "revokeOnUse", "loseAnswer"]
EndpointKind = Literal["graph", "token", "discovery", "identity", "any"]
_ACTIONS: tuple[Action, ...] = ("respond", "delay", "timeout", "drop", "revokeOnUse", "loseAnswer")
# ``revokeOnUse`` lets a token request through and spends the refresh token it presents, so
# only the new one works afterwards (stricter than Entra, which keeps the old one valid).
REVOKE_ON_USE_KEY = "m365_emulator.revoke_refresh_token_on_use"
_KINDS: tuple[EndpointKind, ...] = ("graph", "token", "discovery", "identity", "any")

# Default Graph error codes per status, as Graph's documentation lists them.
_GRAPH_CODES = {
    400: ("BadRequest", "Bad request."),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    409: ("ErrorIrresolvableConflict", "The send or update operation could not be performed."),
    429: ("TooManyRequests", "Please retry again later."),
    500: ("generalException", "An unspecified error has occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable. Please retry later."),
    504: ("GatewayTimeout", "The gateway timed out."),
}

# Where the outermost middleware keeps the server's own ``send`` (needed to drop the socket).
RAW_SEND_KEY = "m365_emulator.raw_send"


class FaultRuleError(ValueError):
    """A fault rule in a control request is malformed."""


@dataclass
class FaultRule:
    id: str
    action: Action
    method: str | None = None
    path: re.Pattern[str] | None = None
    mailbox: str | None = None
    endpoint: EndpointKind = "any"
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    code: str | None = None
    message: str | None = None
    error: str | None = None  # identity endpoints: OAuth error ("invalid_grant", ...)
    aadsts: int | None = None
    delay_ms: int = 0
    timeout_seconds: float = 300.0
    # loseAnswer: also forget the transactionId of the events the lost answer created.
    forget_transaction_id: bool = False
    remaining: int | None = None  # None: unlimited
    ratio: float | None = None
    seed: int | None = None
    matched: int = 0
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "method": self.method,
            "path": self.path.pattern if self.path else None,
            "mailbox": self.mailbox,
            "endpoint": self.endpoint,
            "status": self.status,
            "headers": self.headers,
            "body": self.body,
            "delayMs": self.delay_ms,
            "timeoutSeconds": self.timeout_seconds,
            "forgetTransactionId": self.forget_transaction_id,
            "remaining": self.remaining,
            "ratio": self.ratio,
            "seed": self.seed,
            "matched": self.matched,
            "fired": self.fired,
        }


def parse_rule(raw: Any) -> FaultRule:
    """Build a rule from its JSON form (see docs/emulator.md), with clear errors."""
    if not isinstance(raw, Mapping):
        raise FaultRuleError("a fault rule must be a JSON object")
    known = {
        "action",
        "method",
        "path",
        "mailbox",
        "endpoint",
        "status",
        "headers",
        "body",
        "code",
        "message",
        "error",
        "aadsts",
        "delayMs",
        "timeoutSeconds",
        "forgetTransactionId",
        "count",
        "ratio",
        "seed",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise FaultRuleError(f"unknown fault field(s): {', '.join(unknown)}")
    action = raw.get("action") or ("respond" if "status" in raw else None)
    if action not in _ACTIONS:
        raise FaultRuleError(f"action must be one of {', '.join(_ACTIONS)} (or give a status)")
    endpoint = raw.get("endpoint", "any")
    if endpoint not in _KINDS:
        raise FaultRuleError(f"endpoint must be one of {', '.join(_KINDS)}")
    path = raw.get("path")
    try:
        pattern = re.compile(path) if path is not None else None
    except (re.error, TypeError) as exc:
        raise FaultRuleError(f"path is not a valid regular expression: {exc}") from None
    status = raw.get("status", 503)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise FaultRuleError("status must be an HTTP status code (100-599)")
    headers = raw.get("headers", {})
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in headers.items()
    ):
        raise FaultRuleError('headers must be an object of strings, e.g. {"Retry-After": "2"}')
    count = raw.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise FaultRuleError("count must be a positive integer")
    ratio = raw.get("ratio")
    if ratio is not None and (
        not isinstance(ratio, int | float) or isinstance(ratio, bool) or not 0 <= ratio <= 1
    ):
        raise FaultRuleError("ratio must be a number between 0 and 1")
    seed = raw.get("seed")
    if seed is not None and not isinstance(seed, int):
        raise FaultRuleError("seed must be an integer")
    delay_ms = _number(raw, "delayMs", 0)
    timeout_seconds = _number(raw, "timeoutSeconds", 300)
    if action == "delay" and delay_ms <= 0:
        raise FaultRuleError("a delay rule needs delayMs > 0")
    method = raw.get("method")
    if method is not None and not isinstance(method, str):
        raise FaultRuleError("method must be a string such as GET")
    mailbox = raw.get("mailbox")
    if mailbox is not None and not isinstance(mailbox, str):
        raise FaultRuleError("mailbox must be a userPrincipalName or user id")
    forget = raw.get("forgetTransactionId", False)
    if not isinstance(forget, bool):
        raise FaultRuleError("forgetTransactionId must be true or false")
    if forget and action != "loseAnswer":
        raise FaultRuleError("forgetTransactionId goes with the loseAnswer action")
    aadsts = raw.get("aadsts")
    if aadsts is not None and not isinstance(aadsts, int):
        raise FaultRuleError("aadsts must be an integer such as 50173")
    return FaultRule(
        id=str(uuid.uuid4()),
        action=action,
        method=method.upper() if method else None,
        path=pattern,
        mailbox=mailbox.lower() if mailbox else None,
        endpoint=endpoint,
        status=status,
        headers={str(k): str(v) for k, v in headers.items()},
        body=raw.get("body"),
        code=_optional_str(raw, "code"),
        message=_optional_str(raw, "message"),
        error=_optional_str(raw, "error"),
        aadsts=aadsts,
        delay_ms=int(delay_ms),
        timeout_seconds=float(timeout_seconds),
        forget_transaction_id=forget,
        remaining=count,
        ratio=float(ratio) if ratio is not None else None,
        seed=seed,
        rng=random.Random(seed),
    )


def _number(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise FaultRuleError(f"{key} must be a non-negative number")
    return float(value)


def _optional_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise FaultRuleError(f"{key} must be a string")
    return value


def endpoint_kind(path: str) -> EndpointKind:
    if path.startswith("/v1.0/") or path == "/v1.0":
        return "graph"
    if path.endswith("/oauth2/v2.0/token"):
        return "token"
    if "/.well-known/" in path or "/discovery/" in path:
        return "discovery"
    return "any"


class FaultBook:
    """The active rules; thread-safe because tests may read it while the server runs."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def match(
        self,
        method: str,
        path: str,
        mailbox_names: frozenset[str],
        kind: EndpointKind,
        actions: tuple[Action, ...] = _ACTIONS,
    ) -> FaultRule | None:
        """The first rule that fires for this request (counting it), if any.

        ``mailbox_names`` holds the lower-cased UPN and id of the mailbox the request is about.
        The Graph area calls this for each request inside a ``$batch`` too, with the
        ``actions`` that can happen to one (an answer, a delay; not a dropped connection).
        """
        with self._lock:
            for rule in self._rules:
                if rule.remaining == 0 or rule.action not in actions:
                    continue
                if rule.method is not None and rule.method != method.upper():
                    continue
                if rule.endpoint == "identity":
                    if kind not in ("token", "discovery"):
                        continue
                elif rule.endpoint != "any" and rule.endpoint != kind:
                    continue
                if rule.path is not None and not rule.path.search(path):
                    continue
                if rule.mailbox is not None and rule.mailbox not in mailbox_names:
                    continue
                rule.matched += 1
                if rule.ratio is not None and rule.rng.random() >= rule.ratio:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.fired += 1
                return rule
        return None


# ----- applying rules to HTTP requests ----------------------------------------------------

_USERS_SEGMENT = re.compile(r"^/v1\.0/users(?:/([^/]+)|\('([^']+)'\))")


def request_mailbox(backend: Backend, scope: Scope) -> frozenset[str]:
    """Lower-cased names (UPN, id) of the mailbox a Graph request addresses, if known."""
    path: str = scope["path"]
    found = _USERS_SEGMENT.match(path)
    user = None
    if found:
        user = backend.user(unquote(found.group(1) or found.group(2)))
        if user is None:
            return frozenset({unquote(found.group(1) or found.group(2)).lower()})
    elif path.startswith("/v1.0/me"):
        from starlette.requests import HTTPConnection

        from m365_emulator.identity.access import caller_mailbox_hint

        user = caller_mailbox_hint(backend, HTTPConnection(scope))
    if user is None:
        return frozenset()
    return frozenset({user.upn.lower(), user.id.lower()})


def fault_body(
    rule: FaultRule, kind: EndpointKind, request_ids: tuple[str, str], date: str
) -> bytes:
    """The answer of a ``respond`` rule; ``request_ids`` is (request-id, client-request-id)."""
    if rule.body is not None:
        if isinstance(rule.body, str):
            return rule.body.encode()
        return json.dumps(rule.body).encode()
    if kind in ("token", "discovery"):
        from m365_emulator.identity.errors import IdentityError

        transient = rule.status >= 500 or rule.status == 429
        error = IdentityError(
            rule.error or ("temporarily_unavailable" if transient else "invalid_grant"),
            rule.aadsts or (90033 if transient else 70000),
            rule.message
            or (
                "A transient error has occurred. Please try again."
                if transient
                else "Provided grant is invalid or malformed."
            ),
            rule.status,
        )
        from datetime import UTC, datetime

        return json.dumps(error.body(datetime.now(UTC))).encode()
    code, message = _GRAPH_CODES.get(rule.status, ("UnknownError", "An error occurred."))
    return json.dumps(
        {
            "error": {
                "code": rule.code or code,
                "message": rule.message or message,
                "innerError": {
                    "date": date,
                    "request-id": request_ids[0],
                    "client-request-id": request_ids[1],
                },
            }
        }
    ).encode()


class FaultMiddleware:
    def __init__(self, app: ASGIApp, backend: Backend) -> None:
        self.app = app
        self.backend = backend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator"):
            await self.app(scope, receive, send)
            return
        rule = self._firing_rule(scope)
        if rule is None:
            await self.app(scope, receive, send)
            return
        if rule.delay_ms:
            await asyncio.sleep(rule.delay_ms / 1000)
        if rule.action == "delay":
            await self.app(scope, receive, send)
        elif rule.action == "revokeOnUse":
            scope[REVOKE_ON_USE_KEY] = True
            await self.app(scope, receive, send)
        elif rule.action == "respond":
            await self._respond(rule, scope, send)
        elif rule.action == "loseAnswer":
            await self._lose_answer(rule, scope, receive)
        elif rule.action == "timeout":
            await _wait_for_disconnect(receive, rule.timeout_seconds)
            await drop_connection(scope)
        else:
            await drop_connection(scope)

    def _firing_rule(self, scope: Scope) -> FaultRule | None:
        if not self.backend.faults.rules():
            return None  # the common case costs one lock and no parsing
        kind = endpoint_kind(scope["path"])
        mailbox = request_mailbox(self.backend, scope) if kind == "graph" else frozenset()
        return self.backend.faults.match(scope["method"], scope["path"], mailbox, kind)

    async def _lose_answer(self, rule: FaultRule, scope: Scope, receive: Receive) -> None:
        """Carry the request out, then drop the connection instead of answering: the client
        cannot know whether it happened (a create whose answer a broken network lost)."""
        body = bytearray()

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, keep)
        if rule.forget_transaction_id:
            self.backend.graph.forget_transaction_ids(_created_event_ids(bytes(body)))
        await drop_connection(scope)

    async def _respond(self, rule: FaultRule, scope: Scope, send: Send) -> None:
        state = scope.get("state", {})
        request_id = str(state.get("request_id", uuid.uuid4()))
        client_request_id = str(state.get("client_request_id", request_id))
        date = self.backend.clock.now().strftime("%Y-%m-%dT%H:%M:%S")
        kind = endpoint_kind(scope["path"])
        body = fault_body(rule, kind, (request_id, client_request_id), date)
        content_type = b"text/plain" if isinstance(rule.body, str) else b"application/json"
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in rule.headers.items()]
        await send({"type": "http.response.start", "status": rule.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _created_event_ids(answer: bytes) -> set[str]:
    """Ids of the events an answer reports (an event, or a ``$batch``'s inner events)."""
    try:
        data = json.loads(answer)
    except ValueError:
        return set()
    bodies = [data]
    if isinstance(data, dict) and isinstance(data.get("responses"), list):
        bodies = [r.get("body") for r in data["responses"] if isinstance(r, dict)]
    return {str(b["id"]) for b in bodies if isinstance(b, dict) and isinstance(b.get("id"), str)}


class KeepRawSend:
    """Outermost wrapper: remembers the server's own ``send`` so a rule can drop the socket.

    Starlette wraps ``send`` in its error middleware, hiding the connection; this wrapper sits
    outside Starlette, directly under uvicorn.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_SEND_KEY] = send
        await self.app(scope, receive, send)


async def _wait_for_disconnect(receive: Receive, seconds: float) -> None:
    async def disconnected() -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(disconnected(), seconds)


async def drop_connection(scope: Scope) -> None:
    """Close the client's socket without any response, as a broken network does."""
    raw_send = scope.get(RAW_SEND_KEY)
    cycle = getattr(raw_send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("fault rule: connection dropped")
    transport.abort()
    # Let the server notice the lost connection before the app returns, so it does not try
    # to answer on the dead socket.
    for _ in range(50):
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.001)
