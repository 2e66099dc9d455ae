"""Where Microsoft Graph sends change and lifecycle notifications.

Public and unauthenticated by nature, so it trusts nothing it is sent: a notification counts
only if it names an active subscription of Convene's and carries that subscription's secret
``clientState``. It then only notes which event changed (``noted_changes.note``: usually a
single read, at most a row and one task per mailbox) and answers 202 at once; Graph gives an
endpoint 3 seconds and may send hundreds a second. The work reads the event from Graph itself,
so nothing in a notification's body is ever believed beyond "look at this event".

Answers: 200 + token (validation handshake), 202 (accepted), 400 (malformed), 403 (nothing in
it verifiably ours), 413 (too large), 415 (not JSON), 503 (could not record it: Graph retries
later).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from convene.outlook import tasks
from convene.outlook.inbound import noted_changes, subscriptions
from convene.outlook.models import Subscription
from convene.outlook.operations.metrics import observed

log = logging.getLogger(__name__)

# Graph sends small batches; anything near this is not Graph.
MAX_BODY_BYTES = 1_000_000
MAX_ITEMS = 1000
MAX_BRACKETS = 8 * MAX_ITEMS
MAX_VALIDATION_TOKEN = 2048

# How stale ``Subscription.last_notification_at`` may get: a write per notification would
# cost more than the notification itself.
LAST_NOTIFICATION_PRECISION = timedelta(minutes=1)

Verified = list[tuple[Subscription, dict[str, Any]]]
Accept = Callable[[Verified], int]
"""Queue the work of the verified notifications; returns how many were usable."""


@csrf_exempt  # Microsoft cannot hold a CSRF token; the clientState is the check
@require_POST
@observed("notifications")
def notifications(request: HttpRequest) -> HttpResponse:
    return _receive(request, _change)


@csrf_exempt
@require_POST
@observed("lifecycle")
def lifecycle(request: HttpRequest) -> HttpResponse:
    return _receive(request, _lifecycle)


def _receive(request: HttpRequest, accept: Accept) -> HttpResponse:
    token = request.GET.get("validationToken")
    if token is not None:
        # The handshake when a subscription is created: echo the token as plain text, and
        # nothing else (text/plain, never HTML, so it cannot script anything).
        if len(token) > MAX_VALIDATION_TOKEN:
            return HttpResponse(status=400)
        return HttpResponse(token, content_type="text/plain; charset=utf-8")
    body = _body(request)
    if isinstance(body, HttpResponse):
        return body
    items = body.get("value") if isinstance(body, dict) else None
    if (
        not isinstance(items, list)
        or not items
        or len(items) > MAX_ITEMS
        or not all(isinstance(item, dict) for item in items)
    ):
        return HttpResponse(status=400)
    # Every distinct claim checked at once, before anything is done per item: a batch with
    # nothing genuine in it is refused for the price of one query.
    claims = [
        (subscription_id, client_state)
        if isinstance(subscription_id := item.get("subscriptionId"), str)
        and isinstance(client_state := item.get("clientState"), str)
        else ("", "")
        for item in items
    ]
    genuine = subscriptions.verify_all(claims)
    if not genuine:
        return HttpResponse(status=403)
    verified = [
        (subscription, item)
        for claim, item in zip(claims, items, strict=True)
        if (subscription := genuine.get(claim))
    ]
    try:
        queued = accept(verified)
    except Exception:
        # Not persisted: a 5xx makes Graph deliver it again later.
        log.exception("Could not queue work for a Graph notification")
        return HttpResponse(status=503)
    if not queued:
        return HttpResponse(status=400)
    _heard_from({subscription for subscription, _ in verified})
    return HttpResponse(status=202)


def _heard_from(verified: set[Subscription]) -> None:
    now = timezone.now()
    due = [
        s
        for s in verified
        if s.last_notification_at is None
        or now - s.last_notification_at > LAST_NOTIFICATION_PRECISION
    ]
    if due:
        Subscription.objects.filter(pk__in=[s.pk for s in due]).update(last_notification_at=now)
        for subscription in due:  # the webhook remembers these objects for a few seconds
            subscription.last_notification_at = now


def _body(request: HttpRequest) -> Any:
    """The parsed JSON body, or the response refusing it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return HttpResponse(status=400)
    if length > MAX_BODY_BYTES:
        return HttpResponse(status=413)
    content_type = request.content_type or ""
    if content_type.lower() != "application/json":
        return HttpResponse(status=415)
    raw = request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return HttpResponse(status=413)
    # Bounded structure before parsing: a genuine item opens two or three objects, so many
    # more brackets than items can hold is not Graph (and 100,000 nested ones would exhaust
    # the parser's recursion: RecursionError, a 500).
    if raw.count(b"{") + raw.count(b"[") > MAX_BRACKETS:
        return HttpResponse(status=400)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return HttpResponse(status=400)


def _change(verified: Verified) -> int:
    changed: defaultdict[str, list[str]] = defaultdict(list)
    for subscription, item in verified:
        data = item.get("resourceData")
        event_id = data.get("id") if isinstance(data, dict) else None
        if isinstance(event_id, str) and event_id and len(event_id) <= 512:
            changed[subscription.mailbox].append(event_id)
    for mailbox, event_ids in changed.items():
        noted_changes.note(mailbox, event_ids, tasks.enqueue_reconcile)
    return sum(len(ids) for ids in changed.values())


def _lifecycle(verified: Verified) -> int:
    count = 0
    for subscription, item in verified:
        event = item.get("lifecycleEvent")
        if event in subscriptions.LIFECYCLE_EVENTS:
            tasks.lifecycle_task(subscription.pk, event)
            count += 1
    return count
