"""People's Outlook authorizations: storing them, using them, losing them.

A connection holds MSAL's token cache, encrypted. Using it may rotate the refresh token, so each
use happens under a short lease on the row (one worker at a time, across processes) and the
rotated cache is written back before the lease is released. When Microsoft refuses the
authorization the connection is marked once, the person is told once, and nothing retries
until they reconnect.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from convene.accounts.models import Role, User
from convene.core.notices import notify
from convene.outlook.mailboxes import limits
from convene.outlook.microsoft import crypto, graph, identity
from convene.outlook.microsoft.errors import AuthorizationLost, Transient
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import (
    ConnectionStatus,
    LogKind,
    MailAccess,
    OutlookConnection,
    record,
)

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
LEASE_WAIT_SECONDS = 30.0


def save_sign_in(user_id: int, signed_in: identity.SignedIn) -> OutlookConnection:
    """Store (or replace) a person's authorization after they signed in with Microsoft."""
    before = OutlookConnection.objects.filter(user_id=user_id).values_list("mail_access", flat=True)
    if signed_in.granted(identity.MAIL_SCOPES[0]):
        mail_access = MailAccess.GRANTED
    else:
        # Someone who refused mail access is not asked again by this sign-in.
        mail_access = MailAccess.DECLINED if MailAccess.DECLINED in before else MailAccess.MISSING
    connection, _ = OutlookConnection.objects.update_or_create(
        user_id=user_id,
        defaults={
            "status": ConnectionStatus.CONNECTED,
            "account_username": signed_in.username,
            "tenant_id": signed_in.tenant_id,
            "home_account_id": signed_in.home_account_id,
            "encrypted_token_cache": crypto.encrypt(signed_in.token_cache),
            "last_error": "",
            "authorization_lost_at": None,
            "refresh_lease_until": None,
            "connected_at": timezone.now(),
            "mail_access": mail_access,
        },
    )
    record(
        LogKind.AUTHORIZATION,
        "connected",
        status="ok",
        user_id=user_id,
        mailbox=connection.mailbox,
        message=f"Outlook connected as {signed_in.username}",
    )
    return connection


def disconnect(user_id: int) -> None:
    for connection_id in OutlookConnection.objects.filter(user_id=user_id).values_list(
        "pk", flat=True
    ):
        _valid_tokens.forget(connection_id)
    deleted, _ = OutlookConnection.objects.filter(user_id=user_id).delete()
    if deleted:
        record(LogKind.AUTHORIZATION, "disconnected", status="ok", user_id=user_id)


def client(registration: AppRegistration, connection: OutlookConnection) -> graph.GraphClient:
    """The Graph client for a connected person's own calendar (``/me``), through their
    authorization, holding one of their mailbox's request slots per call (all 4 per batch)."""
    return graph.GraphClient(
        base_url=registration.graph_url,
        token=DelegatedTokens(registration, connection.pk, connection.home_account_id),
        http=graph.shared_http(registration),
        mailbox=None,
        gate=partial(limits.mailbox_slot, connection.mailbox),
        batch_gate=partial(limits.mailbox_slot, connection.mailbox, slots=limits.CONCURRENCY),
    )


def places_client(
    registration: AppRegistration, connection: OutlookConnection
) -> graph.GraphClient:
    """A Graph client for the places API (the tenant's rooms) through a connected admin's own
    authorization, with the ``Place.Read.All`` scope they consented to on top of Convene's
    own. Raises ``PlacesNotConsented`` when Microsoft gives no such token; the connection
    itself stays as it is (its calendar scopes still work)."""
    return graph.GraphClient(
        base_url=registration.graph_url,
        token=partial(_places_token, registration, connection.pk),
        http=graph.shared_http(registration),
        mailbox=None,
    )


class PlacesNotConsented(Exception):
    """The admin's authorization carries no consent to read the tenant's places (yet)."""


