"""Series: an event that repeats, its sessions, and every change to them.

The event row is the series (title, people, capacity, the first session's start and end); its
``SeriesRule`` says how it repeats; a ``SessionChange`` row exists only for a session that
differs (moved, elsewhere, another link, cancelled); a ``MissedSession`` row says one enrolled
person will miss one session. People enroll in the series (``services.enroll``), so capacity
counts the series' people.

Changes follow ``services.py``'s conventions: permission checks unless ``actor=None``, typed
``EventError`` refusals that change nothing, one transaction, one announced ``EventChange``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from convene import permissions
from convene.accounts.models import User
from convene.events import services
from convene.events.changes import ChangeKind, EventChange, announce
from convene.events.errors import EventCancelled, InvalidEvent, NotEnrolled
from convene.events.models import (
    Enrollment,
    Event,
    MissedSession,
    OnlineKind,
    SeriesRule,
    SessionChange,
)
from convene.events.recurrence import RecurrenceError, Rule, check, describe, session_times
from convene.events.timezones import to_local

MESSAGE_MAX_LENGTH = 2000


@dataclass(frozen=True)
class Session:
    """One session as people see it: the rule's, with its change (if any) applied."""

    on: date
    number: int
    start: datetime
    end: datetime
    location: str
    is_online: bool
    online_url: str
    is_changed: bool
    is_cancelled: bool
    cancellation_reason: str
    timezone: str

    @property
    def is_past(self) -> bool:
        return self.end < timezone.now()

    @property
    def local_start(self) -> datetime:
        return to_local(self.start, self.timezone)

    @property
    def local_end(self) -> datetime:
        return to_local(self.end, self.timezone)


def rule_of(event: Event) -> Rule | None:
    try:
        return event.series_rule.rule()
    except SeriesRule.DoesNotExist:
        return None


def is_series(event: Event) -> bool:
    return rule_of(event) is not None


def _planned(
    event: Event, rule: Rule, start: datetime | None = None, end: datetime | None = None
) -> list[tuple[date, datetime, datetime]]:
    first_start = start or event.start
    return session_times(rule, first_start, (end or event.end) - first_start, event.timezone)


def sessions(event: Event) -> list[Session]:
    """Every session of the series, in order (one session for an event that does not repeat)."""
    rule = rule_of(event)
    planned = (
        _planned(event, rule)
        if rule is not None
        else [(to_local(event.start, event.timezone).date(), event.start, event.end)]
    )
    changes = {change.on: change for change in event.session_changes.all()}
    result = []
    for number, (on, start, end) in enumerate(planned, start=1):
        change = changes.get(on)
        result.append(
            Session(
                on=on,
                number=number,
                start=change.start if change and change.start else start,
                end=change.end if change and change.end else end,
                location=(
                    change.location if change and change.location is not None else event.location
                ),
                is_online=(
                    change.is_online if change and change.is_online is not None else event.is_online
                ),
                online_url=(
                    change.online_url
                    if change and change.online_url is not None
                    else event.online_url
                ),
                is_changed=change is not None and not change.is_cancelled,
                is_cancelled=change is not None and change.is_cancelled,
                cancellation_reason=change.cancellation_reason if change else "",
                timezone=event.timezone,
            )
        )
    return result


def next_session(event: Event) -> Session | None:
    """The first session not over and not cancelled, if any."""
    return next((s for s in sessions(event) if not s.is_past and not s.is_cancelled), None)


def describe_series(event: Event) -> str:
    rule = rule_of(event)
    if rule is None:
        return ""
    return describe(rule, to_local(event.start, event.timezone), len(_planned(event, rule)))


@dataclass(frozen=True)
class SessionCounts:
    """How many sessions a series (or several) has, and how many differ from the pattern."""

    series: int = 0
    sessions: int = 0
    changed: int = 0
    cancelled: int = 0

    def __add__(self, other: SessionCounts) -> SessionCounts:
        return SessionCounts(
            self.series + other.series,
            self.sessions + other.sessions,
            self.changed + other.changed,
            self.cancelled + other.cancelled,
        )

    def in_words(self) -> str:
        """E.g. "12 sessions, 1 changed, 1 cancelled" (parts that are 0 left out)."""
        words = [f"{self.sessions} session{'s' if self.sessions != 1 else ''}"]
        if self.changed:
            words.append(f"{self.changed} changed")
        if self.cancelled:
            words.append(f"{self.cancelled} cancelled")
        return ", ".join(words)


