"""Pushing one event: make its Outlook copy match what Convene wants, with one request.

``sync_event`` reads the event as it is *then*, compares the Graph payload with what Outlook
last accepted, and sends only the difference:

- no Outlook copy yet: one POST with a ``transactionId`` fixed per event and generation, so a
  retried create returns the first copy instead of making a second;
- a copy exists: one PATCH with just the changed properties (attendee changes alone notify only
  the people who changed), or nothing at all when nothing changed. Every PATCH names the
  version of the copy Convene last wrote or read (``If-Match``); when Outlook's copy changed
  since (412: someone answered), its answers are read and acted on first, then the change goes
  out. Moving a meeting clears every attendee's answer in Outlook, so a decline that reached
  Outlook before the move is never wiped unread (a copy with no known version has its answers
  read before a move);
- a Teams meeting's new body: Outlook's body is read first (one GET) and sent back with only
  Convene's part replaced, since a body without Outlook's join block disables the meeting;
- cancelled: one ``cancel`` with the organizer's reason, so Outlook tells everyone.

The link's lease makes the worker the only one pushing the event; ``outbound.batches`` sends
the same requests for many events at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from django.utils import timezone

from convene.events import series as events_series
from convene.events.models import Event
from convene.outlook import links
from convene.outlook.answers import apply_replies
from convene.outlook.mailboxes import pool
from convene.outlook.microsoft import graph, mapping
from convene.outlook.microsoft.errors import CopyChanged, MicrosoftError
from convene.outlook.models import CalendarLink, LinkState, LogKind, OutlookSettings, record
from convene.outlook.outbound import copies, online_meetings, room_answers, series
from convene.outlook.outbound.outcomes import settle_failure
from convene.outlook.outbound.queueing import Enqueue, queue_behind
from convene.outlook.outbound.snapshots import (
    event_snapshot,
    overflow_people,
    session_snapshot,
    split_for,
)
from convene.outlook.outbound.targets import Target, TargetResolver, resolve_target

log = logging.getLogger(__name__)


def sync_event(event_id: int, enqueue: Enqueue, resolve: TargetResolver | None = None) -> None:
    """Bring the event's Outlook copy up to date; safe to call any number of times.

    ``enqueue`` queues the retry after a transient failure.
    """
    if not links.take_lease_of_event(event_id):
        return  # no link, or another worker is on it and queues what arrives meanwhile
    link_id = 0
    try:
        with links.lease_kept_of_event(event_id):
            link_id = _push_once(event_id, enqueue, resolve or resolve_target)
    finally:
        links.give_back_lease_of_event(event_id)
    queue_behind([link_id], enqueue)


def _push_once(event_id: int, enqueue: Enqueue, resolve: TargetResolver) -> int:
    """One round of sync; returns the link's id."""
    link = CalendarLink.objects.select_related("event__created_by").get(event_id=event_id)
    outlook = OutlookSettings.load()
    if not wants_push(link, outlook):
        return link.pk
    event = link.event
    mailbox = link.owner_mailbox
    try:
        target = resolve(link, event, outlook)
        mailbox = target.mailbox
        saved, meeting_missing = push_link(link, event, target)
    except MicrosoftError as exc:
        settle_failure(link, exc, mailbox, enqueue)
        return link.pk
    # What Outlook now has and the version it reflects (read before the snapshot that was
    # sent; again after reading answers), in one statement.
    links.save_synced([(link, {**saved, **links.synced(link.desired_version)})])
    if meeting_missing:
        online_meetings.ask_again(link, enqueue)
    return link.pk


def wants_push(link: CalendarLink, outlook: OutlookSettings) -> bool:
    """Whether this round should try to bring the link's copy up to date at all."""
    if not outlook.enabled or not link.is_behind:
        return False
    if link.state in (
        LinkState.WAITING_AUTHORIZATION,
        LinkState.DELETED_IN_OUTLOOK,
        LinkState.NEEDS_NEW_ORGANIZER,
    ):
        return False
    return not (
        link.state == LinkState.FAILING
        and (link.next_attempt_at is None or link.next_attempt_at > timezone.now())
    )


