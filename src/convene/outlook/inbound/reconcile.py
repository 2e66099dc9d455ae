"""Reading an event's Outlook copy back: attendees' answers, drift, deletion.

Change notifications and delta reads only say *which* event changed. ``reconcile`` reads that
event as Outlook has it now and compares it with what Convene recorded, so handling a change
twice, late or out of order does nothing more than handling it once:

- answers: each attendee's latest answer is recorded, new declines acted on
  (``convene.outlook.answers``).
- drift: owned properties edited in Outlook are written to the audit log and sent back at the
  next sync (Convene is the source of truth for its events).
- deletion: an event its owner deleted in Outlook is marked so, and the organizer may publish it
  again; Convene never re-creates it on its own, which would invite everyone again.

Mode-agnostic: the mailbox and its Graph client come from ``outbound.targets``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from convene.events.models import EventStatus
from convene.outlook import links
from convene.outlook.answers import apply_replies
from convene.outlook.inbound import sessions
from convene.outlook.mailboxes.connections import mark_mailbox_gone
from convene.outlook.microsoft import mapping
from convene.outlook.microsoft.errors import MailboxGone, NotFound
from convene.outlook.models import (
    CalendarLink,
    LinkState,
    LogKind,
    OutlookSettings,
    record,
)
from convene.outlook.outbound import copies, online_meetings, queueing, room_answers
from convene.outlook.outbound.snapshots import event_snapshot
from convene.outlook.outbound.targets import Target, resolve_target

RetryLater = Callable[[str, str], None]
"""Have ``reconcile`` of (mailbox, Graph event id) run again in a little while."""

# --- which mailbox, which client ----------------------------------------------------------


def mailbox_link(mailbox: str, mode: str) -> CalendarLink | None:
    """An event of Convene's in that mailbox: what ``resolve_target`` needs to reach it."""
    return (
        CalendarLink.objects.select_related("event__created_by")
        .filter(owner_mailbox=mailbox, mode=mode)
        .exclude(graph_id="")
        .order_by("-pk")
        .first()
    )


def mailbox_target(mailbox: str, outlook: OutlookSettings, mode: str = "") -> Target | None:
    """How to reach ``mailbox`` as it is used in ``mode`` (default: the current mode)."""
    mode = mode or outlook.mode
    link = mailbox_link(mailbox, mode)
    if link is None:
        return None
    as_used = copy.copy(outlook)
    as_used.mode = mode
    return resolve_target(link, link.event, as_used)


# --- one changed event ------------------------------------------------------------------


def reconcile(mailbox: str, graph_id: str, enqueue: queueing.Enqueue) -> bool:
    """Bring Convene in line with the event as Outlook has it now.

    Returns False when the event is being pushed right now (its lease is taken): comparing
    during a push would mistake Convene's own write for drift, so the caller tries again.
    """
    link = _link(mailbox, graph_id)
    if link is None:
        handled = copies.reconcile_copy(
            mailbox,
            graph_id,
            lambda link: queueing.retry_now(link, enqueue, compare_again=True),
            lambda link: enqueue(link.event_id, 0),
        )
        if handled is not None:
            return handled  # an overflow copy (False: being pushed, look again)
        return sessions.reconcile_occurrence(mailbox, graph_id, enqueue)
    if not _watched(link):
        return True
    outlook = OutlookSettings.load()
    if not outlook.enabled:
        return True
    target = resolve_target(link, link.event, outlook)
    if not links.take_lease(link.pk):
        return False
    drifted: list[str] = []
    seen = ""
    try:
        with links.leases_kept([link.pk]):
            # Re-read under the lease: a push that just finished has saved what it sent.
            link.refresh_from_db()
            if link.graph_id != graph_id or not _watched(link):
                return True
            try:
                graph_event = target.client.get_event(graph_id)
            except MailboxGone as exc:
                mark_mailbox_gone(link.event.created_by_id, str(exc))
                return True
            except NotFound as exc:
                if exc.item_not_found:
                    links.deleted_in_outlook(link)
                return True
            seen = link.change_key
            drifted = _drifted(link, target, graph_event)
            known_before = link.last_pushed.get(mapping.OUTLOOK_ONLY_ATTENDEES) or []
            outlook_only = (
                mapping.outlook_only_attendees(link.last_pushed, graph_event)
                if "attendees" in link.last_pushed  # else Convene's own list is being resent
                else known_before
            )
            if drifted or outlook_only != known_before:
                links.note_outlook_copy(link, drifted, outlook_only)
    finally:
        links.give_back_lease([link.pk])
    apply_replies(link.event, graph_event, mailbox, outlook)
    room_answers.read_answer(link.event, graph_event, target.client)
    online_meetings.note_if_present(link.event, graph_event)
    if graph_event.get("changeKey"):
        # Only now that its answers were acted on (and its drift noted, to be sent back) may
        # a push go out over this version.
        links.seen_as_written(link, seen, str(graph_event["changeKey"]))
    if outlook_only != known_before:
        links.record_outlook_only(link.event_id, mailbox, outlook_only)
    if drifted and links.drift_repeats(link.event_id):
        links.drift_repeating(link, drifted)
    elif drifted:
        record(
            LogKind.DECISION,
            "drift_overwritten",
            message=(
                f"Changed in Outlook: {', '.join(drifted)}. Convene's version will be sent "
                "back to Outlook."
            ),
            event_id=link.event_id,
            mailbox=mailbox,
            properties=drifted,
        )
        queueing.retry_now(link, enqueue, compare_again=True)
    elif CalendarLink.objects.filter(links.behind(), pk=link.pk).exists():
        # A sync that arrived while we held the lease stepped aside; run it now.
        enqueue(link.event_id, 0)
    return True


def _drifted(link: CalendarLink, target: Target, graph_event: dict[str, Any]) -> list[str]:
    """Owned properties changed in Outlook: different from what Outlook last accepted from
    Convene *and* from what Convene wants now. A copy showing what Convene wants is Convene's
    own write (one whose answer was lost: it timed out here and ran in Outlook), not an edit
    to repair; so is the very version Convene last wrote or read (its changeKey)."""
    if graph_event.get("changeKey") and graph_event.get("changeKey") == link.change_key:
        return []
    drifted = mapping.drifted_properties(link.last_pushed, graph_event)
    if not drifted:
        return []
    wanted = mapping.event_payload(
        event_snapshot(link.event, target.mailbox, platform=target.is_platform)
    )
    theirs = set(mapping.drifted_properties(wanted, graph_event))
    return [name for name in drifted if name in theirs]


def _link(mailbox: str, graph_id: str) -> CalendarLink | None:
    return (
        CalendarLink.objects.select_related("event__created_by")
        .filter(owner_mailbox=mailbox, graph_id=graph_id)
        .first()
    )


def _watched(link: CalendarLink) -> bool:
    """Is there a live Outlook copy whose changes matter? Not for cancelled events (their
    copy is gone on purpose) nor for one already known to be deleted."""
    return not (
        link.event.status == EventStatus.CANCELLED
        or link.last_pushed.get("isCancelled")
        or link.state == LinkState.DELETED_IN_OUTLOOK
    )


# --- deleted in Outlook, and publishing again ---------------------------------------------


def publish_again(link: CalendarLink, *, actor_id: int | None, enqueue: queueing.Enqueue) -> bool:
    """A new Outlook copy of an event deleted there (which invites everyone again); False when
    it does not apply."""
    if not links.publish_again(link, actor_id=actor_id):
        return False
    queueing.retry_now(link, enqueue)
    return True