def counts(event: Event) -> SessionCounts:
    """The series' sessions counted (an event that does not repeat: nothing)."""
    if not is_series(event):
        return SessionCounts()
    found = sessions(event)
    return SessionCounts(
        series=1,
        sessions=len(found),
        changed=sum(1 for s in found if s.is_changed),
        cancelled=sum(1 for s in found if s.is_cancelled),
    )


def counts_of(events: Iterable[Event]) -> SessionCounts:
    """``counts`` added up over several events (those that do not repeat add nothing)."""
    total = SessionCounts()
    for event in events:
        total += counts(event)
    return total


def summary(event: Event) -> str:
    """E.g. "Series, 12 sessions, 1 changed, 1 cancelled"; "" for an event that does not
    repeat. What the sync badge, dashboard, audit log and ``manage.py outlook`` say."""
    found = counts(event)
    return f"Series, {found.in_words()}" if found.series else ""


def _session(event: Event, on: date) -> Session:
    for session in sessions(event):
        if session.on == on:
            return session
    raise InvalidEvent(f"The series has no session on {on:%d %B %Y}.", field="session")


# The same row lock and refusals as every other change (services.py).
_locked = services._locked
_require = services._require
_ensure_scheduled = services._ensure_scheduled


def _checked(rule: Rule, event: Event, start: datetime | None = None) -> None:
    try:
        check(rule, to_local(start or event.start, event.timezone))
    except RecurrenceError as problem:
        raise InvalidEvent(str(problem), field=problem.field) from None


def keep_series_consistent(sender: object, change: EventChange, **kwargs: object) -> None:
    """``event_change_recorded`` receiver: when a series' first session moves, its rule must
    still hold (else the change is refused and rolled back) and its last end is kept."""
    if change.kind != ChangeKind.UPDATED or not change.changed_fields & {"start", "end"}:
        return
    event = Event.objects.get(pk=change.event_id)
    rule = rule_of(event)
    if rule is None:
        return
    _checked(rule, event)
    SeriesRule.objects.filter(event=event).update(last_end=_planned(event, rule)[-1][2])


@transaction.atomic
def create_series(
    details: services.EventDetails, rule: Rule, *, creator: User, allow_past: bool = False
) -> Event:
    """A new event that repeats by ``rule``; ``details`` are its first session's (a start in
    the past is refused unless ``allow_past``, as for ``services.create_event``)."""
    try:
        check(rule, to_local(details.start, details.timezone))
    except RecurrenceError as problem:
        raise InvalidEvent(str(problem), field=problem.field) from None
    except (TypeError, ValueError):
        raise InvalidEvent("Start and end must be aware datetimes.") from None
    event = services.create_event(details, creator=creator, allow_past=allow_past)
    stored = SeriesRule(event=event)
    stored.keep(rule)
    stored.last_end = _planned(event, rule)[-1][2]
    stored.save()
    return event


# --- the pattern -------------------------------------------------------------------------


@dataclass(frozen=True)
class PatternEffects:
    """What a new pattern does to sessions already changed or cancelled, said before saving:
    a change whose session is still in the new pattern stays; one whose session is not is
    dropped (that session no longer exists)."""

    sessions: int
    kept: tuple[SessionChange, ...]
    dropped: tuple[SessionChange, ...]

    def in_words(self) -> list[str]:
        def what(change: SessionChange) -> str:
            done = "cancelled" if change.is_cancelled else "changed"
            return f"the {done} session on {change.on:%a %d %b %Y}"

        return [f"{what(c).capitalize()} stays as it is." for c in self.kept] + [
            f"{what(c).capitalize()} is not in the new pattern: its change is dropped."
            for c in self.dropped
        ]


def pattern_effects(
    event: Event, rule: Rule, start: datetime | None = None, end: datetime | None = None
) -> PatternEffects:
    """What saving ``rule`` (and optionally a new first session) would do; changes nothing."""
    _checked(rule, event, start)
    planned = _planned(event, rule, start, end)
    dates = {on for on, _, _ in planned}
    changes = list(event.session_changes.all())
    return PatternEffects(
        sessions=len(planned),
        kept=tuple(c for c in changes if c.on in dates),
        dropped=tuple(c for c in changes if c.on not in dates),
    )


@transaction.atomic
def set_pattern(event: Event, rule: Rule | None, *, actor: User | None) -> PatternEffects | None:
    """Make the event repeat by ``rule`` (or stop repeating with ``None``), keeping its first
    session; see ``update_series``."""
    return update_series(event, services.EventDetails.of(event), rule, actor=actor)[1]


