"""Change-notification subscriptions on every mailbox Convene writes events to.

``maintain`` (periodic) makes reality match what is needed: a mailbox that holds an upcoming
Convene event gets a subscription on its events; one about to expire is renewed well before it
does; one that expired or disappeared is created again (and the mailbox read by delta, since
changes may have been missed meanwhile); one no longer needed (integration off, mode switched,
no events left: a mode switch, a handover, a deactivated organizer) is deleted at Microsoft,
through the authorization it was made with; a deletion Microsoft does not confirm is retried
every run (and shown on the sync dashboard) until it succeeds or the subscription expires.
Lifecycle notifications trigger the same steps at once, and a person disconnecting Outlook
deletes theirs first, while their authorization still works.

Each subscription gets its own random ``clientState``. Only Microsoft keeps it; Convene stores
its SHA-256 and checks every notification against that, in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from convene.events.models import EventStatus, not_over
from convene.outlook.inbound import reconcile
from convene.outlook.mailboxes import connections, platform
from convene.outlook.microsoft.errors import AuthorizationLost, MicrosoftError, NotFound
from convene.outlook.microsoft.graph import GraphClient
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import (
    CalendarLink,
    LinkState,
    LogKind,
    Mode,
    OutlookConnection,
    OutlookSettings,
    Subscription,
    SyncLogEntry,
    record,
)
from convene.outlook.outbound import targets

# Microsoft allows event subscriptions up to 10,080 minutes (under seven days; 4,230 in older
# documentation); two days stays below every maximum it has documented, so a renewal is never
# refused for asking too much.
LIFETIME = timedelta(days=2)
# Renew when less than this is left: a day of slack for a queue or Microsoft outage.
RENEW_WHEN_LEFT = timedelta(days=1)
# Removed rows are kept this long for the audit trail, then forgotten.
KEEP_REMOVED = timedelta(days=7)
# A refused creation (most often: Microsoft cannot reach the webhook over HTTPS, so validation
# fails) is tried again after 1, 2, 4 ... minutes, at most every 6 hours, until one succeeds;
# the delta read covers the mailbox meanwhile.
CREATE_RETRY_FIRST = timedelta(minutes=1)
CREATE_RETRY_MAX = timedelta(hours=6)
CHANGE_TYPES = "created,updated,deleted"
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")

ReadMailbox = Callable[[str], None]
"""Queue a delta read of one mailbox."""


# --- checking notifications ---------------------------------------------------------------


def digest(client_state: str) -> str:
    return hashlib.sha256(client_state.encode()).hexdigest()


# A batch may mix in a forged item beside a genuine one (only the genuine one counts); more
# different secrets than this for one subscription is guessing.
MAX_SECRETS_PER_SUBSCRIPTION = 2


def verify(subscription_id: Any, client_state: Any) -> Subscription | None:
    """The active subscription a notification claims to come from, if its secret matches."""
    return verify_all([(subscription_id, client_state)]).get((subscription_id, client_state))


def verify_all(claims: Iterable[tuple[Any, Any]]) -> dict[tuple[str, str], Subscription]:
    """Of these (subscriptionId, clientState) claims, the ones naming an active subscription
    with that secret, each mapped to it. One query for all of them, however many items a
    batch repeats them in: a forged batch costs no more than a genuine one."""
    wanted = {
        (subscription_id, client_state)
        for subscription_id, client_state in claims
        if isinstance(subscription_id, str)
        and isinstance(client_state, str)
        and 0 < len(subscription_id) <= 200
        and len(client_state) <= 255
    }
    if not wanted:
        return {}
    secrets_named: dict[str, set[str]] = {}
    for subscription_id, client_state in wanted:
        secrets_named.setdefault(subscription_id, set()).add(client_state)
    if any(len(named) > MAX_SECRETS_PER_SUBSCRIPTION for named in secrets_named.values()):
        # Graph repeats a subscription's one clientState on each of its items; a batch that
        # tries many against one subscription is guessing, and is refused unread.
        return {}
    active = _active_subscriptions({subscription_id for subscription_id, _ in wanted})
    found = {}
    for subscription_id, client_state in wanted:
        subscription = active.get(subscription_id)
        if subscription is not None and hmac.compare_digest(
            subscription.client_state_hash, digest(client_state)
        ):
            found[(subscription_id, client_state)] = subscription
    return found


# Graph may send hundreds of notifications a second, most naming the same few subscriptions:
# looking each one up cost the webhook as much CPU as everything else it does (issue 19). An
# active subscription found is remembered for this long by the process. Its rows change rarely
# and every change made here forgets them at once (``forget_verified``); another process's
# change (a worker removing one) is seen after at most this long, during which a notification
# for it still only says "read this event", which the work checks with Graph itself.
REMEMBER_ACTIVE = timedelta(seconds=5)
_remembered: dict[str, tuple[float, Subscription]] = {}
_remembered_lock = threading.Lock()


def _active_subscriptions(graph_ids: set[str]) -> dict[str, Subscription]:
    now = time.monotonic()
    found: dict[str, Subscription] = {}
    with _remembered_lock:
        for graph_id in graph_ids:
            entry = _remembered.get(graph_id)
            if entry is not None and entry[0] > now:
                found[graph_id] = entry[1]
    missing = graph_ids - found.keys()
    if missing:
        read = Subscription.objects.filter(graph_id__in=missing, state=Subscription.State.ACTIVE)
        until = now + REMEMBER_ACTIVE.total_seconds()
        with _remembered_lock:
            if len(_remembered) > 10_000:  # forged ids are never remembered; this bounds the rest
                _remembered.clear()
            for subscription in read:
                found[subscription.graph_id] = subscription
                _remembered[subscription.graph_id] = (until, subscription)
    return found


def forget_verified(**_: Any) -> None:
    """Forget the remembered subscriptions: after any change to one (also a signal receiver)."""
    with _remembered_lock:
        _remembered.clear()


# --- keeping them as needed ---------------------------------------------------------------


def needed_mailboxes(outlook: OutlookSettings, now: datetime) -> set[str]:
    """Mailboxes holding an upcoming Convene event in the current mode."""
    if not outlook.enabled:
        return set()
    links = CalendarLink.objects.filter(
        not_over(now, "event__"), mode=outlook.mode, event__status=EventStatus.SCHEDULED
    )
    if outlook.mode == Mode.ORGANIZER:
        # Convene does not act as someone who left (their events wait for a handover).
        links = links.filter(event__created_by__is_active=True)
    return set(
        links.exclude(graph_id="")
        .exclude(owner_mailbox="")
        .exclude(state=LinkState.DELETED_IN_OUTLOOK)
        .values_list("owner_mailbox", flat=True)
        .distinct()
    )


def maintain(read_mailbox: ReadMailbox, *, now: datetime | None = None) -> None:
    """Create, renew, recreate and delete subscriptions so that exactly the needed ones live."""
    now = now or timezone.now()
    outlook = OutlookSettings.load()
    needed = needed_mailboxes(outlook, now)
    for mailbox in sorted(needed):
        try:
            ensure(mailbox, outlook, read_mailbox, now=now)
        except AuthorizationLost:
            pass  # the sync engine has told the person; this mailbox waits for them too
        except MicrosoftError as exc:
            _failed(mailbox, "ensure", exc)
    unneeded = Subscription.objects.filter(state=Subscription.State.ACTIVE).exclude(
        Q(mode=outlook.mode, mailbox__in=needed)
    )
    for subscription in unneeded:
        remove(subscription, outlook, why="no longer needed")
    retry_deletions(now)
    Subscription.objects.filter(
        state=Subscription.State.REMOVED, expires_at__lt=now - KEEP_REMOVED
    ).delete()


def ensure(
    mailbox: str,
    outlook: OutlookSettings,
    read_mailbox: ReadMailbox,
    *,
    now: datetime | None = None,
) -> Subscription | None:
    """The mailbox's live subscription, renewed or created as needed."""
    now = now or timezone.now()
    target = reconcile.mailbox_target(mailbox, outlook)
    if target is None:
        return None
    current = (
        Subscription.objects.filter(
            mailbox=target.mailbox, mode=outlook.mode, state=Subscription.State.ACTIVE
        )
        .order_by("-expires_at")
        .first()
    )
    if current is not None and current.expires_at - now > RENEW_WHEN_LEFT:
        return current
    if current is not None and current.expires_at > now:
        try:
            return renew(current, target, now=now)
        except NotFound:
            _removed(current, "Microsoft no longer knows it")
    elif current is not None:
        _removed(current, "expired")
    if _creation_waits(target.mailbox, now):
        return None
    try:
        created = create(target, outlook, now=now)
    except AuthorizationLost:
        raise
    except MicrosoftError as exc:
        _failed(target.mailbox, "create", exc, when=now)
        return None
    if current is not None:
        # Changes made while no subscription was listening were not notified.
        read_mailbox(target.mailbox)
    return created


