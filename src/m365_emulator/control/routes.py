"""Core control routes, mounted under ``/_emulator`` on the API port (no authentication).

Every answer is JSON. Malformed input answers 400 with ``{"error": {"code", "message"}}`` so a
typo in a test fails with a reason instead of silently doing nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from m365_emulator.backend import Backend
from m365_emulator.directory import User
from m365_emulator.faults import FaultRuleError, parse_rule
from m365_emulator.seed import SeedError


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bad(message: str) -> ControlError:
    return ControlError(400, "badRequest", message)


async def _json_body(request: Request, *, optional: bool = False) -> Any:
    raw = await request.body()
    if not raw.strip():
        if optional:
            return {}
        raise _bad("a JSON body is required")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _bad(f"the body is not valid JSON: {exc}") from None


async def _object_body(request: Request, *, optional: bool = False) -> dict[str, Any]:
    body = await _json_body(request, optional=optional)
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    return body


def _user(backend: Backend, ref: str) -> User:
    user = backend.user(ref)
    if user is None:
        raise ControlError(404, "notFound", f"no user {ref!r}")
    return user


def routes(backend: Backend) -> list[BaseRoute]:
    def handler(function: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                result: Response = await function(request)
            except ControlError as exc:
                return JSONResponse(
                    {"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status
                )
            return result

        return endpoint

    async def reset(request: Request) -> Response:
        backend.reset()
        return JSONResponse({"reset": True})

    async def seed(request: Request) -> Response:
        body = await _json_body(request)
        try:
            summary = backend.seed(body)
        except SeedError as exc:
            raise ControlError(400, "invalidSeed", str(exc)) from None
        return JSONResponse(summary, status_code=201)

    async def directory(request: Request) -> Response:
        return JSONResponse(
            {
                "tenants": [
                    {
                        "id": t.id,
                        "domain": t.domain,
                        "displayName": t.display_name,
                        "userConsent": t.user_consent,
                        "users": [
                            {
                                "id": u.id,
                                "userPrincipalName": u.upn,
                                "displayName": u.display_name,
                                "isAdmin": u.is_admin,
                            }
                            for u in backend.users_in(t.id)
                        ],
                    }
                    for t in backend.all_tenants()
                ],
                "apps": [
                    {
                        "clientId": a.client_id,
                        "displayName": a.display_name,
                        "homeTenantId": a.home_tenant_id,
                        "adminConsentedTenants": sorted(a.admin_consented_tenants),
                    }
                    for a in backend.all_apps()
                ],
            }
        )

    async def revoke(request: Request) -> Response:
        user = _user(backend, request.path_params["user"])
        body = await _object_body(request, optional=True)
        access_tokens = body.get("accessTokens", False)
        if not isinstance(access_tokens, bool):
            raise _bad("accessTokens must be true or false")
        backend.revoke_sessions(user, access_tokens=access_tokens)
        return JSONResponse(
            {
                "userPrincipalName": user.upn,
                "refreshTokensValidFrom": _iso(user.refresh_tokens_valid_from),
                "accessTokensValidFrom": _iso(user.access_tokens_valid_from),
            }
        )

    async def mailbox(request: Request) -> Response:
        user = _user(backend, request.path_params["user"])
        body = await _object_body(request)
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise _bad("enabled must be true or false")
        # A removed Exchange Online licence or a disabled mailbox: sign-in still works, and
        # Graph answers every mailbox call 404 MailboxNotEnabledForRESTAPI until it is back.
        # The mailbox's contents stay, as Exchange keeps them for 30 days.
        backend.set_mailbox_enabled(user, enabled)
        return JSONResponse({"userPrincipalName": user.upn, "enabled": user.has_mailbox})

    async def add_faults(request: Request) -> Response:
        body = await _json_body(request)
        raw_rules = body.get("rules") if isinstance(body, dict) and "rules" in body else [body]
        if not isinstance(raw_rules, list):
            raise _bad("rules must be a list")
        try:
            parsed = [parse_rule(raw) for raw in raw_rules]
        except FaultRuleError as exc:
            raise ControlError(400, "invalidFaultRule", str(exc)) from None
        for rule in parsed:
            backend.faults.add(rule)
        return JSONResponse({"rules": [r.describe() for r in parsed]}, status_code=201)

    async def list_faults(request: Request) -> Response:
        return JSONResponse({"rules": [r.describe() for r in backend.faults.rules()]})

    async def clear_faults(request: Request) -> Response:
        backend.faults.clear()
        return Response(status_code=204)

    async def delete_fault(request: Request) -> Response:
        if not backend.faults.remove(request.path_params["rule_id"]):
            raise ControlError(404, "notFound", "no such fault rule")
        return Response(status_code=204)

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = await _object_body(request)
            if body.get("reset") is True:
                backend.clock.reset()
            elif "advanceSeconds" in body:
                seconds = body["advanceSeconds"]
                if not isinstance(seconds, int | float) or isinstance(seconds, bool):
                    raise _bad("advanceSeconds must be a number")
                if seconds < 0:
                    raise _bad("the clock only moves forward (advanceSeconds >= 0)")
                backend.clock.advance(seconds)
            else:
                raise _bad('send {"advanceSeconds": N} or {"reset": true}')
        return JSONResponse({"now": _iso(backend.clock.now())})

    async def config(request: Request) -> Response:
        if request.method == "POST":
            body = await _object_body(request)
            _check_config_types(backend, body)
            try:
                backend.config.update(body)
            except ValueError as exc:
                raise _bad(str(exc)) from None
        return JSONResponse(_config_json(backend))

    async def access_policy(request: Request) -> Response:
        client_id = request.path_params["client_id"]
        app = backend.app(client_id)
        if app is None:
            raise ControlError(404, "notFound", f"no app {client_id!r}")
        body = await _object_body(request, optional=request.method == "DELETE")
        tenant_ref = body.get("tenantId") or request.query_params.get("tenantId")
        if not isinstance(tenant_ref, str):
            raise _bad("tenantId is required")
        tenant = backend.tenant(tenant_ref)
        if tenant is None:
            raise ControlError(404, "notFound", f"no tenant {tenant_ref!r}")
        if request.method == "DELETE":
            removed = backend.remove_access_policy(app.client_id, tenant.id)
            return JSONResponse({"removed": removed})
        mailboxes = body.get("allowedMailboxes")
        if not isinstance(mailboxes, list) or not all(isinstance(m, str) for m in mailboxes):
            raise _bad("allowedMailboxes must be a list of userPrincipalNames or ids")
        users = [_user(backend, m) for m in mailboxes]
        outsiders = [u.upn for u in users if u.tenant_id != tenant.id]
        if outsiders:
            raise _bad(f"not in tenant {tenant.domain}: {', '.join(outsiders)}")
        policy = backend.set_access_policy(app.client_id, tenant.id, [u.id for u in users])
        return JSONResponse(
            {
                "clientId": policy.client_id,
                "tenantId": policy.tenant_id,
                "allowedMailboxes": sorted(u.upn for u in users),
            }
        )

    async def consent(request: Request) -> Response:
        client_id = request.path_params["client_id"]
        app = backend.app(client_id)
        if app is None:
            raise ControlError(404, "notFound", f"no app {client_id!r}")
        body = await _object_body(request)
        if "userPrincipalName" in body:
            user = _user(backend, str(body["userPrincipalName"]))
            scopes = body.get("scopes", sorted(app.delegated_scopes))
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                raise _bad("scopes must be a list of strings")
            backend.grant_user_consent(user.id, app.client_id, scopes)
            return JSONResponse({"userPrincipalName": user.upn, "scopes": sorted(scopes)})
        tenant_ref = body.get("tenantId")
        tenant = backend.tenant(tenant_ref) if isinstance(tenant_ref, str) else None
        if tenant is None:
            raise _bad("send tenantId (admin consent) or userPrincipalName (user consent)")
        backend.grant_admin_consent(app.client_id, tenant.id)
        return JSONResponse({"tenantId": tenant.id, "adminConsented": True})

    return [
        Route("/reset", handler(reset), methods=["POST"]),
        Route("/seed", handler(seed), methods=["POST"]),
        Route("/directory", handler(directory), methods=["GET"]),
        Route("/users/{user}/revoke", handler(revoke), methods=["POST"]),
        Route("/users/{user}/mailbox", handler(mailbox), methods=["POST"]),
        Route("/faults", handler(add_faults), methods=["POST"]),
        Route("/faults", handler(list_faults), methods=["GET"]),
        Route("/faults", handler(clear_faults), methods=["DELETE"]),
        Route("/faults/{rule_id}", handler(delete_fault), methods=["DELETE"]),
        Route("/clock", handler(clock), methods=["GET", "POST"]),
        Route("/config", handler(config), methods=["GET", "POST"]),
        Route(
            "/apps/{client_id}/access-policy", handler(access_policy), methods=["POST", "DELETE"]
        ),
        Route("/apps/{client_id}/consent", handler(consent), methods=["POST"]),
    ]


def _iso(moment: Any) -> str | None:
    return None if moment is None else str(moment.isoformat())


def _config_json(backend: Backend) -> dict[str, Any]:
    return asdict(backend.config)


def _check_config_types(backend: Backend, changes: dict[str, Any]) -> None:
    current = {f.name: getattr(backend.config, f.name) for f in fields(backend.config)}
    for name, value in changes.items():
        if name not in current:
            continue  # EmulatorConfig.update names every unknown setting at once
        expected = type(current[name])
        if expected is bool:
            ok = isinstance(value, bool)
        elif expected is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, expected) and not isinstance(value, bool)
        if not ok:
            raise _bad(f"{name} must be of type {expected.__name__}")
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            raise _bad(f"{name} must not be negative")
