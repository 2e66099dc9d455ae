"""The daily full reconcile: every upcoming event's Outlook copy (and a big event's overflow
copies, ``outbound.copies``) compared with Convene.

Notifications and the delta read catch changes as they happen; this catches whatever both
missed (a delta round lost with its token, a copy changed while a subscription was down, a
write Convene never heard back from). It must cost almost nothing when nothing differs, and
change nothing then: per mailbox, one listing of the calendar over the upcoming events' span
with only ``id`` and ``changeKey`` (``PAGE_SIZE`` events a request), compared with the
``changeKey`` of Convene's last write. Only a copy whose key differs, or that is missing, is
read in full and reconciled as a notification would have it (replies taken in, drift sent
back by the sync engine, a deleted copy shown, an overflow copy's too). An unchanged copy gets
no read of its own, no PATCH and no message. Requests go through the mailbox's request slots,
like every other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from convene.events.models import EventStatus
from convene.outlook.inbound import reconcile
from convene.outlook.mailboxes import limits
from convene.outlook.microsoft.errors import MicrosoftError, Throttled
from convene.outlook.models import (
    CalendarLink,
    LinkState,
    LogKind,
    OutlookSettings,
    OverflowCopy,
    record,
)
from convene.outlook.outbound import queueing

# Events per listing request (Prefer: odata.maxpagesize). At least 50, so a mailbox where
# nothing changed costs at most one request per 50 events.
PAGE_SIZE = 100
SELECT = ("id", "changeKey")


@dataclass(frozen=True)
class MailboxResult:
    mailbox: str
    compared: int
    listing_requests: int
    differing: int


def mailboxes(now: datetime | None = None) -> list[str]:
    """Mailboxes with upcoming events whose Outlook copy Convene believes is current."""
    return sorted(set(_upcoming(now or timezone.now()).values_list("owner_mailbox", flat=True)))


def reconcile_mailbox(
    mailbox: str,
    enqueue: queueing.Enqueue,
    retry_later: reconcile.RetryLater,
    *,
    now: datetime | None = None,
) -> MailboxResult | None:
    """Compare and repair one mailbox's upcoming copies. Raises ``Transient`` (and
    ``Throttled``, after pausing the mailbox) for the task to try again later."""
    now = now or timezone.now()
    outlook = OutlookSettings.load()
    if not outlook.enabled:
        return None
    upcoming = _upcoming(now).filter(owner_mailbox=mailbox, mode=outlook.mode)
    links = list(upcoming.values_list("graph_id", "change_key", "event__end"))
    # A big event's overflow copies (``outbound.copies``) in this mailbox are compared too.
    overflow = list(
        OverflowCopy.objects.filter(
            link__in=upcoming, mailbox__iexact=mailbox, deleted_in_outlook_at__isnull=True
        )
        .exclude(graph_id="")
        .values_list("graph_id", "change_key", "link__event__end")
    )
    target = reconcile.mailbox_target(mailbox, outlook)
    if not links or target is None:
        return None
    end = max(event_end for _, _, event_end in links) + timedelta(minutes=1)
    outlook_keys: dict[str, str] = {}
    requests = 0
    try:
        for page in target.client.calendar_view(
            _graph_time(now), _graph_time(end), SELECT, PAGE_SIZE
        ):
            requests += 1
            for item in page.get("value") or []:
                if item.get("id"):
                    outlook_keys[str(item["id"])] = str(item.get("changeKey") or "")
    except MicrosoftError as exc:
        if isinstance(exc, Throttled):
            limits.pause(target.mailbox, exc.retry_after or 1.0)
        record(
            LogKind.GRAPH,
            "calendar_view",
            status=str(exc.status or type(exc).__name__),
            message=str(exc),
            mailbox=target.mailbox,
            purpose="daily_reconcile",
            requests=requests,
        )
        raise
    record(
        LogKind.GRAPH,
        "calendar_view",
        status="ok",
        mailbox=target.mailbox,
        purpose="daily_reconcile",
        requests=requests,
    )
    differing = [
        graph_id
        for graph_id, change_key, _ in links + overflow
        if outlook_keys.get(graph_id) != change_key
    ]
    for graph_id in differing:
        # An overflow copy is reconciled as a notification on it would be
        # (``copies.reconcile_copy``: answers taken in, drift sent back).
        if not reconcile.reconcile(target.mailbox, graph_id, enqueue):
            retry_later(target.mailbox, graph_id)  # being pushed right now: read it shortly
    compared = len(links) + len(overflow)
    result = MailboxResult(target.mailbox, compared, requests, len(differing))
    record(
        LogKind.DECISION,
        "daily_reconcile",
        status="repaired" if differing else "unchanged",
        message=(
            f"Compared {len(links)} upcoming events"
            + (f" and {len(overflow)} overflow copies" if overflow else "")
            + f" with Outlook in {requests} request"
            f"{'s' * (requests != 1)}: "
            + (
                f"{len(differing)} differed and were reconciled."
                if differing
                else "all as Convene last wrote them."
            )
        ),
        mailbox=target.mailbox,
        compared=compared,
        overflow_copies=len(overflow),
        requests=requests,
        differing=len(differing),
    )
    return result


def _upcoming(now: datetime) -> QuerySet[CalendarLink]:
    return (
        CalendarLink.objects.filter(
            state=LinkState.SYNCED,
            event__end__gte=now,
            event__status=EventStatus.SCHEDULED,
        )
        .exclude(graph_id="")
        .exclude(owner_mailbox="")
    )


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
