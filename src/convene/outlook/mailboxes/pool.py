"""The platform calendar's service mailboxes and Exchange's sending limits on each.

Exchange Online lets one mailbox send meeting messages to at most 10,000 recipients in 24 hours
(and 500 per message). A platform that invites a whole company from one service mailbox meets
that limit, so the platform calendar may use a *pool*: the service mailbox of the settings plus
any number of others (``PoolMailbox``). A single service mailbox is a pool of one.

- ``members``: the pool, in order, the settings' service mailbox first;
- ``choose``: the mailbox a new event's copy is made in: the one with the most room left in its
  24 hours (what Convene sent there plus what it has just assigned), never one Exchange told
  to wait. A copy stays where it was made, so every later update and cancellation of an event
  goes out from the same mailbox;
- ``count_sent`` / ``recipients_of``: Convene's own count of what each mailbox sent, per hour;
- ``wait`` / ``waiting_until``: Exchange refused a mailbox for its daily limit: its new work
  waits until the time Exchange gave (the links say so; nothing is retried before);
- ``forecast``: recipients waiting to be invited against the room the pool has left, shown on
  the sync dashboard before the limit is reached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, F, QuerySet, Sum
from django.utils import timezone

from convene.events.models import Enrollment, EventStatus
from convene.outlook.microsoft.errors import SendingLimitReached
from convene.outlook.models import (
    CalendarLink,
    LinkState,
    Mode,
    OutlookSettings,
    PoolMailbox,
    SendingLimitWait,
    SendingTally,
)

# Exchange Online's documented default (Exchange Online limits, "Sending limits"); an admin of
# the tenant may set a lower one (RecipientLimitPerDay), so it is a setting.
DEFAULT_RECIPIENTS_PER_DAY = 10_000
# More mailboxes than this would be a bulk-mailing setup, which Exchange Online is not for.
MAX_EXTRA_MAILBOXES = 20
WINDOW = timedelta(hours=24)
# Without a Retry-After, a refused mailbox is tried again after this long.
DEFAULT_WAIT = timedelta(hours=1)
# How long one process trusts the loads it read before reading them again.
LOADS_TTL_SECONDS = 2.0


def recipients_per_day() -> int:
    return int(getattr(settings, "OUTLOOK_RECIPIENTS_PER_DAY", DEFAULT_RECIPIENTS_PER_DAY))


def members(outlook: OutlookSettings) -> list[str]:
    """The pool's mailboxes (lower-cased), the settings' service mailbox first."""
    found = [outlook.service_mailbox.lower()] if outlook.service_mailbox else []
    for address in PoolMailbox.objects.values_list("address", flat=True):
        if address.lower() not in found:
            found.append(address.lower())
    return found


def replace_extra(addresses: list[str]) -> str | None:
    """Make ``addresses`` the pool's mailboxes besides the service mailbox; a sentence saying
    what changed (None: nothing did). Events already in a mailbox taken out stay there."""
    before = list(PoolMailbox.objects.values_list("address", flat=True))
    if sorted(before) == sorted(addresses):
        return None
    PoolMailbox.objects.exclude(address__in=addresses).delete()
    for address in addresses:
        PoolMailbox.objects.get_or_create(address=address)
    _loads.forget()
    was, now = ", ".join(before) or "—", ", ".join(addresses) or "—"
    return f"Extra mailboxes to send from: {was} → {now}"


def in_pool(mailbox: str) -> bool:
    return PoolMailbox.objects.filter(address__iexact=mailbox).exists()


# --- counting what was sent -------------------------------------------------------------


def attendee_addresses(attendees: Any) -> set[str]:
    """The addresses of a Graph attendee list, lower-cased."""
    found = set()
    for attendee in attendees or []:
        address = ((attendee or {}).get("emailAddress") or {}).get("address")
        if address:
            found.add(str(address).lower())
    return found


def recipients_of(action: str, last_pushed: Mapping[str, Any], body: Mapping[str, Any]) -> int:
    """The recipients of the meeting messages one accepted request sent: everyone invited by a
    create or told of a cancellation; for an update, who joined or left, plus everyone staying
    when more than the attendee list changed."""
    before = attendee_addresses(last_pushed.get("attendees"))
    if action == "create":
        return len(attendee_addresses(body.get("attendees")))
    if action == "cancel":
        return len(before)
    after = attendee_addresses(body["attendees"]) if "attendees" in body else before
    changed = len(after ^ before)
    if set(body) - {"attendees"}:
        changed += len(after & before)
    return changed


def count_sent(sent: Mapping[str, int], now: datetime | None = None) -> None:
    """Add recipients sent per mailbox to this hour's tallies."""
    hour = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    for mailbox, recipients in sent.items():
        if recipients <= 0:
            continue
        key = mailbox.lower()
        updated = SendingTally.objects.filter(mailbox=key, hour=hour).update(
            recipients=F("recipients") + recipients
        )
        if not updated:
            _, made = SendingTally.objects.get_or_create(
                mailbox=key, hour=hour, defaults={"recipients": recipients}
            )
            if not made:
                SendingTally.objects.filter(mailbox=key, hour=hour).update(
                    recipients=F("recipients") + recipients
                )
        _loads.note(key, recipients)


def sent_today(mailboxes: Iterable[str], now: datetime | None = None) -> dict[str, int]:
    """Recipients each mailbox sent in the last 24 hours (by Convene's count)."""
    since = (now or timezone.now()) - WINDOW
    wanted = [m.lower() for m in mailboxes]
    found = dict.fromkeys(wanted, 0)
    rows = (
        SendingTally.objects.filter(mailbox__in=wanted, hour__gt=since - timedelta(hours=1))
        .values("mailbox")
        .annotate(total=Sum("recipients"))
    )
    for row in rows:
        found[row["mailbox"]] = int(row["total"] or 0)
    return found