def create(target: targets.Target, outlook: OutlookSettings, *, now: datetime) -> Subscription:
    registration = AppRegistration.from_settings()
    client_state = secrets.token_urlsafe(32)
    answer = target.client.create_subscription(
        {
            "changeType": CHANGE_TYPES,
            "notificationUrl": registration.absolute(reverse("outlook:webhook")),
            "lifecycleNotificationUrl": registration.absolute(reverse("outlook:webhook_lifecycle")),
            "resource": target.client.events_resource,
            "expirationDateTime": _graph_time(now + LIFETIME),
            "clientState": client_state,
        }
    )
    connection = None
    if not target.is_platform:
        connection = OutlookConnection.objects.filter(
            account_username__iexact=target.mailbox
        ).first()
    subscription = Subscription.objects.create(
        mailbox=target.mailbox,
        mode=outlook.mode,
        connection=connection,
        graph_id=str(answer["id"]),
        client_state_hash=digest(client_state),
        expires_at=_parse_time(answer.get("expirationDateTime")) or now + LIFETIME,
    )
    record(
        LogKind.NOTIFICATION,
        "subscribed",
        status="ok",
        message=f"Listening to changes until {subscription.expires_at:%Y-%m-%d %H:%M} UTC.",
        mailbox=target.mailbox,
        when=now,
    )
    return subscription