@dataclass(frozen=True)
class Update:
    """The one request that brings a link's copy up to date, and what to save on the link
    about the copy once Outlook accepted it."""

    action: str  # "create", "update" or "cancel", as the audit log says
    call: graph.Call
    saved: Callable[[dict[str, Any]], dict[str, Any]]
    details: dict[str, Any] = field(default_factory=dict)
    clears_answers: bool = False  # it moves the meeting: sent only over answers Convene read
    # It rewrites the body of a Teams meeting: sent only as Outlook's body with Convene's part
    # replaced (``with_outlook_body``), or Outlook would disable the meeting.
    keeps_outlook_body: bool = False

    def needs_answers_read(self, link: CalendarLink) -> bool:
        """No version of the copy is known whose answers Convene has read."""
        return self.clears_answers and not link.change_key


# How often a move is sent again after Outlook refused it because its copy changed (someone
# answered meanwhile) before the push is retried later like any transient failure.
ANSWER_ROUNDS = 3


def push_link(link: CalendarLink, event: Event, target: Target) -> tuple[dict[str, Any], bool]:
    """Send Outlook the smallest request that makes its copy match; returns what to save on
    the link about the copy (nothing when nothing was sent) and whether the Teams meeting the
    event wants is missing from Outlook's answer. A series then gets its sessions
    (``outbound.series``)."""
    split = split_for(event, platform=target.is_platform)
    split.save()  # seats are kept from here on, whatever Outlook answers
    snapshot = event_snapshot(event, target.mailbox, platform=target.is_platform, split=split)
    adopted = adopt_lost_create(link, target, snapshot)
    if not event.is_cancelled:
        snapshot = online_meetings.checked(snapshot, event, target)
    update = update_for(link, event, target.mailbox, snapshot)
    if update is not None and update.needs_answers_read(link):
        read_answers(link, event, target)
        snapshot, update = _again(link, event, target)
    overflow = copies.Outcome()
    creating = update.call if update is not None and update.action == "create" else None
    if split.is_split and not (creating is not None and snapshot.teams_meeting):
        # Overflow copies first: someone moving to the own copy leaves theirs before. The own
        # copy's create (nobody moves onto a copy that does not exist yet) rides in their batch.
        # A new Teams event's copies wait for the own copy's meeting (below): they carry its
        # join link from their first invitation on, instead of an update bringing it.
        overflow = _push_overflow(link, event, target, snapshot, split, creating)
    saved: dict[str, Any] = adopted
    missing = False
    for round_ in range(1, ANSWER_ROUNDS + 1):
        if update is None:
            break
        update = with_outlook_body(update, link, target)
        try:
            if round_ == 1 and overflow.own is not None:
                if isinstance(overflow.own, MicrosoftError):
                    raise overflow.own
                answer = overflow.own
            else:
                answer = target.client.call(update.call)
        except MicrosoftError as exc:
            status = str(exc.status or type(exc).__name__)
            _log(
                link,
                target,
                update,
                _series_words(event, snapshot),
                status=status,
                message=str(exc),
            )
            if isinstance(exc, CopyChanged) and round_ < ANSWER_ROUNDS:
                read_answers(link, event, target)
                snapshot, update = _again(link, event, target)
                continue
            log.warning(
                "Outlook %s of event %s in %s failed: %s",
                update.action,
                link.event_id,
                target.mailbox,
                exc,
            )
            raise
        _log(link, target, update, _series_words(event, snapshot), status="ok")
        pool.count_sent({target.mailbox: sent_recipients(link, update)})
        log.info("Outlook %s of event %s in %s: done", update.action, link.event_id, target.mailbox)
        missing = update.action != "cancel" and online_meetings.read_answer(
            link, event, snapshot.teams_meeting, answer
        )
        if update.action != "cancel":
            room_answers.read_answer(event, answer, target.client)
        saved = {**adopted, **update.saved(answer)}
        break
    if overflow.failure is not None:
        # The own copy is as saved here; the copies that failed are retried with the link.
        CalendarLink.objects.filter(pk=link.pk).update(**saved)
        raise overflow.failure
    if split.is_split and snapshot.teams_meeting and update is not None:
        # The Teams meeting the own copy just got goes into the overflow copies' body (made
        # now, for a new event).
        CalendarLink.objects.filter(pk=link.pk).update(**saved)
        again = _push_overflow(link, event, target, snapshot, split, None)
        if again.failure is not None:
            raise again.failure
    if snapshot.recurrence is None or event.is_cancelled:
        return saved, missing
    return _with_sessions(link, event, target, snapshot, update, saved), missing


