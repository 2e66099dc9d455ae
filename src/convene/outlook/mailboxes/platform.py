"""The platform calendar: Convene's own app-only access to one service mailbox.

In platform mode nobody signs in: Convene gets client-credentials tokens for the platform's own
tenant (the admin consented there once) and works on ``/users/{service mailbox}``. This module
holds what is special about that:

- ``tenant_for``: which tenant to ask for tokens for a mailbox;
- ``client``: the Graph client for a platform mailbox, whose failures are the admin's to fix
  (so none of them ever asks a person to sign in again);
- ``test_connection``: the admin page's "Test connection": proves against Microsoft that the app
  can read *and* write the calendar, or says precisely what stands in the way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import httpx
from django.utils import timezone

from convene.outlook.mailboxes import limits
from convene.outlook.microsoft import graph, identity
from convene.outlook.microsoft.errors import (
    AccessDenied,
    AuthorizationLost,
    MailboxGone,
    MicrosoftError,
    NotFound,
    Rejected,
    Transient,
)
from convene.outlook.microsoft.graph import Gate, GraphClient, TokenSource
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import LogKind, OutlookSettings, PoolMailbox, record

T = TypeVar("T")


def tenant_for(mailbox: str, outlook: OutlookSettings) -> str:
    """The tenant whose tokens reach ``mailbox``: the configured platform tenant for the
    service mailbox, otherwise the mailbox's own domain (Entra accepts a verified domain)."""
    if outlook.platform_tenant and (
        mailbox.lower() == outlook.service_mailbox.lower()
        or PoolMailbox.objects.filter(address__iexact=mailbox).exists()
    ):
        # The pool's other mailboxes are in the platform's tenant too.
        return outlook.platform_tenant
    return mailbox.rsplit("@", 1)[-1].lower()


# One AppTokens per registration and process: MSAL keeps each tenant's token in memory and asks
# Microsoft again only shortly before it expires.
_app_tokens: dict[AppRegistration, identity.AppTokens] = {}
_app_tokens_lock = threading.Lock()


def app_tokens(registration: AppRegistration) -> identity.AppTokens:
    with _app_tokens_lock:
        tokens = _app_tokens.get(registration)
        if tokens is None:
            tokens = _app_tokens[registration] = identity.AppTokens(registration, http_cache={})
        return tokens


def token_source(tokens: identity.AppTokens, tenant: str) -> TokenSource:
    def token(fresh: bool) -> str:
        # MSAL will not skip its cache for client credentials; after a 401 the cached token
        # is simply returned again, and the second 401 is reported as a refusal.
        try:
            return _app_only(lambda: tokens.token(tenant))
        except MicrosoftError:
            tokens.forget_refusals()
            raise

    return token


@dataclass
class AppOnlyGraphClient(GraphClient):
    """Graph with an app-only token: a refusal is a configuration problem for the admin
    (consent, permission, policy, mailbox), never a person's authorization to renew."""

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        gate: Gate | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        return _app_only(lambda: GraphClient._send(self, method, url, headers, gate, **kwargs))

    def batched_error(self, error: MicrosoftError) -> MicrosoftError:
        def fail() -> None:
            raise error

        try:
            _app_only(fail)
        except MicrosoftError as meant:
            return meant
        return error


def client(
    registration: AppRegistration,
    mailbox: str,
    tenant: str,
    *,
    tokens: identity.AppTokens | None = None,
    max_wait: float = limits.MAX_WAIT_SECONDS,
) -> AppOnlyGraphClient:
    """The Graph client for a platform mailbox, holding one of its request slots per call."""
    return AppOnlyGraphClient(
        base_url=registration.graph_url,
        token=token_source(tokens or app_tokens(registration), tenant),
        http=graph.shared_http(registration),
        mailbox=mailbox,
        gate=partial(limits.mailbox_slot, mailbox, max_wait=max_wait),
        batch_gate=partial(
            limits.mailbox_slot, mailbox, slots=limits.CONCURRENCY, max_wait=max_wait
        ),
    )


def _app_only(call: Callable[[], T]) -> T:
    try:
        return call()
    except AuthorizationLost as exc:
        raise Rejected(
            f"Microsoft refused Convene's app-only access: {exc}", status=exc.status, code=exc.code
        ) from exc
    except MailboxGone as exc:
        # Not "deleted in Outlook": the whole mailbox is unknown, which only the admin fixes.
        raise Rejected(
            f"The mailbox was not found: {exc}", status=exc.status, code=exc.code
        ) from exc
    except identity.UNAVAILABLE as exc:
        # MSAL reaches the identity platform while it builds its app object (discovery).
        raise Transient(f"Could not reach Microsoft's sign-in service ({exc}).") from exc
    except ValueError as exc:
        # MSAL's way of saying the authority (tenant) does not exist.
        raise Rejected(
            f"Microsoft does not know this tenant: {exc}", code="invalid_tenant"
        ) from exc


# --- Test connection ----------------------------------------------------------------------


@dataclass
class Diagnosis:
    """What "Test connection" found. ``problem`` names the fix the page offers."""

    mailbox: str
    tenant: str
    problem: str = (
        ""  # "", consent, permission, mailbox, policy, secret, tenant, unreachable, other
    )
    title: str = ""
    explanation: str = ""
    detail: str = ""
    proven: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problem

    @property
    def offers_admin_consent(self) -> bool:
        return self.problem in ("consent", "permission")


TEST_SUBJECT = "Convene connection test (deleted right away)"


