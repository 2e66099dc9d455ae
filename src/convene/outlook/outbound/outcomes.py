"""What a failed push means for its link, whether its request went alone or in a batch.

Failures are states, not exceptions: a transient one is retried with backoff (and Retry-After;
a 429 also pauses the mailbox for every worker), a lost authorization parks the event until
its owner reconnects, a mailbox at Exchange's daily sending limit holds the event until its
24 hours move on (``mailboxes.pool``), a deactivated organizer's event waits for a new
organizer, a copy gone from Outlook is "deleted in Outlook", and anything else is recorded and
shown.
"""

from __future__ import annotations

from convene.outlook import links
from convene.outlook.mailboxes import limits, pool
from convene.outlook.mailboxes.connections import mark_mailbox_gone, mark_refused_by_graph
from convene.outlook.microsoft.errors import (
    AuthorizationLost,
    MailboxGone,
    MicrosoftError,
    NotFound,
    OrganizerLeft,
    SendingLimitReached,
    Throttled,
    Transient,
)
from convene.outlook.models import CalendarLink
from convene.outlook.outbound.queueing import Enqueue, queue_once


def settle_failure(link: CalendarLink, exc: MicrosoftError, mailbox: str, enqueue: Enqueue) -> None:
    if isinstance(exc, OrganizerLeft):
        links.needs_new_organizer(link, str(exc))
    elif isinstance(exc, AuthorizationLost):
        if exc.status == 401:
            # Graph's answer, after a fresh token was tried (a refused sign-in has marked the
            # connection already): mark it, so the person is told once and all their events
            # wait, rather than each event parking silently.
            mark_refused_by_graph(link.event.created_by_id, str(exc))
        links.park(link, str(exc))
    elif isinstance(exc, MailboxGone):
        # The organizer's whole mailbox, not this event: one mark on their connection parks
        # all their events and tells the admins once (never "deleted" for each event). (The
        # platform calendar's client reports a gone service mailbox as a refusal instead.)
        mark_mailbox_gone(link.event.created_by_id, str(exc))
        links.park(link, str(exc))
    elif isinstance(exc, NotFound):
        if link.graph_id and exc.item_not_found:
            links.deleted_in_outlook(link)
        else:
            links.fail(link, exc, permanent=True)
    elif isinstance(exc, SendingLimitReached):
        # Wait, don't fail: the mailbox's 24 hours must move on; the sweep resumes it then.
        until = pool.wait(mailbox, exc.retry_after, str(exc)) if mailbox else pool.until(exc)
        links.wait_for_sending_limit(
            link,
            f"{pool.WAITING_PREFIX} of {mailbox or 'the mailbox'}: it goes out at "
            f"{until:%Y-%m-%d %H:%M} UTC. ({exc})",
            until,
        )
    elif isinstance(exc, Transient):
        if isinstance(exc, Throttled) and mailbox:
            limits.pause(mailbox, exc.retry_after or 1.0)
        delay = links.fail(link, exc, permanent=False)
        queue_once(link.pk, link.event_id, enqueue, delay=delay)
    else:
        links.fail(link, exc, permanent=True)