def _push_overflow(
    link: CalendarLink,
    event: Event,
    target: Target,
    snapshot: mapping.EventSnapshot,
    split: copies.Split,
    own: graph.Call | None,
) -> copies.Outcome:
    """The overflow copies brought in line, then (a series) their sessions."""
    people_of = overflow_people(event, split, target.is_platform)
    outcome = copies.push_overflow(
        link, event, target.client, target.mailbox, snapshot, people_of, own
    )
    if outcome.failure is None:
        outcome.failure = copies.push_overflow_sessions(
            link,
            event,
            target.client,
            target.mailbox,
            snapshot,
            people_of,
            lambda on: session_snapshot(event, on),
        )
    return outcome


def _again(
    link: CalendarLink, event: Event, target: Target
) -> tuple[mapping.EventSnapshot, Update | None]:
    """The snapshot and the request once the answers read changed the event (or did not)."""
    snapshot = event_snapshot(event, target.mailbox, platform=target.is_platform)
    if not event.is_cancelled:
        snapshot = online_meetings.checked(snapshot, event, target)
    return snapshot, update_for(link, event, target.mailbox, snapshot)


def with_outlook_body(update: Update, link: CalendarLink, target: Target) -> Update:
    """The update with the body Outlook has now, Convene's part replaced, when it rewrites
    the body of a Teams meeting (one GET of the body; otherwise the update as it is).

    Outlook adds the meeting's join block to the body it stores, and a body written without
    that block disables the online meeting (event-update.md: get the body first, make the
    changes and preserve the meeting blob). What Convene records as sent stays its own part,
    so changes and drift are still judged on Convene's text alone."""
    if not update.keeps_outlook_body or update.call.body is None:
        return update
    theirs = target.client.get_event(link.graph_id, select=("body",)).get("body")
    ours = str(update.call.body["body"]["content"])
    body = {"contentType": "html", "content": mapping.kept_body(theirs, ours)}
    call = replace(update.call, body={**update.call.body, "body": body})
    return replace(update, call=call, keeps_outlook_body=False)


def read_answers(link: CalendarLink, event: Event, target: Target) -> None:
    """Read the answers Outlook's copy holds now and act on new ones (a decline unenrolls,
    the organizer is told) before a change that clears them goes out. Afterwards ``link``
    knows the version read (its ``change_key``, for ``If-Match``) and the version Convene
    wants (a decline just unenrolled someone), and ``event`` is read again: the next snapshot
    is of the event as it is after the answers."""
    copy = target.client.get_event(link.graph_id, select=("attendees", "changeKey"))
    apply_replies(event, copy, target.mailbox, OutlookSettings.load())
    links.answers_read(link, str(copy.get("changeKey") or ""))
    event.refresh_from_db()


def _with_sessions(
    link: CalendarLink,
    event: Event,
    target: Target,
    snapshot: mapping.EventSnapshot,
    update: Update | None,
    saved: dict[str, Any],
) -> dict[str, Any]:
    sent: frozenset[str] = frozenset()
    if update is not None:
        sent = (
            frozenset(mapping.event_payload(snapshot))
            if update.action == "create"
            else frozenset(update.details.get("properties", ()))
        )

    last_pushed = saved.get("last_pushed", link.last_pushed)

    def audit(action: str, call: graph.Call, details: dict[str, Any]) -> None:
        record(
            LogKind.GRAPH,
            action,
            event_id=link.event_id,
            mailbox=target.mailbox,
            status="ok",
            **details,
        )
        if details.get("outcome") != "already gone":
            # An occurrence's update or cancellation goes to everyone on the copy.
            recipients = pool.attendee_addresses(last_pushed.get("attendees"))
            pool.count_sent({target.mailbox: len(recipients)})

    def keep(progress: dict[str, Any]) -> None:
        # What Outlook accepted so far (the master, earlier sessions), without claiming the
        # version is synced: a failure after this retries only what is missing.
        CalendarLink.objects.filter(pk=link.pk).update(
            **{**saved, "last_pushed": {**last_pushed, **progress}}
        )

    kept = series.sync_sessions(
        event,
        target.client,
        snapshot,
        saved.get("graph_id") or link.graph_id,
        link.last_pushed,
        sent,
        audit,
        keep,
    )
    if kept == {key: last_pushed.get(key, {}) for key in kept} and not saved:
        return saved
    return {**saved, "last_pushed": {**last_pushed, **kept}}