def test_connection(registration: AppRegistration, mailbox: str, tenant: str) -> Diagnosis:
    """Ask Microsoft for a token, read the calendar, then create and delete a private event.

    A fresh token cache, so a secret changed since the last token is really tried. Each step
    that worked is listed in ``proven``; the first one that failed says what to fix.
    """
    diagnosis = Diagnosis(mailbox=mailbox, tenant=tenant)
    tokens = identity.AppTokens(registration, http_cache={})
    calendar_client = client(registration, mailbox, tenant, tokens=tokens, max_wait=10.0)
    step = "token"
    try:
        _app_only(lambda: tokens.token(tenant))
        diagnosis.proven.append(f"Microsoft issued an app-only token for tenant {tenant}.")
        step = "read"
        calendar = calendar_client.get_calendar()
        diagnosis.proven.append(
            f"Convene can read the calendar “{calendar.get('name', 'Calendar')}” of {mailbox}."
        )
        step = "write"
        probe = calendar_client.create_event(_probe_event())
        calendar_client.delete_event(str(probe["id"]))
        diagnosis.proven.append(
            "Convene can write to it (a private test event was created and deleted)."
        )
    except MicrosoftError as exc:
        _explain(diagnosis, step, exc)
    record(
        LogKind.AUTHORIZATION,
        "test_connection",
        status="ok" if diagnosis.ok else diagnosis.problem,
        mailbox=mailbox,
        message=diagnosis.title if not diagnosis.ok else "Test connection succeeded.",
        tenant=tenant,
    )
    return diagnosis


def _probe_event() -> dict[str, Any]:
    start = (timezone.now() + timedelta(days=1)).replace(microsecond=0, tzinfo=None)
    return {
        "subject": TEST_SUBJECT,
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(minutes=5)).isoformat(), "timeZone": "UTC"},
        "sensitivity": "private",
        "showAs": "free",
        "isReminderOn": False,
        "attendees": [],
    }


def _explain(diagnosis: Diagnosis, step: str, exc: MicrosoftError) -> None:
    diagnosis.detail = str(exc)
    if isinstance(exc, Transient):
        diagnosis.problem = "unreachable"
        diagnosis.title = "Microsoft could not be reached"
        diagnosis.explanation = (
            "Convene got no usable answer from Microsoft. Check this server's outbound network "
            "(proxy, firewall, DNS) and try again in a few minutes."
        )
    elif identity.secret_refused(exc):
        diagnosis.problem = "secret"
        diagnosis.title = "Microsoft refused Convene's client secret or certificate"
        diagnosis.explanation = (
            "OUTLOOK_PLATFORM_CLIENT_SECRET or OUTLOOK_PLATFORM_CLIENT_CERTIFICATE (with a "
            "single registration: OUTLOOK_CLIENT_SECRET or OUTLOOK_CLIENT_CERTIFICATE) does not "
            "match the app registration, or it has expired. Create a new secret under "
            "Certificates & secrets in Microsoft Entra, set it in Convene's environment and "
            "restart Convene."
        )
    elif identity.consent_missing(exc):
        diagnosis.problem = "consent"
        diagnosis.title = f"No admin consent in tenant {diagnosis.tenant}"
        diagnosis.explanation = (
            "An administrator of the platform's tenant has not granted Convene its "
            "application permission yet. Use “Grant admin consent” and sign in as an "
            "administrator of that tenant."
        )
    elif identity.tenant_unknown(exc):
        diagnosis.problem = "tenant"
        diagnosis.title = f"Microsoft does not know the tenant “{diagnosis.tenant}”"
        diagnosis.explanation = (
            "Set the platform tenant to the tenant id (a GUID) or a verified domain of the "
            "tenant that holds the service mailbox."
        )
    elif graph.mailbox_missing(exc) or isinstance(exc, NotFound):
        diagnosis.problem = "mailbox"
        diagnosis.title = f"Mailbox {diagnosis.mailbox} not found"
        diagnosis.explanation = (
            f"Tenant {diagnosis.tenant} has no mailbox {diagnosis.mailbox} that Exchange Online "
            "serves (wrong address, no Exchange Online licence, or a mailbox of another tenant)."
        )
    elif graph.kept_out_by_access_policy(exc):
        # The answer Microsoft documents for a mailbox outside an application access policy.
        diagnosis.problem = "policy"
        diagnosis.title = "An application access policy keeps Convene out of this mailbox"
        diagnosis.explanation = (
            "An Exchange Online application access policy restricts Convene to other "
            f"mailboxes. Add {diagnosis.mailbox} to the policy's mail-enabled security group "
            "(Test-ApplicationAccessPolicy shows the result); changes take 30 minutes or more."
        )
    elif isinstance(exc, AccessDenied):
        # A plain "Access is denied": Microsoft documents no message that tells RBAC for
        # Applications apart from a missing Entra permission, so the advice covers both, and
        # never tells an RBAC set-up to add the tenant-wide Entra permission.
        diagnosis.problem = "permission"
        diagnosis.title = (
            "Convene may not write this calendar"
            if step == "write"
            else "Convene is not allowed into this mailbox"
        )
        diagnosis.explanation = (
            "With RBAC for Applications (recommended): the role assignment “Application "
            "Calendars.ReadWrite” of Convene's platform registration must be scoped to include "
            f"{diagnosis.mailbox}; Test-ServicePrincipalAuthorization -Resource "
            f"{diagnosis.mailbox} shows whether it is (InScope). Do not also add an Entra "
            "application permission: it would open every mailbox of the tenant. Without RBAC "
            "for Applications: the platform registration needs the Microsoft Graph "
            "application permission Calendars.ReadWrite, granted by an administrator of the "
            "platform's tenant (admin consent). Changes take 30 minutes or more."
        )
    else:
        diagnosis.problem = "other"
        diagnosis.title = "Microsoft refused the request"
        diagnosis.explanation = "See Microsoft's answer below."
