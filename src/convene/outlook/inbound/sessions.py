"""Outlook's changes to one occurrence of a series: answers to one session, and drift.

Notifications and delta name an occurrence or exception by its own id, which no link holds
(links hold the master's). ``reconcile_occurrence`` reads it once, finds its master's link
through ``seriesMasterId``, and then:

- an attendee who declined this occurrence only stays enrolled in the series and is recorded
  as missing that session (``convene.events.series.will_miss``); the organizer is told. An
  accept or tentative answer on it undoes that. Declining the whole series is an answer on the
  master and is handled like a decline of a single event (``reconcile.apply_replies``);
- an occurrence whose time or place differs from what Convene says the session is (edited in
  Outlook) is drift: it is noted on the link and the next push puts the session back.

An occurrence deleted in Outlook (``removed_occurrence``) cannot be put back: Graph has no way
to restore one occurrence of a series, and Outlook has already sent every attendee its
cancellation. Convene follows Outlook: the session is cancelled in Convene too, the organizer
is told, and no request goes to Outlook. It is found by the occurrence id the link remembers,
at no cost; an id no link remembers (a series created or moved since the last delta read) is
looked for by date instead: each series of that mailbox with sessions of unknown id reads its
occurrences once (``GET instances``), and an upcoming session Convene did not cancel whose date
Outlook no longer has was deleted there.

The ids a link remembers are learned without requests of their own (``remember_occurrences``):
from the occurrences the calendarView delta lists, and from each occurrence a notification
makes Convene read. So a push rarely reads them (``outbound.series``).

A series of more than 500 people is several Outlook series (``outbound.copies``): the own copy
(the link's master) and overflow copies. An occurrence of any of them is the same session of
the event (``SeriesCopy``): an answer to it counts as on the own copy; drift on it is put back
on that copy alone (only that copy's session is forgotten, so only it gets the fix); its id is
kept on that copy (``OverflowCopy.last_pushed``, with the own copy's staleness guard); and an
occurrence deleted on one copy cancels the session in Convene once, which then cancels it on
the other copies too: Outlook has already told the people on the copy it was deleted from, and
the others must not keep a session that no longer runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from convene.accounts.models import User
from convene.events import series
from convene.events.errors import EventError
from convene.events.models import Event, MissedSession
from convene.outlook import links
from convene.outlook.answers import with_comment
from convene.outlook.links import tell_organizer
from convene.outlook.mailboxes import decline_comments
from convene.outlook.microsoft import mapping
from convene.outlook.microsoft.errors import MailboxGone, NotFound
from convene.outlook.microsoft.recurrence import original_date
from convene.outlook.models import (
    CalendarLink,
    LinkState,
    LogKind,
    OutlookSettings,
    OverflowCopy,
    record,
)
from convene.outlook.outbound import queueing
from convene.outlook.outbound import series as outbound_series
from convene.outlook.outbound.snapshots import event_snapshot, session_snapshot
from convene.outlook.outbound.targets import resolve_target

MISSED_REASON = "Declined this session in Outlook"
DELETED_REASON = "Deleted from the organizer's Outlook calendar."

# Compared on an occurrence: what a session may differ in (the rest is the master's).
SESSION_PROPERTIES = ("start", "end", "location")


@dataclass
class SeriesCopy:
    """One Outlook series of a Convene series: the own copy (the link's master) or one of its
    overflow copies. Each keeps its own ``sessions`` and ``occurrences`` in ``last_pushed``;
    the lease is always the link's (one push sends every copy)."""

    link: CalendarLink
    overflow: OverflowCopy | None = None

    @property
    def graph_id(self) -> str:
        return (self.overflow or self.link).graph_id

    @property
    def last_pushed(self) -> dict[str, Any]:
        kept: dict[str, Any] = (self.overflow or self.link).last_pushed
        return kept

    @property
    def part(self) -> int:
        return self.overflow.part if self.overflow is not None else 0

    @property
    def is_live(self) -> bool:
        """Whether Outlook has it and Convene still watches it."""
        if self.overflow is not None:
            return (
                bool(self.overflow.graph_id)
                and not self.overflow.last_pushed.get("isCancelled")
                and self.overflow.deleted_in_outlook_at is None
            )
        return self.link.state != LinkState.DELETED_IN_OUTLOOK

    def refresh(self) -> None:
        self.link.refresh_from_db()
        if self.overflow is not None:
            self.overflow.refresh_from_db()

    def keep(self, last_pushed: dict[str, Any]) -> None:
        if self.overflow is not None:
            OverflowCopy.objects.filter(pk=self.overflow.pk).update(last_pushed=last_pushed)
            self.overflow.last_pushed = last_pushed
        else:
            CalendarLink.objects.filter(pk=self.link.pk).update(last_pushed=last_pushed)
            self.link.last_pushed = last_pushed

    def words(self) -> str:
        """How log lines and notices name it: nothing for the own copy."""
        return f" on overflow copy {self.part}" if self.part else ""

    def details(self) -> dict[str, int]:
        return {"copy": self.part} if self.part else {}


def series_copy(mailbox: str, master_id: str) -> SeriesCopy | None:
    """The copy of a Convene event in ``mailbox`` whose Outlook id is ``master_id``."""
    if not master_id:
        return None
    link = (
        CalendarLink.objects.select_related("event__created_by")
        .filter(owner_mailbox=mailbox, graph_id=master_id)
        .first()
    )
    if link is not None:
        return SeriesCopy(link)
    overflow = (
        OverflowCopy.objects.select_related("link__event__created_by")
        .filter(mailbox__iexact=mailbox, graph_id=master_id)
        .first()
    )
    return SeriesCopy(overflow.link, overflow) if overflow is not None else None


def reconcile_occurrence(mailbox: str, graph_id: str, enqueue: queueing.Enqueue) -> bool:
    """Handle a change to an Outlook event no link names: an occurrence of a Convene series,
    or someone else's event (then nothing happens). Costs one read, and only in a mailbox that
    holds a Convene series."""
    any_series = (
        CalendarLink.objects.select_related("event__created_by")
        .filter(owner_mailbox=mailbox, event__series_rule__isnull=False)
        .exclude(graph_id="")
        .first()
    )
    outlook = OutlookSettings.load()
    if any_series is None or not outlook.enabled:
        return True
    target = resolve_target(any_series, any_series.event, outlook)
    asked_at = timezone.now()
    try:
        occurrence = target.client.get_event(graph_id)
    except NotFound:
        return removed_occurrence(mailbox, graph_id, enqueue)
    # The own copy's series or an overflow copy's: the same session of the event either way.
    found = series_copy(mailbox, str(occurrence.get("seriesMasterId") or ""))
    if found is None or not found.is_live or found.link.event.is_cancelled:
        return True
    link = found.link
    on = original_date(occurrence, link.event.timezone)
    if on is None:
        return True
    apply_session_replies(link.event, on, occurrence, mailbox)
    if not links.take_lease(link.pk):
        return False  # being pushed now: our own write is not drift; look again shortly
    try:
        found.refresh()
        _learn(found, {on.isoformat(): graph_id}, asked_at)
        drifted = _drifted(link, on, occurrence)
        if drifted:
            _forget_session(found, on)
    finally:
        links.give_back_lease([link.pk])
    if drifted:
        record(
            LogKind.DECISION,
            "drift_overwritten",
            message=(
                f"Session of {on:%d %b %Y} changed in Outlook{found.words()}: "
                f"{', '.join(drifted)}. Convene's version will be sent back to Outlook."
            ),
            event_id=link.event_id,
            mailbox=mailbox,
            properties=drifted,
            session=on.isoformat(),
            **found.details(),
        )
        queueing.retry_now(link, enqueue, compare_again=True)
    return True


def apply_session_replies(event: Event, on: date, occurrence: dict[str, Any], mailbox: str) -> None:
    """A decline of this occurrence alone: the person will miss the session; an accept or
    tentative answer on it: they will attend it after all."""
    found = mapping.replies(occurrence)
    users = {u.email: u for u in User.objects.filter(email__in=[r.email for r in found])}
    for reply in found:
        user = users.get(reply.email)
        if user is None or event.enrollment_of(user) is None:
            continue
        comment = decline_comments.Comment()
        if reply.response == "declined" and not _misses(event, on, user):
            # A new decline of the session: its comment, read before the transaction (one
            # request, only while the admin wants comments; never in the way of the answer).
            comment = decline_comments.read(
                event, occurrence, reply.email, reply.time, mailbox, OutlookSettings.load()
            )
        # The answer, its log line and the organizer's notice land together: nobody reading
        # the session list sees an answer the organizer was not told about.
        with transaction.atomic():
            _apply_one(event, on, user, reply.response, mailbox, comment)


def _misses(event: Event, on: date, user: User) -> bool:
    return MissedSession.objects.filter(
        enrollment__event=event, enrollment__user=user, on=on
    ).exists()


def _apply_one(
    event: Event,
    on: date,
    user: User,
    response: str,
    mailbox: str,
    comment: decline_comments.Comment,
) -> None:
    try:
        if response == "declined":
            news = series.will_miss(
                event, on, user, actor=None, reason=MISSED_REASON, comment=comment.text
            )
            words = (
                f"{user.name} will miss the session of {on:%a %d %b %Y} (declined it in Outlook)."
            )
        elif response in mapping.ANSWERS:
            news = series.will_attend(event, on, user, actor=None)
            words = f"{user.name} will attend the session of {on:%a %d %b %Y} after all."
        else:
            return
    except EventError:
        return
    if not news:
        return
    record(
        LogKind.REPLY,
        response,
        status="session",
        message=words,
        event_id=event.pk,
        user_id=user.pk,
        mailbox=mailbox,
        session=on.isoformat(),
        **({"comment": comment.text} if comment.text else {}),
        **({"comment_unread": comment.problem} if comment.problem else {}),
    )
    tell_organizer(event, with_comment(f"“{event.title}”: {words}", comment.text), "Session answer")


def _drifted(link: CalendarLink, on: date, occurrence: dict[str, Any]) -> list[str]:
    event = link.event
    plain = session_snapshot(event, on.isoformat())
    if plain is None or plain.is_cancelled:
        return []
    snapshot = event_snapshot(event, link.owner_mailbox, platform=link.mode == "platform")
    expected = mapping.session_payload(snapshot, plain)
    shown = {name: expected[name] for name in SESSION_PROPERTIES}
    return mapping.drifted_properties(shown, occurrence)


def _forget_session(found: SeriesCopy, on: date) -> None:
    """The next push sends this session again to that copy (and to no other), whatever
    Convene last sent for it."""
    kept = dict(found.last_pushed)
    sessions = dict(kept.get(outbound_series.SESSIONS) or {})
    sessions[on.isoformat()] = {"drifted": True}
    kept[outbound_series.SESSIONS] = sessions
    found.keep(kept)


def removed_occurrence(mailbox: str, graph_id: str, enqueue: queueing.Enqueue) -> bool:
    """An occurrence of a Convene series is gone from the organizer's calendar (a deleted
    notification, a delta ``@removed``, or a read answered 404), on the own copy or on an
    overflow copy: cancel that session in Convene unless Convene cancelled it itself or it is
    over. Returns False when the series is being pushed right now (the caller tries again):
    the push may be moving the series, which removes every old occurrence on purpose."""
    found = _copy_remembering(mailbox, graph_id)
    if found is None:
        return _missing_by_date(mailbox, enqueue)
    link = found.link
    if not links.take_lease(link.pk):
        return False
    try:
        found.refresh()
        occurrences = dict(found.last_pushed.get(outbound_series.OCCURRENCES) or {})
        on_iso = next((on for on, known in occurrences.items() if known == graph_id), None)
        if on_iso is None:
            return True  # the series moved since: that id was one of its old occurrences
        if not _series_still_there(found):
            return True  # deleted whole: its own removal says so (``inbound.reconcile``)
        _follow_deletion(found, on_iso, occurrences, mailbox)
    finally:
        _give_back(link, enqueue)
    return True


def _series_still_there(found: SeriesCopy) -> bool:
    """Whether Outlook still has the copy's series (one read of its master). Outlook removes
    every occurrence with its series, and the delta read may list those removals before the
    series' own: they are one deleted series, not sessions deleted one by one. Called with
    the link's lease held."""
    if not found.is_live:
        return False
    target = resolve_target(found.link, found.link.event, OutlookSettings.load())
    try:
        target.client.get_event(found.graph_id)
    except NotFound as exc:
        if isinstance(exc, MailboxGone):
            raise
        return False
    return True


def _follow_deletion(
    found: SeriesCopy, on_iso: str, occurrences: dict[str, str], mailbox: str
) -> None:
    """Outlook no longer has the session of ``on_iso`` on that copy: cancel it in Convene too,
    unless Convene cancelled it itself or it is over. Called with the link's lease held.

    Deleted on one copy of a big series, the session is cancelled once for the whole event:
    the push that follows cancels it on the other copies (their people get one cancellation
    each, with the reason below) and sends nothing to the copy it was deleted from, whose
    people Outlook has already told."""
    event = found.link.event
    session = next((s for s in series.sessions(event) if s.on.isoformat() == on_iso), None)
    if session is None or session.is_cancelled or session.is_past:
        return  # Convene's own cancel, or a session that is over
    # The cancel, its log line and the organizer's notice land together.
    with transaction.atomic():
        try:
            series.cancel_session(event, session.on, actor=None, message=DELETED_REASON)
        except EventError as problem:
            refused = str(problem)
        else:
            refused = ""
            _note_gone(found, on_iso, occurrences)
        _tell_session_deleted(event, session.on, refused, mailbox, found)


def _give_back(link: CalendarLink, enqueue: queueing.Enqueue) -> None:
    links.give_back_lease([link.pk])
    if CalendarLink.objects.filter(links.behind(), pk=link.pk).exists():
        # a push (the cancel's own, which sends nothing) stepped aside while we held the lease
        enqueue(link.event_id, 0)


def _missing_by_date(mailbox: str, enqueue: queueing.Enqueue) -> bool:
    """An occurrence id no copy remembers is gone from ``mailbox``: someone's own event, an
    old occurrence of a series Convene moved, or an occurrence of a Convene series whose id
    was never learned. Each copy of a series there with sessions of unknown id reads its
    occurrences (one request) and follows Outlook for every upcoming session whose date is
    gone; the ids read are kept, so the next unknown id costs that copy nothing. Returns
    False when a series is being pushed (its lease is taken, or a push of it is due: Outlook
    may not show its new rule yet); the caller tries again shortly."""
    outlook = OutlookSettings.load()
    if not outlook.enabled:
        return True
    done = True
    by_link: dict[int, list[SeriesCopy]] = {}
    for found in _series_copies(mailbox):
        by_link.setdefault(found.link.pk, []).append(found)
    for copies in by_link.values():
        link = copies[0].link
        if not any(outbound_series.unknown_sessions(link.event, c.last_pushed) for c in copies):
            continue
        if not links.take_lease(link.pk):
            done = False
            continue
        try:
            for found in copies:
                found.refresh()
            if link.is_behind:
                # Convene's sessions are not Outlook's yet: compared after the push. A link
                # that will not be pushed by itself (failing, parked) is left alone.
                done = done and not CalendarLink.objects.filter(links.behind(), pk=link.pk).exists()
                continue
            for found in copies:
                _compare_by_date(found, outlook, mailbox)
        finally:
            _give_back(link, enqueue)
    return done


def _compare_by_date(found: SeriesCopy, outlook: OutlookSettings, mailbox: str) -> None:
    """Read the copy's occurrences, keep their ids, and follow Outlook for each upcoming
    session whose date it no longer has. Called with the link's lease held."""
    link = found.link
    event = link.event
    unknown = outbound_series.unknown_sessions(event, found.last_pushed)
    if not unknown or not found.is_live:
        return
    target = resolve_target(link, event, outlook)
    try:
        read = outbound_series.read_occurrences(event, target.client, found.graph_id)
    except NotFound:
        return  # the series itself is gone: its own reconcile says so
    if not read:
        return  # no occurrence at all: not one deleted session, the series' own matter
    found.keep({**found.last_pushed, outbound_series.OCCURRENCES: read})
    for on_iso in unknown:
        if on_iso not in read:
            _follow_deletion(found, on_iso, dict(read), mailbox)
            found.refresh()


def remember_occurrences(
    mailbox: str,
    master_id: str,
    found: dict[str, str],
    asked_at: datetime,
    enqueue: queueing.Enqueue,
) -> None:
    """Occurrence ids (by ISO date) of the series ``master_id`` (the own copy's or an
    overflow copy's) that a read sent at ``asked_at`` showed (a delta page): kept on that copy
    when they belong to the series as it is now. Skipped while the series is being pushed
    (the next read shows them again)."""
    copy = series_copy(mailbox, master_id)
    if copy is None or not found or not series.is_series(copy.link.event):
        return
    known = copy.last_pushed.get(outbound_series.OCCURRENCES) or {}
    if all(known.get(on) == graph_id for on, graph_id in found.items()):
        return  # nothing new: no write
    link = copy.link
    if not links.take_lease(link.pk):
        return
    try:
        copy.refresh()
        _learn(copy, found, asked_at)
    finally:
        _give_back(link, enqueue)


def series_masters(mailbox: str, master_ids: list[str]) -> dict[str, Event]:
    """Which of these Outlook ids are masters of a Convene series in ``mailbox`` (own copies
    and overflow copies), with their event (two queries)."""
    found: dict[str, Event] = {}
    for link in (
        CalendarLink.objects.select_related("event")
        .filter(owner_mailbox=mailbox, graph_id__in=master_ids, event__series_rule__isnull=False)
        .exclude(state=LinkState.DELETED_IN_OUTLOOK)
    ):
        found[link.graph_id] = link.event
    for overflow in OverflowCopy.objects.select_related("link__event").filter(
        mailbox__iexact=mailbox,
        graph_id__in=master_ids,
        link__event__series_rule__isnull=False,
        deleted_in_outlook_at__isnull=True,
    ):
        found[overflow.graph_id] = overflow.link.event
    return found


def _learn(found: SeriesCopy, ids: dict[str, str], asked_at: datetime) -> None:
    """Keep ``ids`` on the copy (lease held, ``found`` just read) unless the copy's master's
    time or rule changed after the read was sent: its occurrences then have other ids."""
    if not outbound_series.current_since(found.last_pushed, asked_at):
        return
    dates = {session.on.isoformat() for session in series.sessions(found.link.event)}
    known = dict(found.last_pushed.get(outbound_series.OCCURRENCES) or {})
    new = {
        on: graph_id for on, graph_id in ids.items() if on in dates and known.get(on) != graph_id
    }
    if not new:
        return
    found.keep({**found.last_pushed, outbound_series.OCCURRENCES: {**known, **new}})


def _tell_session_deleted(
    event: Event, on: date, refused: str, mailbox: str, found: SeriesCopy
) -> None:
    if refused:
        words = (
            f"The session of {on:%a %d %b %Y} was deleted in Outlook{found.words()}, but "
            f"Convene could not cancel it: {refused}"
        )
    elif found.part:
        words = (
            f"The session of {on:%a %d %b %Y} was deleted in Outlook on overflow copy "
            f"{found.part}, which told the people on that copy it is cancelled; Outlook cannot "
            "restore it, so Convene cancelled it too, for everyone on the other copies."
        )
    else:
        words = (
            f"The session of {on:%a %d %b %Y} was deleted in Outlook, which told everyone "
            "it is cancelled; Outlook cannot restore it, so Convene cancelled it too."
        )
    record(
        LogKind.DECISION,
        "session_deleted_in_outlook",
        message=words,
        event_id=event.pk,
        mailbox=mailbox,
        session=on.isoformat(),
        **found.details(),
    )
    tell_organizer(event, f"“{event.title}”: {words}", "Session deleted in Outlook")


def _series_links(mailbox: str) -> list[CalendarLink]:
    """The links of the Convene series in ``mailbox`` that Outlook has and that still run."""
    candidates = (
        CalendarLink.objects.select_related("event__created_by")
        .filter(owner_mailbox=mailbox, event__series_rule__isnull=False)
        .exclude(graph_id="")
        .exclude(state=LinkState.DELETED_IN_OUTLOOK)
    )
    return [link for link in candidates if not link.event.is_cancelled]


def _series_copies(mailbox: str) -> list[SeriesCopy]:
    """Every Outlook series of the Convene series in ``mailbox`` that still run: each one's
    own copy, then its overflow copies (two queries)."""
    series_links = _series_links(mailbox)
    by_link: dict[int, list[OverflowCopy]] = {}
    for overflow in (
        OverflowCopy.objects.filter(link__in=series_links, mailbox__iexact=mailbox)
        .exclude(graph_id="")
        .order_by("part")
    ):
        by_link.setdefault(overflow.link_id, []).append(overflow)
    found: list[SeriesCopy] = []
    for link in series_links:
        found.append(SeriesCopy(link))
        for overflow in by_link.get(link.pk, []):
            overflow.link = link
            copy = SeriesCopy(link, overflow)
            if copy.is_live:
                found.append(copy)
    return found


def _copy_remembering(mailbox: str, graph_id: str) -> SeriesCopy | None:
    """The copy of a series in ``mailbox`` whose occurrence ids include ``graph_id``."""
    for found in _series_copies(mailbox):
        if graph_id in (found.last_pushed.get(outbound_series.OCCURRENCES) or {}).values():
            return found
    return None


def _note_gone(found: SeriesCopy, on_iso: str, occurrences: dict[str, str]) -> None:
    """Outlook has no occurrence for that session on that copy any more: the next push sends
    nothing for it there (``outbound.series`` and ``outbound.copies`` see it already
    cancelled), and cancels it on the other copies."""
    kept = dict(found.last_pushed)
    sessions = dict(kept.get(outbound_series.SESSIONS) or {})
    sessions[on_iso] = {"isCancelled": True}
    occurrences.pop(on_iso, None)
    kept[outbound_series.SESSIONS] = sessions
    kept[outbound_series.OCCURRENCES] = occurrences
    found.keep(kept)