def _places_token(registration: AppRegistration, connection_id: int, fresh: bool = False) -> str:
    try:
        connection = _usable_connection(connection_id)
        got = _stored_token(registration, connection, fresh, scopes=identity.PLACES_SCOPES)
    except AuthorizationLost as exc:
        raise PlacesNotConsented(str(exc)) from exc
    return got.token


def mail_client(registration: AppRegistration, connection: OutlookConnection) -> graph.GraphClient:
    """A Graph client on the person's own mailbox (``/me``) with the ``Mail.Read`` scope on
    top of Convene's own, to read a decline's comment. Raises ``MailNotGranted`` when
    Microsoft gives no such token (never consented, or consent withdrawn); the connection
    itself stays as it is: its calendar scopes still work."""
    return graph.GraphClient(
        base_url=registration.graph_url,
        token=MailTokens(registration, connection.pk, connection.home_account_id),
        http=graph.shared_http(registration),
        mailbox=None,
        gate=partial(limits.mailbox_slot, connection.mailbox),
    )


class MailNotGranted(Exception):
    """The person's authorization carries no consent to read their mail (Mail.Read)."""


class MailTokens:
    """``Mail.Read`` access tokens for one connection, kept like ``DelegatedTokens``' (under
    a key of their own) and taken from the same stored authorization, under its lease, with a
    rotated refresh token written back. A refusal marks only the mail access as missing (the
    next event save asks for it again), never the connection as lost."""

    def __init__(self, registration: AppRegistration, connection_id: int, account_id: str) -> None:
        self.registration = registration
        self.connection_id = connection_id
        self._key = (f"{registration.client_id} Mail.Read", connection_id, account_id)

    def __call__(self, fresh: bool = False) -> str:
        if not fresh:
            token = _valid_tokens.get(self._key)
            if token is not None:
                return token
        _take_lease(self.connection_id)
        try:
            connection = _usable_connection(self.connection_id)
            try:
                got = _stored_token(
                    self.registration, connection, fresh, scopes=identity.MAIL_SCOPES
                )
            except AuthorizationLost as exc:
                note_mail_access(self.connection_id, granted=False)
                raise MailNotGranted(str(exc)) from exc
            if got.rotated_cache is not None:
                OutlookConnection.objects.filter(pk=self.connection_id).update(
                    encrypted_token_cache=crypto.encrypt(got.rotated_cache),
                    tokens_refreshed_at=timezone.now(),
                )
        finally:
            OutlookConnection.objects.filter(pk=self.connection_id).update(refresh_lease_until=None)
        note_mail_access(self.connection_id, granted=True)
        _valid_tokens.keep(self._key, got.token, got.expires_in)
        return got.token


def note_mail_access(connection_id: int, *, granted: bool) -> None:
    """What Microsoft just said about the connection's mail access: granted (an admin may
    have consented for the organization meanwhile), or missing (the next event save asks for
    it again, unless the person refused it)."""
    rows = OutlookConnection.objects.filter(pk=connection_id)
    if granted:
        rows.exclude(mail_access=MailAccess.GRANTED).update(mail_access=MailAccess.GRANTED)
    else:
        rows.filter(mail_access=MailAccess.GRANTED).update(mail_access=MailAccess.MISSING)


def mail_refused(user_id: int) -> None:
    """The person turned down Microsoft's request for mail access (their calendar stays
    connected): Convene does not ask again until they reconnect of their own accord."""
    OutlookConnection.objects.filter(user_id=user_id, status=ConnectionStatus.CONNECTED).update(
        mail_access=MailAccess.DECLINED
    )


def _usable_connection(connection_id: int) -> OutlookConnection:
    """The connection, if its stored authorization may still be used (``AuthorizationLost``
    with the reason it may not, otherwise)."""
    connection = OutlookConnection.objects.get(pk=connection_id)
    if not connection.is_usable:
        raise AuthorizationLost(connection.last_error or "Outlook needs to be connected again.")
    return connection


