"""The pages a person sees on the UI port: sign-in, account picker, consent, admin consent.

``/{tenant}/oauth2/v2.0/authorize`` validates the request, remembers it under a transaction id,
and walks the person through sign-in and consent with plain HTML forms (so a test can script it
with any HTTP client). It ends by redirecting to the app's registered redirect URI with a code,
or with an ``error`` as Entra does. ``/{tenant}/v2.0/adminconsent`` lets an administrator grant
an app its permissions for the whole tenant.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from m365_emulator.backend import Backend
from m365_emulator.directory import App, Tenant, User
from m365_emulator.identity.errors import IdentityError, app_not_found, consent_missing
from m365_emulator.identity.forms import Form, read_form
from m365_emulator.identity.scopes import RequestedScopes, parse_scopes
from m365_emulator.identity.store import AuthorizationCode, PendingAuthorization
from m365_emulator.identity.token_endpoint import invalid_scope, resolve_tenant
from m365_emulator.ui import templates

SESSION_COOKIE = "m365emu_session"
_RESPONSE_MODES = ("query", "fragment", "form_post")
_PROMPTS = ("login", "none", "consent", "select_account")


class _PageError(Exception):
    """A request too broken to redirect back (unknown app, unregistered redirect URI)."""

    def __init__(self, error: IdentityError) -> None:
        self.error = error


def ui_routes(backend: Backend) -> list[BaseRoute]:
    async def authorize(request: Request) -> Response:
        return await _guarded(backend, request, _authorize)

    async def admin_consent(request: Request) -> Response:
        return await _guarded(backend, request, _admin_consent)

    async def logout(request: Request) -> Response:
        session = request.cookies.get(SESSION_COOKIE)
        backend.identity.end_session(session)
        target = request.query_params.get("post_logout_redirect_uri")
        response: Response = (
            RedirectResponse(target, 302)
            if target
            else templates.TemplateResponse(request, "signed_out.html", {})
        )
        response.delete_cookie(SESSION_COOKIE)
        return response

    methods = ["GET", "POST"]
    return [
        Route("/{tenant}/oauth2/v2.0/authorize", authorize, methods=methods),
        Route("/{tenant}/v2.0/adminconsent", admin_consent, methods=methods),
        Route("/{tenant}/adminconsent", admin_consent, methods=methods),
        Route("/{tenant}/oauth2/v2.0/logout", logout, methods=methods),
    ]


async def _guarded(backend: Backend, request: Request, handler: Any) -> Response:
    form = await read_form(request) if request.method == "POST" else {}
    try:
        response: Response = handler(backend, request, form)
    except _PageError as exc:
        return templates.TemplateResponse(
            request,
            "error.html",
            {"code": exc.error.aadsts, "message": exc.error.message, "error": exc.error.error},
            status_code=400,
        )
    return response


# ----- the authorization request -----------------------------------------------------------


def _authorize(backend: Backend, request: Request, form: Form) -> Response:
    segment = request.path_params["tenant"]
    if request.method == "GET":
        return _start_authorize(backend, request, segment)
    transaction = str(form.get("transaction", ""))
    pending = backend.identity.pending_authorization(transaction)
    if pending is None or pending.kind != "authorize":
        raise _PageError(
            IdentityError("invalid_request", 90015, "The sign-in request expired. Start again.")
        )
    return _continue(backend, request, transaction, pending, form)


def _start_authorize(backend: Backend, request: Request, segment: str) -> Response:
    params = dict(request.query_params)
    try:
        tenant = resolve_tenant(backend, segment)
    except IdentityError as exc:
        raise _PageError(exc) from None
    app = _registered_app(backend, params, segment)
    pending = PendingAuthorization("authorize", segment, params)
    problem = _check_authorize_params(app, params)
    if problem is not None:
        return _redirect_error(pending, problem)
    prompt = params.get("prompt")
    user = _session_user(backend, request)
    if user is not None and tenant is not None and user.tenant_id != tenant.id:
        user = None  # the session's account cannot sign in to this tenant
    if prompt == "none":
        if user is None:
            return _redirect_error(
                pending,
                IdentityError(
                    "login_required",
                    50058,
                    "A silent sign-in request was sent but no user is signed in.",
                ),
            )
        return _after_sign_in(backend, request, pending, user, silent=True)
    transaction = backend.identity.begin(pending)
    if user is not None and prompt == "select_account":
        return templates.TemplateResponse(
            request, "select_account.html", _context(backend, pending, transaction, user=user)
        )
    if user is not None and prompt not in ("login",):
        pending.user_id = user.id
        return _after_sign_in(backend, request, pending, user, transaction=transaction)
    return _sign_in_page(backend, request, pending, transaction)


def _check_authorize_params(app: App, params: dict[str, str]) -> IdentityError | None:
    if "code" not in params.get("response_type", "").split():
        return IdentityError(
            "unsupported_response_type",
            700054,
            "response_type 'code' is required for this emulator's authorization endpoint.",
        )
    if params.get("response_mode", "query") not in _RESPONSE_MODES:
        return IdentityError("invalid_request", 900144, "Unsupported response_mode.")
    if params.get("prompt") not in (None, *_PROMPTS):
        return IdentityError(
            "invalid_request",
            90023,
            f"Unsupported 'prompt' value '{params.get('prompt')}'.",
        )
    if params.get("code_challenge") and params.get("code_challenge_method", "plain") not in (
        "plain",
        "S256",
    ):
        return IdentityError(
            "invalid_request", 501491, "Invalid code_challenge_method. Use S256 or plain."
        )
    if not params.get("scope"):
        return IdentityError(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        )
    try:
        requested = parse_scopes(params["scope"])
    except IdentityError as exc:
        return exc
    unregistered = requested.graph - app.delegated_scopes
    if unregistered:
        return invalid_scope(sorted(unregistered)[0])
    return None


def _registered_app(backend: Backend, params: dict[str, str], segment: str) -> App:
    client_id = params.get("client_id", "")
    app = backend.app(client_id) if client_id else None
    if app is None:
        raise _PageError(app_not_found(client_id, segment))
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is None and len(app.redirect_uris) == 1:
        params["redirect_uri"] = app.redirect_uris[0]
    elif redirect_uri not in app.redirect_uris:
        # Never redirect to an unregistered address: show the error instead, as Entra does.
        raise _PageError(
            IdentityError(
                "invalid_request",
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not match the "
                f"redirect URIs configured for the application '{app.client_id}'. Make sure the "
                "redirect URI sent in the request matches one added to your application.",
            )
        )
    return app


def _continue(
    backend: Backend,
    request: Request,
    transaction: str,
    pending: PendingAuthorization,
    form: Form,
) -> Response:
    step = str(form.get("step", ""))
    if form.get("decision") == "cancel":
        backend.identity.forget_pending(transaction)
        return _redirect_error(pending, _declined(), subcode="cancel")
    if step == "select":
        account = str(form.get("account", ""))
        user = _session_user(backend, request)
        if account == "other" or user is None or user.id != account:
            return _sign_in_page(backend, request, pending, transaction)
        pending.user_id = user.id
        return _after_sign_in(backend, request, pending, user, transaction=transaction)
    if step == "signin":
        user, problem = _check_credentials(backend, pending, form)
        if user is None:
            return _sign_in_page(
                backend, request, pending, transaction, problem, str(form.get("username", ""))
            )
        pending.user_id = user.id
        response = _after_sign_in(backend, request, pending, user, transaction=transaction)
        response.set_cookie(
            SESSION_COOKIE, backend.identity.new_session(user.id), httponly=True, samesite="lax"
        )
        return response
    if step == "consent" and pending.user_id is not None:
        user = backend.user(pending.user_id)
        if user is None:
            return _sign_in_page(backend, request, pending, transaction)
        return _grant_consent(backend, pending, transaction, user, form)
    return _sign_in_page(backend, request, pending, transaction)


def _check_credentials(
    backend: Backend, pending: PendingAuthorization, form: Form
) -> tuple[User | None, str]:
    username = str(form.get("username", "")).strip()
    user = backend.user(username) if username else None
    if user is None:
        return None, (
            "AADSTS50034: This username may be incorrect. Make sure you typed it correctly."
        )
    if str(form.get("password", "")) != user.password:
        return None, "AADSTS50126: Your account or password is incorrect."
    tenant = backend.tenant(pending.tenant_segment)
    if tenant is not None and user.tenant_id != tenant.id:
        return None, (
            f"AADSTS50020: User account '{user.upn}' does not exist in tenant "
            f"'{tenant.display_name}' and cannot access the application in that tenant."
        )
    return user, ""


def _after_sign_in(
    backend: Backend,
    request: Request,
    pending: PendingAuthorization,
    user: User,
    *,
    transaction: str | None = None,
    silent: bool = False,
) -> Response:
    app = backend.app(pending.params["client_id"])
    assert app is not None
    tenant = backend.tenant_of(user)
    requested = parse_scopes(pending.params.get("scope"))
    wanted = app.delegated_scopes if requested.default else requested.graph
    missing = wanted - backend.consented_scopes(user, app)
    asked = pending.params.get("prompt") == "consent"
    if not missing and not asked:
        return _issue_code(backend, pending, user, wanted | requested.oidc, transaction)
    if silent:
        return _redirect_error(
            pending, consent_missing(app.client_id, app.display_name, "consent_required")
        )
    assert transaction is not None
    if not tenant.user_consent and not user.is_admin:
        # Entra's own dead end: the person can only sign in as an administrator or go back
        # to the app, which then receives access_denied (AADSTS65004) like a declined consent.
        return templates.TemplateResponse(
            request,
            "need_admin_approval.html",
            _context(backend, pending, transaction, user=user, app=app, tenant=tenant),
        )
    return templates.TemplateResponse(
        request,
        "consent.html",
        _context(
            backend,
            pending,
            transaction,
            user=user,
            app=app,
            tenant=tenant,
            scopes=sorted(wanted),
            admin_option=user.is_admin,
            needs_admin=not tenant.user_consent,
        ),
    )


def _grant_consent(
    backend: Backend,
    pending: PendingAuthorization,
    transaction: str,
    user: User,
    form: Form,
) -> Response:
    app = backend.app(pending.params["client_id"])
    assert app is not None
    tenant = backend.tenant_of(user)
    if form.get("decision") != "accept":
        backend.identity.forget_pending(transaction)
        return _redirect_error(pending, _declined())
    requested = parse_scopes(pending.params.get("scope"))
    wanted = app.delegated_scopes if requested.default else requested.graph
    for_organization = user.is_admin and (
        form.get("organization") == "on" or not tenant.user_consent
    )
    if for_organization:
        # "Consent on behalf of your organization" grants what this sign-in asked for, for
        # every user; application permissions only ever come through /.default.
        backend.grant_admin_consent(
            app.client_id, tenant.id, None if requested.default else requested.graph
        )
    else:
        backend.grant_user_consent(user.id, app.client_id, wanted)
    return _issue_code(backend, pending, user, wanted | requested.oidc, transaction)


def _issue_code(
    backend: Backend,
    pending: PendingAuthorization,
    user: User,
    scopes: frozenset[str],
    transaction: str | None,
) -> Response:
    params = pending.params
    challenge = params.get("code_challenge") or None
    code = backend.identity.new_auth_code(
        AuthorizationCode(
            client_id=params["client_id"],
            user_id=user.id,
            tenant_id=user.tenant_id,
            redirect_uri=params["redirect_uri"],
            scopes=scopes,
            code_challenge=challenge,
            code_challenge_method=params.get("code_challenge_method", "plain"),
            nonce=params.get("nonce"),
            expires_at=backend.clock.now() + timedelta(seconds=backend.config.auth_code_lifetime),
        )
    )
    if transaction is not None:
        backend.identity.forget_pending(transaction)
    answer = {"code": code}
    if "state" in params:
        answer["state"] = params["state"]
    answer["session_state"] = user.id
    return _redirect(pending, answer)


def _declined() -> IdentityError:
    return IdentityError("access_denied", 65004, "User declined to consent to access the app.")


# ----- admin consent -----------------------------------------------------------------------


def _admin_consent(backend: Backend, request: Request, form: Form) -> Response:
    segment = request.path_params["tenant"]
    if request.method == "GET":
        if segment.lower() == "common":
            raise _PageError(
                IdentityError(
                    "invalid_request",
                    90130,
                    "Admin consent needs a tenant: use the tenant id, its domain or "
                    "'organizations', not 'common'.",
                )
            )
        try:
            resolve_tenant(backend, segment)
        except IdentityError as exc:
            raise _PageError(exc) from None
        params = dict(request.query_params)
        _registered_app(backend, params, segment)
        started = PendingAuthorization("adminconsent", segment, params)
        try:
            _admin_consent_scopes(started)
        except IdentityError as exc:
            raise _PageError(exc) from None
        return _sign_in_page(backend, request, started, backend.identity.begin(started))

    transaction = str(form.get("transaction", ""))
    pending = backend.identity.pending_authorization(transaction)
    if pending is None or pending.kind != "adminconsent":
        raise _PageError(
            IdentityError("invalid_request", 90015, "The sign-in request expired. Start again.")
        )
    step = str(form.get("step", ""))
    if form.get("decision") == "cancel":
        backend.identity.forget_pending(transaction)
        return _redirect_admin(pending, _admin_declined(), None)
    if step == "signin":
        user, problem = _check_credentials(backend, pending, form)
        if user is not None and not user.is_admin:
            user, problem = (
                None,
                (
                    f"AADSTS90094: {form.get('username')} is not an administrator. An "
                    "administrator of the organization must grant these permissions."
                ),
            )
        if user is None:
            return _sign_in_page(
                backend, request, pending, transaction, problem, str(form.get("username", ""))
            )
        pending.user_id = user.id
        app = backend.app(pending.params["client_id"])
        assert app is not None
        tenant = backend.tenant_of(user)
        requested = _admin_consent_scopes(pending)
        return templates.TemplateResponse(
            request,
            "admin_consent.html",
            _context(
                backend,
                pending,
                transaction,
                user=user,
                app=app,
                tenant=tenant,
                application_permissions=(
                    sorted(app.application_permissions) if requested.default else []
                ),
                delegated_scopes=sorted(
                    app.delegated_scopes if requested.default else requested.graph
                ),
            ),
        )
    if step == "consent" and pending.user_id is not None:
        user = backend.user(pending.user_id)
        assert user is not None
        backend.identity.forget_pending(transaction)
        if form.get("decision") != "accept":
            return _redirect_admin(pending, _admin_declined(), user.tenant_id)
        requested = _admin_consent_scopes(pending)
        backend.grant_admin_consent(
            pending.params["client_id"],
            user.tenant_id,
            None if requested.default else requested.graph,
        )
        return _redirect_admin(pending, None, user.tenant_id)
    return _sign_in_page(backend, request, pending, transaction)


def _admin_consent_scopes(pending: PendingAuthorization) -> RequestedScopes:
    # The v1 /adminconsent takes no scope and means every registered permission (/.default).
    return parse_scopes(pending.params.get("scope") or "https://graph.microsoft.com/.default")


def _admin_declined() -> IdentityError:
    return IdentityError("consent_required", 65004, "User declined to consent to access the app.")


def _redirect_admin(
    pending: PendingAuthorization, error: IdentityError | None, tenant_id: str | None
) -> Response:
    answer: dict[str, str] = {"admin_consent": "True"}
    if tenant_id is not None:
        answer["tenant"] = tenant_id
    if error is None:
        answer["scope"] = pending.params.get("scope", "https://graph.microsoft.com/.default")
    else:
        answer["error"] = error.error
        answer["error_description"] = error.redirect_description()
    if "state" in pending.params:
        answer["state"] = pending.params["state"]
    return _redirect(pending, answer)


# ----- shared helpers ----------------------------------------------------------------------


def _session_user(backend: Backend, request: Request) -> User | None:
    session = request.cookies.get(SESSION_COOKIE)
    user_id = backend.identity.session_user_id(session)
    return backend.user(user_id) if user_id else None


def _sign_in_page(
    backend: Backend,
    request: Request,
    pending: PendingAuthorization,
    transaction: str,
    problem: str = "",
    username: str = "",
) -> Response:
    return templates.TemplateResponse(
        request,
        "signin.html",
        _context(
            backend,
            pending,
            transaction,
            problem=problem,
            username=username or pending.params.get("login_hint", ""),
        ),
        status_code=200,
    )


def _context(
    backend: Backend, pending: PendingAuthorization, transaction: str, **extra: Any
) -> dict[str, Any]:
    app = backend.app(pending.params.get("client_id", ""))
    tenant: Tenant | None = backend.tenant(pending.tenant_segment)
    return {
        "action": (
            f"/{pending.tenant_segment}/oauth2/v2.0/authorize"
            if pending.kind == "authorize"
            else f"/{pending.tenant_segment}/v2.0/adminconsent"
        ),
        "transaction": transaction,
        "app_name": app.display_name if app else "",
        "tenant_name": tenant.display_name if tenant else "",
        "admin_consent": pending.kind == "adminconsent",
        **extra,
    }


def _redirect_error(
    pending: PendingAuthorization, error: IdentityError, subcode: str | None = None
) -> Response:
    answer = {"error": error.error, "error_description": error.redirect_description()}
    if subcode:
        answer["error_subcode"] = subcode
    if "state" in pending.params:
        answer["state"] = pending.params["state"]
    return _redirect(pending, answer)


def _redirect(pending: PendingAuthorization, answer: dict[str, str]) -> Response:
    target = pending.params["redirect_uri"]
    mode = pending.params.get("response_mode", "query")
    if mode == "form_post" and pending.kind == "authorize":
        page = templates.get_template("form_post.html").render(target=target, fields=answer)
        return HTMLResponse(page)
    if mode == "fragment" and pending.kind == "authorize":
        separator = "#"
    else:
        separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}{urlencode(answer)}", status_code=302)