def renew(subscription: Subscription, target: targets.Target, *, now: datetime) -> Subscription:
    """Extend it (which also reauthorizes it)."""
    answer = target.client.renew_subscription(subscription.graph_id, _graph_time(now + LIFETIME))
    subscription.expires_at = _parse_time(answer.get("expirationDateTime")) or now + LIFETIME
    subscription.renewed_at = timezone.now()
    subscription.last_error = ""
    subscription.save(update_fields=["expires_at", "renewed_at", "last_error"])
    record(
        LogKind.NOTIFICATION,
        "renewed",
        status="ok",
        message=f"Subscription renewed until {subscription.expires_at:%Y-%m-%d %H:%M} UTC.",
        mailbox=subscription.mailbox,
    )
    return subscription


def remove(subscription: Subscription, outlook: OutlookSettings, *, why: str) -> None:
    """Stop using it (its notifications are refused from now on) and delete it at Microsoft.
    Reached through its own authorization (the organizer's connection, or the app's access
    to the platform tenant), not through an event of the mailbox: after a mode switch or a
    handover none may be left. When Microsoft cannot be told, it stays "being deleted",
    is shown on the sync dashboard and tried again by ``maintain`` until it expires."""
    changed = Subscription.objects.filter(
        pk=subscription.pk, state=Subscription.State.ACTIVE
    ).update(state=Subscription.State.REMOVING)
    forget_verified()
    subscription.state = Subscription.State.REMOVING
    if changed:
        record(
            LogKind.NOTIFICATION,
            "unsubscribing",
            message=f"Subscription no longer used: {why}.",
            mailbox=subscription.mailbox,
        )
    delete_at_microsoft(subscription, outlook)


def delete_at_microsoft(subscription: Subscription, outlook: OutlookSettings) -> bool:
    """One attempt to delete a subscription Convene stopped using; True once it is gone."""
    try:
        client = subscription_client(subscription, outlook)
        if client is None:
            raise AuthorizationLost(
                f"No Outlook authorization of {subscription.mailbox} is left to delete it with."
            )
        client.delete_subscription(subscription.graph_id)
    except NotFound:
        pass  # gone already (expired, or removed by Microsoft)
    except MicrosoftError as exc:
        Subscription.objects.filter(pk=subscription.pk).update(last_error=str(exc)[:2000])
        record(
            LogKind.NOTIFICATION,
            "subscription_delete",
            status=str(exc.status or type(exc).__name__),
            message=f"Could not delete the subscription at Microsoft (tried again): {exc}",
            mailbox=subscription.mailbox,
        )
        return False
    _removed(subscription, "deleted at Microsoft", previous=Subscription.State.REMOVING)
    return True


def subscription_client(subscription: Subscription, outlook: OutlookSettings) -> GraphClient | None:
    """A Graph client with the authorization the subscription was made with."""
    registration = AppRegistration.from_settings()
    if subscription.mode == Mode.PLATFORM:
        tenant = platform.tenant_for(subscription.mailbox, outlook)
        return platform.client(registration.for_platform(), subscription.mailbox, tenant)
    connection = subscription.connection or (
        OutlookConnection.objects.filter(account_username__iexact=subscription.mailbox).first()
    )
    if connection is None:
        return None
    # Deleting Convene's own subscription is cleanup, allowed even for an organizer who left
    # (whose events Convene no longer writes as them).
    return connections.client(registration, connection)