def _stored_token(
    registration: AppRegistration,
    connection: OutlookConnection,
    force_refresh: bool,
    *,
    scopes: Sequence[str] = tuple(identity.DELEGATED_SCOPES),
) -> identity.DelegatedToken:
    """A token from the connection's stored (encrypted) authorization, through MSAL."""
    return identity.delegated_token(
        registration,
        crypto.decrypt(connection.encrypted_token_cache),
        connection.home_account_id,
        force_refresh=force_refresh,
        scopes=scopes,
    )


def usable_connection(user_id: int) -> OutlookConnection | None:
    return OutlookConnection.objects.filter(
        user_id=user_id, status=ConnectionStatus.CONNECTED
    ).first()


class DelegatedTokens:
    """Access tokens for one connection, as the Graph client asks for them.

    A token is kept in this process until shortly before it expires (``_valid_tokens``):
    getting one from the stored authorization takes a lease on the row, a decrypt and MSAL's
    cache, which cost more than the Graph request itself. ``fresh=True`` (after a 401: revoked
    early) asks MSAL for a new one. The key includes the signed-in account, so reconnecting as
    someone else never reuses the previous account's token.
    """

    def __init__(self, registration: AppRegistration, connection_id: int, account_id: str) -> None:
        self.registration = registration
        self.connection_id = connection_id
        self._key = (registration.client_id, connection_id, account_id)

    def __call__(self, fresh: bool = False) -> str:
        if not fresh:
            token = _valid_tokens.get(self._key)
            if token is not None:
                return token
        got = access_token(self.registration, self.connection_id, force_refresh=fresh)
        _valid_tokens.keep(self._key, got.token, got.expires_in)
        return got.token


class TokenMemory:
    """Access tokens by key, each until ``MARGIN_SECONDS`` before it expires."""

    MARGIN_SECONDS = 300.0

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, int, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, str]) -> str | None:
        with self._lock:
            kept = self._tokens.get(key)
        if kept is None or kept[1] <= time.monotonic():
            return None
        return kept[0]

    def keep(self, key: tuple[str, int, str], token: str, expires_in: float) -> None:
        if expires_in <= self.MARGIN_SECONDS:
            return  # about to expire (or no lifetime given): ask again next time
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + expires_in - self.MARGIN_SECONDS)

    def forget(self, connection_id: int | None = None) -> None:
        """Forget one connection's tokens (all of them when ``None``)."""
        with self._lock:
            for key in [k for k in self._tokens if connection_id in (None, k[1])]:
                del self._tokens[key]


_valid_tokens = TokenMemory()


def forget_access_tokens() -> None:
    """Forget every access token kept in this process (the identity platform was reset)."""
    _valid_tokens.forget()


def access_token(
    registration: AppRegistration, connection_id: int, *, force_refresh: bool = False
) -> identity.DelegatedToken:
    """A valid access token for the connection, refreshing (and storing the rotation) if needed."""
    _take_lease(connection_id)
    try:
        connection = _usable_connection(connection_id)
        try:
            got = _stored_token(registration, connection, force_refresh)
        except AuthorizationLost as exc:
            mark_authorization_lost(connection, str(exc))
            raise
        if got.rotated_cache is not None:
            OutlookConnection.objects.filter(pk=connection_id).update(
                encrypted_token_cache=crypto.encrypt(got.rotated_cache),
                tokens_refreshed_at=timezone.now(),
            )
        return got
    finally:
        OutlookConnection.objects.filter(pk=connection_id).update(refresh_lease_until=None)


def mark_authorization_lost(connection: OutlookConnection, reason: str) -> None:
    """Record the loss and tell the person, once per loss."""
    _mark_unusable(connection, reason, "authorization_lost", _tell_authorization_lost)


def mark_refused_by_graph(user_id: int, reason: str) -> None:
    """Graph refused a freshly issued access token too (a second 401): the identity platform
    still issues tokens, but Graph will not take them (sessions revoked with continuous
    access evaluation, a blocked account). Only the person, or an admin, can fix that."""
    connection = OutlookConnection.objects.filter(user_id=user_id).first()
    if connection is not None:
        mark_authorization_lost(connection, reason)