def adopt_lost_create(
    link: CalendarLink, target: Target, snapshot: mapping.EventSnapshot
) -> dict[str, Any]:
    """After a create whose outcome is unknown (it failed, maybe after Outlook made the copy:
    a timeout, a dropped connection, a 5xx), look for the copy before posting again.

    ``transactionId`` is documented only as a way "to avoid redundant POST operations", not for
    how long Outlook remembers it; Convene's own extended property on the copy is certain. A
    copy found is adopted onto ``link`` (and its fields returned, to be saved). Nothing found:
    post as usual.
    """
    if link.graph_id or not link.attempts:
        return {}
    found = target.client.find_events_by_property(
        mapping.CONVENE_EVENT_PROPERTY, str(link.event_id)
    )
    found = [e for e in found if not e.get("isCancelled")]
    if not found:
        return {}
    accepted = mapping.accepted_from(found[0], mapping.event_payload(snapshot))
    return links.adopt_copy(link, found[0], target.mailbox, accepted)


def _series_words(event: Event, snapshot: mapping.EventSnapshot) -> str:
    """A series' master says so in the audit log: "Series, 12 sessions, 1 changed"."""
    return events_series.summary(event) if snapshot.recurrence is not None else ""


def sent_recipients(link: CalendarLink, update: Update) -> int:
    """The recipients of the meeting messages Outlook sent for an accepted ``update``."""
    return pool.recipients_of(update.action, link.last_pushed, update.call.body or {})


def _log(
    link: CalendarLink, target: Target, update: Update, words: str = "", **fields: Any
) -> None:
    record(
        LogKind.GRAPH,
        update.action,
        event_id=link.event_id,
        mailbox=target.mailbox,
        **fields,
        **update.details,
        **({"series": words} if words else {}),
    )


def update_for(
    link: CalendarLink, event: Event, mailbox: str, snapshot: mapping.EventSnapshot
) -> Update | None:
    """The smallest request that makes Outlook's copy match the snapshot (None: nothing to
    send)."""
    desired = mapping.event_payload(snapshot)
    if not link.graph_id:
        if event.is_cancelled:
            links.decide(link, "skip_create", "Cancelled before it ever reached Outlook.")
            return None
        return Update(
            "create",
            graph.Call.create_event(mapping.create_payload(snapshot, link.generation)),
            lambda created: {
                "owner_mailbox": mailbox,
                "graph_id": created["id"],
                "ical_uid": created.get("iCalUId", ""),
                "change_key": created.get("changeKey", ""),
                "last_pushed": desired,
            },
        )
    if event.is_cancelled:
        if link.last_pushed.get("isCancelled"):
            return None
        reason = event.cancellation_reason or "This event has been cancelled."
        return Update(
            "cancel",
            graph.Call.cancel_event(link.graph_id, reason),
            lambda _: {"last_pushed": {**link.last_pushed, "isCancelled": True}},
        )
    changes = mapping.changed_properties(link.last_pushed, desired)
    if not changes:
        return None
    moves = mapping.clears_answers(changes)
    kept = link.last_pushed.get(mapping.OUTLOOK_ONLY_ATTENDEES)
    if "attendees" in changes and kept:
        # The list replaces Outlook's: people added there (forwarded invitations) stay on it.
        changes["attendees"] = mapping.with_outlook_only(changes["attendees"], link.last_pushed)
    accepted = {**desired, mapping.OUTLOOK_ONLY_ATTENDEES: kept} if kept else desired
    return Update(
        "update",
        # Every PATCH names the version it was computed over: a late request (one that timed
        # out here and ran later in Outlook) can then never overwrite a newer one.
        graph.Call.update_event(link.graph_id, changes, if_version=link.change_key),
        lambda updated: {"change_key": updated.get("changeKey", ""), "last_pushed": accepted},
        {"properties": sorted(changes)},
        clears_answers=moves,
        keeps_outlook_body="body" in changes and snapshot.teams_meeting,
    )