def retry_deletions(now: datetime) -> None:
    """Subscriptions Convene stopped using that Microsoft has not deleted yet: try again; one
    that has expired meanwhile is gone at Microsoft anyway."""
    outlook = OutlookSettings.load()
    for subscription in Subscription.objects.filter(state=Subscription.State.REMOVING):
        if subscription.expires_at <= now:
            _removed(subscription, "expired at Microsoft", previous=Subscription.State.REMOVING)
        else:
            delete_at_microsoft(subscription, outlook)


def forget_connection(connection: OutlookConnection) -> None:
    """The person is disconnecting: delete their subscriptions while their tokens still work."""
    outlook = OutlookSettings.load()
    for subscription in Subscription.objects.filter(
        Q(connection=connection) | Q(mailbox=connection.mailbox),
        mode=Mode.ORGANIZER,
        state=Subscription.State.ACTIVE,
    ):
        subscription.connection = connection
        remove(subscription, outlook, why="Outlook disconnected")


# --- lifecycle notifications --------------------------------------------------------------


def on_lifecycle(subscription_id: int, event: str, read_mailbox: ReadMailbox) -> None:
    subscription = Subscription.objects.filter(pk=subscription_id).first()
    if subscription is None:
        return
    outlook = OutlookSettings.load()
    record(
        LogKind.NOTIFICATION,
        f"lifecycle_{event}",
        message=f"Microsoft says: {event}.",
        mailbox=subscription.mailbox,
    )
    if event == "missed":
        read_mailbox(subscription.mailbox)
        return
    if event == "subscriptionRemoved":
        _removed(subscription, "removed by Microsoft")
    elif subscription.state != Subscription.State.ACTIVE:
        return
    try:
        if event == "reauthorizationRequired":
            target = reconcile.mailbox_target(subscription.mailbox, outlook, subscription.mode)
            if target is None:
                return
            try:
                renew(subscription, target, now=timezone.now())
                return
            except NotFound:
                _removed(subscription, "Microsoft no longer knows it")
        if subscription.mailbox in needed_mailboxes(outlook, timezone.now()):
            ensure(subscription.mailbox, outlook, read_mailbox)
            read_mailbox(subscription.mailbox)
    except MicrosoftError as exc:
        _failed(subscription.mailbox, event, exc)


# --- helpers ------------------------------------------------------------------------------


def _removed(
    subscription: Subscription, why: str, *, previous: str = Subscription.State.ACTIVE
) -> None:
    changed = Subscription.objects.filter(pk=subscription.pk, state=previous).update(
        state=Subscription.State.REMOVED, last_error=""
    )
    forget_verified()
    subscription.state = Subscription.State.REMOVED
    if changed:
        record(
            LogKind.NOTIFICATION,
            "unsubscribed",
            message=f"Subscription ended: {why}.",
            mailbox=subscription.mailbox,
        )


def _failed(
    mailbox: str, action: str, exc: MicrosoftError, *, when: datetime | None = None
) -> None:
    Subscription.objects.filter(mailbox=mailbox, state=Subscription.State.ACTIVE).update(
        last_error=str(exc)[:2000]
    )
    record(
        LogKind.NOTIFICATION,
        f"subscription_{action}",
        status=str(exc.status or type(exc).__name__),
        message=str(exc),
        mailbox=mailbox,
        when=when,
    )


def _creation_waits(mailbox: str, now: datetime) -> bool:
    """Whether the mailbox's last refused creations ask for more time before the next one.

    The audit log is the memory (shared by every worker): the refusals since the last
    subscription created there, the newest first.
    """
    recent = (
        SyncLogEntry.objects.filter(
            kind=LogKind.NOTIFICATION, mailbox=mailbox, action__in=_CREATION_OUTCOMES
        )
        .order_by("-created_at", "-id")
        .values_list("action", "created_at")[:12]
    )
    refusals = 0
    last_refusal: datetime | None = None
    at: datetime
    for action, at in recent:
        if action == "subscribed":
            break
        refusals += 1
        last_refusal = last_refusal or at
    if last_refusal is None:
        return False
    wait: timedelta = min(CREATE_RETRY_FIRST * 2 ** (refusals - 1), CREATE_RETRY_MAX)
    return bool(now < last_refusal + wait)


_CREATION_OUTCOMES = ("subscribed", "subscription_create")


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    whole = value.rstrip("Z").split(".")[0]
    try:
        return datetime.fromisoformat(whole).replace(tzinfo=UTC)
    except ValueError:
        return None