def mark_mailbox_gone(user_id: int, reason: str) -> None:
    """Microsoft 365 no longer serves the person's mailbox (Exchange Online licence removed,
    mailbox disabled, user deleted): every event in it would fail the same way. Marked once,
    like a lost authorization (their events wait, nothing retries), and the admins (who alone
    can restore it) and the person are told once, not once per event."""
    connection = OutlookConnection.objects.filter(user_id=user_id).first()
    if connection is not None:
        _mark_unusable(connection, reason, "mailbox_gone", _tell_mailbox_gone)


def _mark_unusable(
    connection: OutlookConnection, reason: str, action: str, tell: Callable[[int], None]
) -> None:
    _valid_tokens.forget(connection.pk)
    with transaction.atomic():
        first_time = (
            OutlookConnection.objects.filter(
                pk=connection.pk, status=ConnectionStatus.CONNECTED
            ).update(
                status=ConnectionStatus.NEEDS_AUTHORIZATION,
                last_error=reason[:2000],
                authorization_lost_at=timezone.now(),
            )
            == 1
        )
        if not first_time:
            return
        record(
            LogKind.AUTHORIZATION,
            action,
            status="needs_authorization",
            user_id=connection.user_id,
            mailbox=connection.mailbox,
            message=reason,
        )
        transaction.on_commit(lambda: tell(connection.user_id))


def _tell_authorization_lost(user_id: int) -> None:
    connection = OutlookConnection.objects.select_related("user").filter(user_id=user_id).first()
    if connection is None or not connection.user.email or not connection.user.is_active:
        return  # someone who left is not asked to reconnect; their events are handed over
    reconnect = AppRegistration.from_settings().absolute("/outlook/connect/")
    try:
        send_mail(
            "Convene: please reconnect Outlook",
            "Microsoft no longer accepts Convene's access to your Outlook calendar "
            f"({connection.account_username}). Your events are kept and will reach Outlook "
            f"as soon as you reconnect: {reconnect}",
            settings.DEFAULT_FROM_EMAIL,
            [connection.user.email],
        )
    except OSError:
        # The in-app banner still tells them; a mail outage must not break sync.
        log.warning("Could not email user %s about lost Outlook authorization", user_id)


def _tell_mailbox_gone(user_id: int) -> None:
    connection = OutlookConnection.objects.select_related("user").filter(user_id=user_id).first()
    if connection is None:
        return
    person = connection.user
    mailbox = connection.mailbox or connection.account_username
    text = (
        f"Microsoft 365 no longer serves the Outlook mailbox {mailbox} of {person.name} "
        "(Exchange Online licence removed, mailbox disabled or user deleted). Their events "
        "wait in Convene; once the mailbox is back, they reconnect Outlook and everything "
        "reaches it."
    )
    for admin in User.objects.filter(role=Role.ADMIN, is_active=True):
        notify(admin, text, url="/outlook/admin/sync/", email_subject="Outlook mailbox unavailable")
    if person.is_active and person.role != Role.ADMIN:
        notify(person, text, url="/outlook/connect/", email_subject="Outlook mailbox unavailable")


def _take_lease(connection_id: int) -> None:
    deadline = time.monotonic() + LEASE_WAIT_SECONDS
    while True:
        now = timezone.now()
        taken = (
            OutlookConnection.objects.filter(pk=connection_id)
            .filter(Q(refresh_lease_until__isnull=True) | Q(refresh_lease_until__lt=now))
            .update(refresh_lease_until=now + LEASE)
        )
        if taken:
            return
        if not OutlookConnection.objects.filter(pk=connection_id).exists():
            raise AuthorizationLost("Outlook is not connected.")
        if time.monotonic() > deadline:
            raise Transient("Another worker is still renewing this Outlook authorization.")
        time.sleep(0.05)