@transaction.atomic
def update_series(
    event: Event, details: services.EventDetails, rule: Rule | None, *, actor: User | None
) -> tuple[bool, PatternEffects | None]:
    """Save the event's details and how it repeats, together: (whether anything changed,
    what the new pattern did to sessions already changed). Changes to sessions the new
    pattern no longer has are dropped, as ``pattern_effects`` says beforehand; so are the
    sessions people said they would miss there."""
    if actor is not None:
        _require(permissions.can_edit_event(actor, event), "You may not edit this event.")
    current = _locked(event)
    _ensure_scheduled(current)
    before = rule_of(current)
    if rule == before:
        return bool(services.update_event(event, details, actor=actor)), None
    effects = None
    if rule is None:
        SeriesRule.objects.filter(event=current).delete()
        SessionChange.objects.filter(event=current).delete()
        MissedSession.objects.filter(enrollment__event=current).delete()
    else:
        try:
            check(rule, to_local(details.start, details.timezone))
        except RecurrenceError as problem:
            raise InvalidEvent(str(problem), field=problem.field) from None
        effects = pattern_effects(current, rule, details.start, details.end)
        planned = _planned(current, rule, details.start, details.end)
        stored = SeriesRule.objects.filter(event=current).first() or SeriesRule(event=current)
        stored.keep(rule)
        stored.last_end = planned[-1][2]
        stored.save()
        SessionChange.objects.filter(pk__in=[c.pk for c in effects.dropped]).delete()
        dates = {on for on, _, _ in planned}
        MissedSession.objects.filter(enrollment__event=current).exclude(on__in=dates).delete()
    services.update_event(event, details, actor=actor)
    announce(
        EventChange(
            event_id=current.pk,
            kind=ChangeKind.SERIES_PATTERN_CHANGED,
            changed_fields=frozenset({"recurrence"}),
            actor_id=actor.pk if actor else None,
        )
    )
    return True, effects


@dataclass(frozen=True)
class Preview:
    """A rule shown before saving: in words, and as its sessions' local start and end."""

    words: str
    sessions: list[tuple[datetime, datetime]]


def preview(details: services.EventDetails, rule: Rule) -> Preview:
    """What ``rule`` makes of an event with ``details``; refuses a rule that cannot be kept."""
    first_local = to_local(details.start, details.timezone)
    try:
        check(rule, first_local)
    except RecurrenceError as problem:
        raise InvalidEvent(str(problem), field=problem.field) from None
    times = session_times(rule, details.start, details.end - details.start, details.timezone)
    return Preview(
        words=describe(rule, first_local, len(times)),
        sessions=[
            (to_local(start, details.timezone), to_local(end, details.timezone))
            for _, start, end in times
        ],
    )


# --- one session --------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionDetails:
    """What an organizer may change about one session."""

    start: datetime
    end: datetime
    location: str
    is_online: bool
    online_url: str


@transaction.atomic
def change_session(event: Event, on: date, details: SessionDetails, *, actor: User | None) -> bool:
    """Move one session or give it another place or link; returns whether anything changed."""
    if actor is not None:
        _require(permissions.can_edit_event(actor, event), "You may not edit this event.")
    current = _locked(event)
    _ensure_scheduled(current)
    session = _session(current, on)
    if session.is_cancelled:
        raise EventCancelled("This session has been cancelled.")
    if details.start.tzinfo is None or details.end.tzinfo is None:
        raise InvalidEvent("Start and end must be aware datetimes.")
    if details.end <= details.start:
        raise InvalidEvent("The session must end after it starts.", field="end")
    if session.start <= timezone.now():
        raise InvalidEvent(
            f"The session of {session.local_start:%a %d %b %Y} has already started or taken "
            "place: it can no longer be changed.",
            field="session",
        )
    if details.start <= timezone.now():
        raise InvalidEvent("A session cannot be moved into the past.", field="start")
    teams = current.is_online and current.online_kind == OnlineKind.TEAMS
    if teams and details.online_url:
        # one Teams meeting for the whole series: its sessions share it
        raise InvalidEvent(
            "The series is a Teams meeting: every session uses the same meeting.",
            field="online_url",
        )
    if details.is_online and not details.online_url and not current.online_url and not teams:
        raise InvalidEvent("Give the online session its link.", field="online_url")
    if (
        details.start,
        details.end,
        details.location,
        details.is_online,
        details.online_url,
    ) == (session.start, session.end, session.location, session.is_online, session.online_url):
        return False
    planned = {on: (start, end) for on, start, end in _planned(current, current.series_rule.rule())}
    change, _ = SessionChange.objects.get_or_create(event=current, on=on)
    moved = (details.start, details.end) != planned[on]
    change.start = details.start if moved else None
    change.end = details.end if moved else None
    change.location = details.location if details.location != current.location else None
    change.is_online = details.is_online if details.is_online != current.is_online else None
    change.online_url = details.online_url if details.online_url != current.online_url else None
    change.save()
    announce(
        EventChange(
            event_id=current.pk,
            kind=ChangeKind.SESSION_CHANGED,
            changed_fields=frozenset({"sessions"}),
            actor_id=actor.pk if actor else None,
            session=on,
        )
    )
    return True


