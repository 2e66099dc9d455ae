"""Change-notification subscriptions on mailbox events, with their lifecycle.

A subscription watches one mailbox's events. It is created only after its webhook(s) echo a
validation token, lives until ``expirationDateTime`` (by the emulator's clock), and is told
``reauthorizationRequired`` shortly before that when it has a lifecycle URL.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from m365_emulator.errors import GraphError
from m365_emulator.graph.payload import parse_iso
from m365_emulator.graph.serialize import graph_timestamp

if TYPE_CHECKING:
    from m365_emulator.graph.store import GraphStore
    from m365_emulator.identity.access import Caller

CHANGE_TYPES = frozenset({"created", "updated", "deleted"})
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
# Outlook asks for reauthorization this long before a subscription expires.
REAUTHORIZE_BEFORE = timedelta(minutes=10)
_RESOURCE = re.compile(
    r"^/?(?:me|users/(?P<user>[^/]+))/(?:events|calendar/events|calendars/[^/]+/events)/?$",
    re.IGNORECASE,
)


@dataclass
class Subscription:
    id: str
    resource: str
    owner_id: str
    tenant_id: str
    change_types: frozenset[str]
    change_type_text: str
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: datetime
    application_id: str
    creator_id: str
    latest_tls: str = "v1_2"
    reauthorization_sent: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def parse_resource(resource: Any) -> str | None:
    """The ``users/{ref}`` part of a subscription resource (None for ``me``); 400 if unsupported."""
    if not isinstance(resource, str):
        raise GraphError(400, "InvalidRequest", "The resource property is required.")
    path = resource.split("?", 1)[0]
    match = _RESOURCE.match(path)
    if match is None:
        raise GraphError(
            400,
            "ExtensionError",
            f"Operation: Create; Exception: [Status Code: BadRequest; Reason: The resource "
            f"'{resource}' is not supported.]",
        )
    return match.group("user")


class Subscriptions:
    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._all: dict[str, Subscription] = {}

    def clear(self) -> None:
        with self.store.lock:
            self._all.clear()

    # ----- Graph operations ------------------------------------------------------------------

    async def create(
        self, caller: Caller, owner_id: str, tenant_id: str, body: dict[str, Any]
    ) -> Subscription:
        config = self.store.backend.config
        change_types = _change_types(body.get("changeType"))
        schemes = ("http", "https") if config.allow_http_notification_urls else ("https",)
        notification_url = _url(
            body.get("notificationUrl"), "notificationUrl", schemes, required=True
        )
        lifecycle_url = _url(
            body.get("lifecycleNotificationUrl"), "lifecycleNotificationUrl", schemes
        )
        client_state = body.get("clientState")
        if client_state is not None and (
            not isinstance(client_state, str) or len(client_state) > 128
        ):
            raise GraphError(
                400, "InvalidRequest", "clientState must be a string of at most 128 characters."
            )
        if body.get("includeResourceData"):
            raise GraphError(
                400,
                "InvalidRequest",
                "Rich notifications (includeResourceData) are not supported for this resource.",
            )
        expiration = self._expiration(body.get("expirationDateTime"))
        for url in filter(None, (notification_url, lifecycle_url)):
            problem = await self.store.notifier.validate(
                url, secrets.token_urlsafe(24), config.validation_timeout_seconds
            )
            if problem is not None:
                raise GraphError(400, "InvalidRequest", problem)
        subscription = Subscription(
            id=str(uuid.uuid4()),
            resource=str(body["resource"]),
            owner_id=owner_id,
            tenant_id=tenant_id,
            change_types=change_types,
            change_type_text=str(body["changeType"]),
            notification_url=notification_url,
            lifecycle_url=lifecycle_url or None,
            client_state=client_state,
            expiration=expiration,
            application_id=caller.client_id,
            creator_id=caller.user_id or caller.client_id,
            latest_tls=str(body.get("latestSupportedTlsVersion") or "v1_2"),
        )
        with self.store.lock:
            self._all[subscription.id] = subscription
        return subscription

    def get(self, caller: Caller, subscription_id: str) -> Subscription:
        self.sweep()
        with self.store.lock:
            found = self._all.get(subscription_id)
        if found is None or not _visible(found, caller):
            raise GraphError(
                404,
                "ResourceNotFound",
                f"The object was not found. Subscription '{subscription_id}' does not exist.",
            )
        return found

    def visible_to(self, caller: Caller) -> list[Subscription]:
        self.sweep()
        with self.store.lock:
            return [s for s in self._all.values() if _visible(s, caller)]

    def renew(self, caller: Caller, subscription_id: str, body: dict[str, Any]) -> Subscription:
        found = self.get(caller, subscription_id)
        unknown = set(body) - {"expirationDateTime", "@odata.type"}
        if unknown:
            raise GraphError(
                400,
                "InvalidRequest",
                f"Only expirationDateTime can be updated, not {sorted(unknown)}.",
            )
        expiration = self._expiration(body.get("expirationDateTime"))
        with self.store.lock:
            found.expiration = expiration
            found.reauthorization_sent = False
        return found

    def delete(self, caller: Caller, subscription_id: str) -> None:
        found = self.get(caller, subscription_id)
        with self.store.lock:
            self._all.pop(found.id, None)

    def reauthorize(self, caller: Caller, subscription_id: str) -> None:
        found = self.get(caller, subscription_id)
        with self.store.lock:
            found.reauthorization_sent = False

    # ----- emulator-side events ----------------------------------------------------------------

    def on_change(self, owner_id: str, event_id: str, change_type: str, change_key: str) -> None:
        """Notify every live subscription on this mailbox that watches ``change_type``."""
        now = self.store.now()
        matched = False
        for subscription in list(self._all.values()):
            if subscription.owner_id != owner_id or change_type not in subscription.change_types:
                continue
            if subscription.expiration <= now:
                continue
            matched = True
            resource = f"Users/{owner_id}/Events/{event_id}"
            notification: dict[str, Any] = {
                "subscriptionId": subscription.id,
                "subscriptionExpirationDateTime": graph_timestamp(subscription.expiration),
                "changeType": change_type,
                "resource": resource,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "@odata.etag": f'W/"{change_key}"',
                    "id": event_id,
                },
                "tenantId": subscription.tenant_id,
            }
            if subscription.client_state is not None:
                notification["clientState"] = subscription.client_state
            self.store.notifier.send(subscription.notification_url, {"value": [notification]})
        if not matched:
            # Counted before the change's request is answered, so a test can tell "nothing
            # will be sent" at once instead of waiting to see that nothing arrives.
            self.store.stats.notification("unmatched")

    def trigger(self, subscription_id: str, lifecycle_event: str) -> Subscription:
        """Send a lifecycle notification now (control API); ``subscriptionRemoved`` also removes."""
        if lifecycle_event not in LIFECYCLE_EVENTS:
            raise GraphError(
                400,
                "InvalidRequest",
                f"lifecycleEvent must be one of {', '.join(LIFECYCLE_EVENTS)}.",
            )
        with self.store.lock:
            found = self._all.get(subscription_id)
            if found is None:
                raise GraphError(404, "ResourceNotFound", "No such subscription.")
            if lifecycle_event == "subscriptionRemoved":
                del self._all[subscription_id]
        self._send_lifecycle(found, lifecycle_event)
        return found

    def sweep(self) -> None:
        """Drop expired subscriptions; warn those about to expire (needs a lifecycle URL)."""
        now = self.store.now()
        due: list[Subscription] = []
        with self.store.lock:
            for subscription in list(self._all.values()):
                if subscription.expiration <= now:
                    del self._all[subscription.id]
                elif (
                    subscription.lifecycle_url
                    and not subscription.reauthorization_sent
                    and subscription.expiration - now <= REAUTHORIZE_BEFORE
                ):
                    subscription.reauthorization_sent = True
                    due.append(subscription)
        for subscription in due:
            self._send_lifecycle(subscription, "reauthorizationRequired")

    def all(self) -> list[Subscription]:
        with self.store.lock:
            return list(self._all.values())

    # ----- helpers ---------------------------------------------------------------------------

    def _send_lifecycle(self, subscription: Subscription, lifecycle_event: str) -> None:
        if not subscription.lifecycle_url:
            return
        notification: dict[str, Any] = {
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": graph_timestamp(subscription.expiration),
            "tenantId": subscription.tenant_id,
            "lifecycleEvent": lifecycle_event,
        }
        if subscription.client_state is not None:
            notification["clientState"] = subscription.client_state
        self.store.notifier.send(
            subscription.lifecycle_url, {"value": [notification]}, lifecycle=True
        )

    def _expiration(self, raw: Any) -> datetime:
        if not isinstance(raw, str):
            raise GraphError(400, "InvalidRequest", "expirationDateTime is required.")
        expiration = parse_iso(raw, "expirationDateTime")
        if expiration.tzinfo is None:
            raise GraphError(400, "InvalidRequest", "expirationDateTime must be in UTC.")
        now = self.store.now()
        limit = self.store.backend.config.subscription_max_minutes
        if expiration <= now:
            raise GraphError(
                400, "InvalidRequest", "Subscription expiration must be in the future."
            )
        if expiration > now + timedelta(minutes=limit):
            raise GraphError(
                400,
                "InvalidRequest",
                f"Subscription expiration can only be {limit} minutes in the future.",
            )
        return expiration


def to_json(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "resource": subscription.resource,
        "applicationId": subscription.application_id,
        "changeType": subscription.change_type_text,
        "clientState": subscription.client_state,
        "notificationUrl": subscription.notification_url,
        "notificationQueryOptions": None,
        "lifecycleNotificationUrl": subscription.lifecycle_url,
        "expirationDateTime": graph_timestamp(subscription.expiration),
        "creatorId": subscription.creator_id,
        "includeResourceData": False,
        "latestSupportedTlsVersion": subscription.latest_tls,
        "encryptionCertificate": None,
        "encryptionCertificateId": None,
        "notificationUrlAppId": None,
    }


def _visible(subscription: Subscription, caller: Caller) -> bool:
    if subscription.application_id != caller.client_id:
        return False
    if caller.kind == "delegated":
        return subscription.creator_id == caller.user_id
    return subscription.tenant_id == caller.tenant_id


def _change_types(raw: Any) -> frozenset[str]:
    if not isinstance(raw, str) or not raw.strip():
        raise GraphError(400, "InvalidRequest", "changeType is required.")
    kinds = frozenset(part.strip() for part in raw.split(","))
    unknown = kinds - CHANGE_TYPES
    if unknown:
        raise GraphError(
            400, "InvalidRequest", f"'{', '.join(sorted(unknown))}' is not a valid changeType."
        )
    return kinds


def _url(raw: Any, name: str, schemes: tuple[str, ...], required: bool = False) -> str:
    """Graph requires HTTPS webhooks; plain http only where the emulator was told to allow it."""
    if raw is None and not required:
        return ""
    parts = urlsplit(raw) if isinstance(raw, str) else None
    if parts is None or parts.scheme.lower() not in schemes or not parts.netloc:
        raise GraphError(400, "InvalidRequest", f"{name} must be an absolute https URL.")
    return str(raw)
