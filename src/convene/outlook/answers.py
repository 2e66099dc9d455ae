"""Attendees' answers as Outlook holds them: each one recorded once, new declines acted on.

Read from the organizer's copy, wherever Convene reads it: a notification or delta read
(``inbound.reconcile``), or a push about to move the event (``outbound.push``), since moving a
meeting clears every attendee's answer in Outlook, as in Exchange. Only a *new* answer is acted
on, so reading the same answer twice (from both paths, from two workers) acts once: a decline
unenrolls the person (when the admin wants that; never an organizer, never once the event has
begun), and the organizer is told in the app and by email.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from convene.accounts.models import User, normalize_email
from convene.events import services as event_services
from convene.events import waitlist
from convene.events.errors import EventError
from convene.events.models import EnrollmentRole, Event
from convene.outlook.links import tell_organizer
from convene.outlook.mailboxes import decline_comments
from convene.outlook.microsoft import mapping
from convene.outlook.models import (
    AttendeeReply,
    LogKind,
    OutlookConnection,
    OutlookSettings,
    RoomBooking,
    record,
)

DECLINED_REASON = "Declined in Outlook"

ANSWER_WORDS = {
    "accepted": "accepted",
    "tentativelyAccepted": "tentatively accepted",
    "declined": "declined",
}


def apply_replies(
    event: Event, graph_event: dict[str, Any], mailbox: str, outlook: OutlookSettings
) -> None:
    """Record each attendee's answer; act on new declines."""
    room = RoomBooking.objects.filter(event=event).select_related("room").first()
    found = [
        reply
        for reply in mapping.replies(graph_event)
        # The room's answer is the booking's (``outbound.room_answers``), not a person's.
        if room is None or reply.email != room.room.email.lower()
    ]
    users = people_by_address([r.email for r in found])
    for reply in found:
        user = users.get(reply.email)
        if not _is_new(event, reply, user):
            continue
        if reply.response == "declined":
            _declined(event, reply, user, mailbox, outlook, graph_event)
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
    # A new answer starts without a comment; a decline's is read next (``_declined``).
    values = {"response": reply.response, "responded_at": reply.time, "user": user, "comment": ""}
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
    graph_event: dict[str, Any],
) -> None:
    who = _name(user, reply)
    # Read before the decline's transaction (no lock held meanwhile), one request at most, and
    # only with the setting on; whatever happens to it, the decline goes on as without it.
    comment = decline_comments.read(event, graph_event, reply.email, reply.time, mailbox, outlook)
    # The unenrolling (and the waitlist's promotion), its log line and the organizer's notice
    # land together: nobody sees the decline's effect before the organizer is told of it.
    with transaction.atomic():
        if comment.text:
            AttendeeReply.objects.filter(
                event=event, email=reply.email, response="declined"
            ).update(comment=comment.text)
        status, outcome = _decide_on_decline(event, user, outlook)
        record(
            LogKind.REPLY,
            "declined",
            status=status,
            message=f"{who} declined in Outlook. {outcome}{_unread(comment)}",
            event_id=event.pk,
            user_id=user.pk if user else None,
            mailbox=mailbox,
        )
        tell_organizer(
            event,
            with_comment(f"{who} declined “{event.title}” in Outlook. {outcome}", comment.text),
            "Declined",
        )


# What a notice may hold (``core.notices.notify`` keeps 500 characters).
NOTICE_LENGTH = 500


def with_comment(text: str, comment: str) -> str:
    """A notice's words followed by the decliner's own, quoted, shortened to fit the notice."""
    if not comment:
        return text
    before = f"{text} Their comment: “"
    room = NOTICE_LENGTH - len(before) - 1
    if room < 20:
        return text
    if len(comment) > room:
        comment = comment[: room - 1].rstrip() + "…"
    return f"{before}{comment}”"


def _unread(comment: decline_comments.Comment) -> str:
    return f" (Its comment could not be read: {comment.problem})" if comment.problem else ""


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
    freed_at = timezone.now()
    try:
        event_services.unenroll(event, user, actor=None, reason=DECLINED_REASON)
    except EventError as exc:
        return "kept", f"They stay enrolled: {exc}"
    # The place went to the waitlist in the same transaction (``events.waitlist``).
    next_one = waitlist.freed_place_words(event, freed_at)
    return "unenrolled", " ".join(
        filter(None, ["They were unenrolled and can enroll again at any time.", next_one])
    )


def _name(user: User | None, reply: mapping.Reply) -> str:
    return user.name if user is not None else reply.email