# --- waiting for Exchange's 24 hours -----------------------------------------------------


def until(refusal: SendingLimitReached) -> datetime:
    """When a mailbox refused for its daily limit may send again (Microsoft's Retry-After,
    or ``DEFAULT_WAIT`` from now without one)."""
    wait_for = refusal.retry_after
    return timezone.now() + (timedelta(seconds=wait_for) if wait_for else DEFAULT_WAIT)


def wait(mailbox: str, retry_after: float | None, reason: str) -> datetime:
    """Exchange refused the mailbox for its daily limit: hold its new work until then."""
    now = timezone.now()
    until = now + (timedelta(seconds=retry_after) if retry_after else DEFAULT_WAIT)
    SendingLimitWait.objects.update_or_create(
        mailbox=mailbox.lower(), defaults={"until": until, "since": now, "reason": reason[:2000]}
    )
    _loads.forget()
    return until


def waiting_until(mailbox: str, now: datetime | None = None) -> datetime | None:
    row = SendingLimitWait.objects.filter(
        mailbox=mailbox.lower(), until__gt=now or timezone.now()
    ).first()
    return row.until if row is not None else None


# --- choosing a mailbox -----------------------------------------------------------------


class _Loads:
    """This process's view of each mailbox's 24 hours: read from the database at most every
    ``LOADS_TTL_SECONDS``, plus what this process assigned since (so one batch of new events
    spreads over the pool instead of all landing on the mailbox that was emptiest)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read_at = 0.0
        self._sent: dict[str, int] = {}
        self._waiting: set[str] = set()

    def forget(self) -> None:
        with self._lock:
            self._read_at = 0.0

    def note(self, mailbox: str, recipients: int) -> None:
        with self._lock:
            if mailbox in self._sent:
                self._sent[mailbox] += recipients

    def choose(self, pool: list[str], recipients: int) -> str:
        with self._lock:
            if time.monotonic() - self._read_at > LOADS_TTL_SECONDS or set(pool) - set(self._sent):
                self._sent = sent_today(pool)
                now = timezone.now()
                self._waiting = set(
                    SendingLimitWait.objects.filter(mailbox__in=pool, until__gt=now).values_list(
                        "mailbox", flat=True
                    )
                )
                self._read_at = time.monotonic()
            open_ = [m for m in pool if m not in self._waiting] or pool
            chosen = min(open_, key=lambda m: (self._sent.get(m, 0), pool.index(m)))
            # Counted now, so the next new event of this batch goes elsewhere if it fits better.
            self._sent[chosen] = self._sent.get(chosen, 0) + recipients
            return chosen


_loads = _Loads()


def choose(link: CalendarLink, outlook: OutlookSettings) -> str:
    """The pool mailbox where a new copy of ``link``'s event is made."""
    pool = members(outlook)
    if len(pool) <= 1:
        return pool[0] if pool else ""
    recipients = Enrollment.objects.filter(event_id=link.event_id).count()
    return _loads.choose(pool, recipients)


def spreads(outlook: OutlookSettings) -> bool:
    """Whether new copies are spread over several mailboxes (each chosen on its own)."""
    return outlook.mode == Mode.PLATFORM and PoolMailbox.objects.exists()


# --- the forecast -----------------------------------------------------------------------


@dataclass(frozen=True)
class MailboxLoad:
    mailbox: str
    sent: int  # recipients in the last 24 hours
    limit: int
    waiting_until: datetime | None

    @property
    def remaining(self) -> int:
        return 0 if self.waiting_until else max(0, self.limit - self.sent)

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.sent / self.limit)) if self.limit else 100


@dataclass(frozen=True)
class Forecast:
    """What the platform calendar must still send today against what its pool may send."""

    mailboxes: list[MailboxLoad]
    queued_recipients: int  # invitations of events waiting for their first copy
    waiting_events: int  # events waiting for a mailbox's 24 hours to move on

    @property
    def remaining(self) -> int:
        return sum(m.remaining for m in self.mailboxes)

    @property
    def too_small(self) -> bool:
        """The pool cannot send today what is queued: some invitations will wait."""
        return self.queued_recipients > self.remaining

    @property
    def short_by(self) -> int:
        return max(0, self.queued_recipients - self.remaining)


def forecast(outlook: OutlookSettings, now: datetime | None = None) -> Forecast:
    now = now or timezone.now()
    pool = members(outlook)
    sent = sent_today(pool, now)
    waits = dict(
        SendingLimitWait.objects.filter(mailbox__in=pool, until__gt=now).values_list(
            "mailbox", "until"
        )
    )
    limit = recipients_per_day()
    loads = [MailboxLoad(m, sent.get(m, 0), limit, waits.get(m)) for m in pool]
    new_copies = CalendarLink.objects.filter(
        mode=Mode.PLATFORM,
        graph_id="",
        synced_version__lt=F("desired_version"),
        event__status=EventStatus.SCHEDULED,
    ).exclude(state__in=[LinkState.DELETED_IN_OUTLOOK, LinkState.NEEDS_NEW_ORGANIZER])
    queued = new_copies.aggregate(people=Count("event__enrollments"))["people"] or 0
    return Forecast(loads, int(queued), waiting_links().count())


WAITING_PREFIX = "Waiting for Exchange's daily sending limit"


def waiting_links() -> QuerySet[CalendarLink]:
    """Links whose push waits for a mailbox's 24 hours of sending to move on."""
    return (
        CalendarLink.objects.filter(
            last_error__startswith=WAITING_PREFIX, synced_version__lt=F("desired_version")
        )
        .select_related("event")
        .order_by("next_attempt_at")
    )
