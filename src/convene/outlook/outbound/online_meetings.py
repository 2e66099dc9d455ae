"""The Teams meeting of an event: checked before it is asked for, read back after each push,
and asked for again when Outlook answered without one.

- Before a push that wants a Teams meeting Convene does not have yet, the calendar's
  ``allowedOnlineMeetingProviders`` is read: a calendar that does not allow Teams gets the
  event without one, the event page says so plainly and the organizer is told.
- After a create or update, Outlook's answer carries ``onlineMeeting``: its join link and
  dial-in are kept (``OnlineMeeting``), so Convene shows them to enrolled people. Outlook keeps
  the same meeting across updates; Convene never asks for a second one.
- An answer without the meeting (some tenants fill it in later; large events have come back
  with ``isOnlineMeeting: false``) is never silent: the event says so, the organizer is told
  once, and the sync asks again with backoff (the next push sends ``isOnlineMeeting`` again and
  reads the answer).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from convene.core.notices import notify
from convene.events.models import Event
from convene.outlook import links
from convene.outlook.microsoft import mapping
from convene.outlook.microsoft.online_meetings import (
    JoinDetails,
    allowed_providers,
    join_details,
    teams_allowed,
)
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import CalendarLink, LinkState, OnlineMeeting
from convene.outlook.outbound.queueing import Enqueue, queue_once
from convene.outlook.outbound.snapshots import wants_teams
from convene.outlook.outbound.targets import Target

MISSING_TEXT = (
    "Outlook saved the event but has not made its Teams meeting yet, so there is no join "
    "link. Convene keeps asking."
)
# The properties that ask Outlook for the meeting; forgotten from what Outlook accepted, so
# the next push sends them again.
_ASKING = ("isOnlineMeeting", "onlineMeetingProvider")


def meeting_of(event: Event) -> OnlineMeeting | None:
    return OnlineMeeting.objects.filter(event=event).first()


def checked(snapshot: mapping.EventSnapshot, event: Event, target: Target) -> mapping.EventSnapshot:
    """The snapshot to push: without a Teams meeting when the calendar does not allow Teams
    (one GET of the calendar, only while the event has no meeting yet)."""
    if not snapshot.teams_meeting:
        return snapshot
    known = meeting_of(event)
    if known is not None and known.is_ready:
        return snapshot
    calendar = target.client.get_calendar()
    if teams_allowed(calendar):
        return snapshot
    allowed = ", ".join(allowed_providers(calendar)) or "none"
    problem = (
        f"Teams meetings are not allowed on the calendar of {target.mailbox} (it allows: "
        f"{allowed}). The event is in Outlook without a Teams meeting: ask your Microsoft 365 "
        "administrator to allow Teams for this mailbox, or choose your own link."
    )
    _record(event, OnlineMeeting.State.NOT_ALLOWED, None, problem)
    return replace(snapshot, teams_meeting=False)


def read_answer(
    link: CalendarLink, event: Event, teams_meeting: bool, answer: dict[str, Any]
) -> bool:
    """Keep the meeting Outlook answered with; returns True when a wanted meeting is missing
    (the caller then ``ask_again`` after saving the push)."""
    if not teams_meeting or not answer:
        return False
    details = join_details(answer)
    if details is not None:
        _record(event, OnlineMeeting.State.READY, details, "")
        return False
    _record(event, OnlineMeeting.State.MISSING, None, MISSING_TEXT)
    return True


def note_if_present(event: Event, graph_event: dict[str, Any]) -> None:
    """A read of Outlook's copy (a notification, delta) that carries the meeting: keep it, so
    a meeting Outlook made late reaches Convene without waiting for the next retry."""
    if not wants_teams(event):
        return
    details = join_details(graph_event)
    if details is not None:
        _record(event, OnlineMeeting.State.READY, details, "")


def ask_again(link: CalendarLink, enqueue: Enqueue) -> None:
    """Outlook answered without the meeting: push again later, asking for it again."""
    current = CalendarLink.objects.get(pk=link.pk)
    attempts = current.attempts + 1
    delay = links.backoff(attempts, None)
    pushed = {k: v for k, v in current.last_pushed.items() if k not in _ASKING}
    CalendarLink.objects.filter(pk=link.pk).update(
        desired_version=F("desired_version") + 1,
        last_pushed=pushed,
        attempts=attempts,
        state=LinkState.FAILING if attempts >= 3 else LinkState.PENDING,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        last_error=MISSING_TEXT,
    )
    links.decide(link, "ask_for_teams_meeting_again", MISSING_TEXT, delay=delay)
    queue_once(link.pk, link.event_id, enqueue, delay=delay)


def _record(event: Event, state: str, details: JoinDetails | None, problem: str) -> OnlineMeeting:
    """Write what is known of the meeting; the organizer is told when a problem starts."""
    found = meeting_of(event)
    before = found.state if found is not None else None
    values: dict[str, Any] = {"state": state, "problem": problem}
    if details is not None:
        values.update(
            join_url=details.join_url,
            conference_id=details.conference_id,
            toll_number=details.toll_number,
            toll_free_number=details.toll_free_number,
            quick_dial=details.quick_dial,
        )
    joined_before = found.join_url if found is not None else ""
    with transaction.atomic():  # what is known and who was told of it, together
        meeting, _ = OnlineMeeting.objects.update_or_create(event=event, defaults=values)
        if state != OnlineMeeting.State.READY and before != state:
            links.tell_organizer(event, problem, "No Teams meeting yet")
        if details is not None and details.join_url != joined_before:
            _tell_people(event, details)
    return meeting


def _tell_people(event: Event, details: JoinDetails) -> None:
    """Everyone on the event gets the join link once, in the app and by email."""
    url = AppRegistration.from_settings().absolute(event.get_absolute_url())
    text = f"Join the Teams meeting of {event.title}: {details.join_url}"
    if details.toll_number and details.conference_id:
        text += f" (dial in: {details.toll_number}, conference ID {details.conference_id})"
    for enrollment in event.enrollments.select_related("user"):
        notify(enrollment.user, text, url=url, email_subject=f"Teams meeting: {event.title}")
