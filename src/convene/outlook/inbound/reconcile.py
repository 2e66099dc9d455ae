"""Reading an event's Outlook copy back: attendees' answers, drift, deletion.

Change notifications and delta reads only say *which* event changed. ``reconcile`` reads that
event as Outlook has it now and compares it with what Convene recorded, so handling a change
twice, late or out of order does nothing more than handling it once:

- answers: each attendee's latest answer is kept in ``AttendeeReply``; only a *new* answer is
  acted on. A decline unenrolls the person (when the admin wants that; never an organizer, never
  once the event has begun), and the organizer is told in the app and by email.
- drift: owned properties edited in Outlook are written to the audit log and sent back at the
  next sync (Convene is the source of truth for its events).
- deletion: an event its owner deleted in Outlook is marked so, and the organizer may publish it
  again; Convene never re-creates it on its own, which would invite everyone again.

Mode-agnostic: the mailbox and its Graph client come from ``outbound.targets``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from convene.accounts.models import User, normalize_email
from convene.events import services as event_services
from convene.events.errors import EventError
from convene.events.models import EnrollmentRole, Event, EventStatus
from convene.outlook import links
from convene.outlook.links import tell_organizer
from convene.outlook.mailboxes.connections import mark_mailbox_gone
from convene.outlook.microsoft import mapping
from convene.outlook.microsoft.errors import MailboxGone, NotFound
from convene.outlook.models import (
    AttendeeReply,
    CalendarLink,
    LinkState,
    LogKind,
    OutlookConnection,
    OutlookSettings,
    SyncLogEntry,
    record,
)
from convene.outlook.outbound import online_meetings, queueing, room_answers
from convene.outlook.outbound.targets import Target, resolve_target

RetryLater = Callable[[str, str], None]
"""Have ``reconcile`` of (mailbox, Graph event id) run again in a little while."""

DECLINED_REASON = "Declined in Outlook"

ANSWER_WORDS = {
    "accepted": "accepted",
    "tentativelyAccepted": "tentatively accepted",
    "declined": "declined",
}


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
    if link is None or not _watched(link):
        return True
    outlook = OutlookSettings.load()
    if not outlook.enabled:
        return True
    target = resolve_target(link, link.event, outlook)
    if not links.take_lease(link.pk):
        return False
    drifted: list[str] = []
    try:
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
        drifted = mapping.drifted_properties(link.last_pushed, graph_event)
        known_before = link.last_pushed.get(mapping.OUTLOOK_ONLY_ATTENDEES) or []
        outlook_only = (
            mapping.outlook_only_attendees(link.last_pushed, graph_event)
            if "attendees" in link.last_pushed  # else Convene's own list is being resent
            else known_before
        )
        if drifted or outlook_only != known_before:
            links.note_outlook_copy(link, drifted, outlook_only)
        if not drifted and graph_event.get("changeKey"):
            links.seen_as_written(link, str(graph_event["changeKey"]))
    finally:
        links.give_back_lease([link.pk])
    apply_replies(link.event, graph_event, mailbox, outlook)
    room_answers.read_answer(link.event, graph_event, target.client)
    online_meetings.note_if_present(link.event, graph_event)
    if outlook_only != known_before:
        addresses = [a["emailAddress"]["address"] for a in outlook_only]
        record(
            LogKind.DECISION,
            "outlook_only_attendees",
            message=(
                "On the meeting in Outlook but not in Convene (left alone): "
                f"{', '.join(addresses)}."
                if addresses
                else "Nobody is on the meeting in Outlook only any more."
            ),
            event_id=link.event_id,
            mailbox=mailbox,
            addresses=addresses,
        )
    if drifted and _drift_repeats(link):
        _stop_pushing_back(link, drifted, mailbox)
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


# Outlook changing the same event back this often in a day is something in the mailbox (a rule,
# an add-in, another sync tool) fighting Convene: pushing back again would only loop.
DRIFT_REPEATS_PER_DAY = 3


def _drift_repeats(link: CalendarLink) -> bool:
    recent = SyncLogEntry.objects.filter(
        event_id=link.event_id,
        action="drift_overwritten",
        created_at__gte=timezone.now() - timedelta(days=1),
    )
    return recent.count() >= DRIFT_REPEATS_PER_DAY


def _stop_pushing_back(link: CalendarLink, drifted: list[str], mailbox: str) -> None:
    reason = (
        f"Outlook keeps changing {', '.join(drifted)} of this event ({DRIFT_REPEATS_PER_DAY} "
        "times in a day): Convene stopped sending its version back. Look for a rule, add-in "
        "or other tool changing the mailbox's events, then press Retry."
    )
    links.drift_repeating(link, reason, drifted)


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


# --- answers ------------------------------------------------------------------------------


def apply_replies(
    event: Event, graph_event: dict[str, Any], mailbox: str, outlook: OutlookSettings
) -> None:
    """Record each attendee's answer; act on new declines."""
    room = room_answers.booking_of(event)
    found = [
        reply
        for reply in mapping.replies(graph_event)
        # The room's answer is the booking's (``room_answers``), not a person's.
        if room is None or reply.email != room.room.email.lower()
    ]
    users = people_by_address([r.email for r in found])
    for reply in found:
        user = users.get(reply.email)
        if not _is_new(event, reply, user):
            continue
        if reply.response == "declined":
            _declined(event, reply, user, mailbox, outlook)
        elif reply.response in mapping.ANSWERS:
            record(
                LogKind.REPLY,
                reply.response,
                status="recorded",
                message=f"{_name(user, reply)} {ANSWER_WORDS[reply.response]} in Outlook.",
                event_id=event.pk,
                user_id=user.pk if user else None,
                mailbox=mailbox,
            )