@transaction.atomic
def cancel_session(event: Event, on: date, *, actor: User | None, message: str = "") -> None:
    """Cancel one session; ``message`` goes to everyone on the series."""
    if actor is not None:
        _require(permissions.can_cancel_event(actor, event), "You may not cancel this event.")
    current = _locked(event)
    _ensure_scheduled(current)
    session = _session(current, on)
    if session.is_cancelled:
        raise EventCancelled("This session is already cancelled.")
    if session.start <= timezone.now():
        raise InvalidEvent(
            f"The session of {session.local_start:%a %d %b %Y} has already started or taken "
            "place: it can no longer be cancelled.",
            field="session",
        )
    if len(message) > MESSAGE_MAX_LENGTH:
        raise InvalidEvent(
            f"Keep the message under {MESSAGE_MAX_LENGTH} characters.", field="message"
        )
    if all(s.is_cancelled for s in sessions(current) if s.on != on):
        raise InvalidEvent(
            "This is the series' last session that is not cancelled: cancel the event instead.",
            field="session",
        )
    change, _ = SessionChange.objects.get_or_create(event=current, on=on)
    change.is_cancelled = True
    change.cancellation_reason = message.strip()
    change.save()
    announce(
        EventChange(
            event_id=current.pk,
            kind=ChangeKind.SESSION_CANCELLED,
            changed_fields=frozenset({"sessions"}),
            affected_user_ids=frozenset(current.enrollments.values_list("user_id", flat=True)),
            actor_id=actor.pk if actor else None,
            reason=change.cancellation_reason,
            session=on,
        )
    )


# --- who will miss which session ------------------------------------------------------------


def _enrollment(event: Event, user: User) -> Enrollment:
    enrollment = event.enrollment_of(user)
    if enrollment is None:
        raise NotEnrolled(f"{user.name} is not on this series.")
    return enrollment


@transaction.atomic
def will_miss(
    event: Event,
    on: date,
    user: User,
    *,
    actor: User | None,
    reason: str = "",
    comment: str = "",
) -> bool:
    """``user`` stays enrolled in the series but will miss the session on ``on`` (e.g. they
    declined that occurrence in Outlook, with ``comment``). Returns whether this is news."""
    if actor is not None and actor.pk != user.pk:
        _require(permissions.can_manage_event(actor, event), "You may not answer for others.")
    current = _locked(event)
    _session(current, on)
    enrollment = _enrollment(current, user)
    _, created = MissedSession.objects.get_or_create(
        enrollment=enrollment, on=on, defaults={"reason": reason.strip()[:200], "comment": comment}
    )
    if created:
        announce(
            EventChange(
                event_id=current.pk,
                kind=ChangeKind.SESSION_ATTENDANCE,
                affected_user_ids=frozenset({user.pk}),
                actor_id=actor.pk if actor else None,
                reason=reason.strip(),
                session=on,
            )
        )
    return created


@transaction.atomic
def will_attend(event: Event, on: date, user: User, *, actor: User | None) -> bool:
    """Undo ``will_miss``; returns whether anything changed."""
    if actor is not None and actor.pk != user.pk:
        _require(permissions.can_manage_event(actor, event), "You may not answer for others.")
    current = _locked(event)
    enrollment = _enrollment(current, user)
    deleted, _ = MissedSession.objects.filter(enrollment=enrollment, on=on).delete()
    if deleted:
        announce(
            EventChange(
                event_id=current.pk,
                kind=ChangeKind.SESSION_ATTENDANCE,
                affected_user_ids=frozenset({user.pk}),
                actor_id=actor.pk if actor else None,
                session=on,
            )
        )
    return bool(deleted)


def misses_by_session(event: Event) -> dict[date, list[MissedSession]]:
    """For the organizer: per session date, who said they will miss it (and their comment)."""
    result: dict[date, list[MissedSession]] = {}
    for miss in MissedSession.objects.filter(enrollment__event=event).select_related(
        "enrollment__user"
    ):
        result.setdefault(miss.on, []).append(miss)
    return result


def missing_by_session(event: Event) -> dict[date, list[User]]:
    """Per session date, who said they will miss it."""
    return {
        on: [miss.enrollment.user for miss in misses]
        for on, misses in misses_by_session(event).items()
    }