def people_by_address(addresses: list[str]) -> dict[str, User]:
    """Convene's people by the lower-case addresses Outlook may show for them: their email
    (Convene keeps it in lower case; Outlook's case varies) and, for people who connected
    Outlook, the Microsoft account they connected (an alias of theirs when it differs)."""
    wanted = {normalize_email(a) for a in addresses}
    people = {u.email: u for u in User.objects.filter(email__in=wanted)}
    connections = (
        OutlookConnection.objects.annotate(address=Lower("account_username"))
        .filter(address__in=wanted)
        .select_related("user")
    )
    for connection in connections:
        people.setdefault(connection.mailbox, connection.user)
    return people


def _is_new(event: Event, reply: mapping.Reply, user: User | None) -> bool:
    """Store the answer if it differs from the one recorded; True for the one caller that
    stored it (two workers handling the same change: only one acts)."""
    row = AttendeeReply.objects.filter(event=event, email=reply.email).first()
    values = {"response": reply.response, "responded_at": reply.time, "user": user}
    if row is None:
        if reply.response not in mapping.ANSWERS:
            return False  # nothing to show for someone who has not answered yet
        try:
            with transaction.atomic():
                AttendeeReply.objects.create(event=event, email=reply.email, **values)
        except IntegrityError:
            return False
        return True
    if (row.response, row.responded_at) == (reply.response, reply.time):
        return False
    changed = AttendeeReply.objects.filter(
        pk=row.pk, response=row.response, responded_at=row.responded_at
    ).update(recorded_at=timezone.now(), **values)
    return changed == 1


def _declined(
    event: Event,
    reply: mapping.Reply,
    user: User | None,
    mailbox: str,
    outlook: OutlookSettings,
) -> None:
    who = _name(user, reply)
    status, outcome = _decide_on_decline(event, user, outlook)
    record(
        LogKind.REPLY,
        "declined",
        status=status,
        message=f"{who} declined in Outlook. {outcome}",
        event_id=event.pk,
        user_id=user.pk if user else None,
        mailbox=mailbox,
    )
    tell_organizer(event, f"{who} declined “{event.title}” in Outlook. {outcome}", "Declined")


def _decide_on_decline(
    event: Event, user: User | None, outlook: OutlookSettings
) -> tuple[str, str]:
    """Unenroll, or say why not: (status for the audit log, sentence for people)."""
    if user is None:
        return "recorded", "They do not use Convene."
    enrollment = event.enrollment_of(user)
    if enrollment is None:
        return "not_enrolled", "They were not enrolled."
    if event.created_by_id == user.pk or enrollment.role == EnrollmentRole.ORGANIZER:
        return "kept_organizer", "Organizers are never unenrolled automatically."
    if event.start <= timezone.now():
        return "kept_started", "The event has already begun, so they stay on it."
    if not outlook.unenroll_on_decline:
        return "kept_setting_off", "They stay enrolled: automatic unenrolling is off."
    try:
        event_services.unenroll(event, user, actor=None, reason=DECLINED_REASON)
    except EventError as exc:
        return "kept", f"They stay enrolled: {exc}"
    return "unenrolled", "They were unenrolled and can enroll again at any time."


def _name(user: User | None, reply: mapping.Reply) -> str:
    return user.name if user is not None else reply.email


# --- deleted in Outlook, and publishing again ---------------------------------------------


def publish_again(link: CalendarLink, *, actor_id: int | None, enqueue: queueing.Enqueue) -> bool:
    """A new Outlook copy of an event deleted there (which invites everyone again); False when
    it does not apply."""
    if not links.publish_again(link, actor_id=actor_id):
        return False
    queueing.retry_now(link, enqueue)
    return True
