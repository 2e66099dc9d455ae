"""Switching calendar mode (or service mailbox) while events are already in Outlook.

What happens, in the admin's words (the preview page shows it with numbers first):

- Every **upcoming** event whose Outlook copy lives in the old calendar **moves**: Convene first
  makes the new copy (people get a new invitation from the new organizer mailbox), and only
  once Microsoft has accepted it cancels the old copy with a message saying where the event is
  now. New copy first, because the opposite order could leave an event in nobody's calendar if
  the new calendar refused it; this way the worst case is a few seconds with two copies.
- **Past** events, cancelled ones and copies deleted in Outlook stay where they are.
- An event whose old or new calendar Convene cannot reach right now (its organizer has not
  connected Outlook) is **left where it was** and keeps syncing there; "Resume" moves it later.
- Events that are not in Outlook yet simply go to the new calendar at their next sync.

The move runs as a ``Job`` in the worker, one ``MoveStep`` per event, through the move engine
(``moves``), which handovers share; this module plans the switch and says what is special about
it (``SwitchRules``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial

from django.db import transaction
from django.utils import timezone

from convene.core.text import counted
from convene.events.models import Enrollment, Event, EventStatus
from convene.outlook import services
from convene.outlook.mailboxes.connections import usable_connection
from convene.outlook.models import CalendarLink, Job, LinkState, Mode, MoveStep
from convene.outlook.moves import engine
from convene.outlook.moves.engine import Destination, PlanChanged, where

__all__ = ["Destination", "PlanChanged", "SwitchPlan", "plan", "start"]


@dataclass(frozen=True)
class SwitchPlan:
    destination: Destination
    moving: list[CalendarLink]
    # Would move, but Convene cannot reach one of the two calendars now: (link, why).
    held_back: list[tuple[CalendarLink, str]]
    past: int  # past events with a copy elsewhere: they stay
    people: int  # distinct people on the moving events (new invitation + cancellation)
    from_mailboxes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.moving) + len(self.held_back)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the set of events (or their copies) the admin saw changes."""
        parts = [repr(sorted(asdict(self.destination).items()))]
        parts += [f"m{link.event_id}:{link.graph_id}" for link in self.moving]
        parts += [f"h{link.event_id}:{link.graph_id}" for link, _ in self.held_back]
        return hashlib.sha256("|".join(sorted(parts)).encode()).hexdigest()[:32]


def plan(destination: Destination) -> SwitchPlan:
    """What switching to ``destination`` would do now (reads only)."""
    now = timezone.now()
    elsewhere = [
        link
        for link in CalendarLink.objects.exclude(graph_id="")
        .exclude(state=LinkState.DELETED_IN_OUTLOOK)
        .select_related("event__created_by")
        .order_by("event__start", "pk")
        if not destination.holds(link)
    ]
    moving: list[CalendarLink] = []
    held_back: list[tuple[CalendarLink, str]] = []
    past = 0
    for link in elsewhere:
        if link.event.end < now:
            past += 1
        elif link.event.status == EventStatus.CANCELLED:
            continue
        elif reason := _blocker(link, destination):
            held_back.append((link, reason))
        else:
            moving.append(link)
    events = [link.event_id for link in moving]
    people = set(
        Enrollment.objects.filter(event_id__in=events).values_list("user_id", flat=True)
    ) | {link.event.created_by_id for link in moving}
    return SwitchPlan(
        destination=destination,
        moving=moving,
        held_back=held_back,
        past=past,
        people=len(people),
        from_mailboxes=sorted({link.owner_mailbox for link in moving}),
    )


def _blocker(link: CalendarLink, destination: Destination) -> str:
    """Why the event cannot move now ("" when it can): both calendars must be reachable."""
    creator = link.event.created_by
    if not creator.is_active and link.mode == Mode.ORGANIZER:
        return (
            f"{creator.name}'s account is deactivated: hand their events over first "
            "(Outlook sync dashboard)."
        )
    if not creator.is_active and destination.mode == Mode.ORGANIZER:
        return f"{creator.name}'s account is deactivated, so their calendar cannot hold it."
    if link.mode == Mode.ORGANIZER:
        connection = usable_connection(creator.pk)
        if connection is None or connection.mailbox != link.owner_mailbox.lower():
            return (
                f"{creator.name} must reconnect Outlook ({link.owner_mailbox}) before Convene "
                "can cancel the copy in their calendar."
            )
    if destination.mode == Mode.ORGANIZER and usable_connection(creator.pk) is None:
        return f"{creator.name} has not connected Outlook, so their calendar cannot hold it yet."
    return ""


@transaction.atomic
def start(
    destination: Destination,
    *,
    fingerprint: str | None,
    actor_id: int,
    enqueue_job: Callable[[int], None],
) -> Job | None:
    """Switch the settings to ``destination`` and queue the move of existing events.

    ``fingerprint`` is the plan the admin confirmed; if things changed since, ``PlanChanged``.
    Returns ``None`` when no event had to move (the settings simply switched).
    """
    before = Destination.current()

    def prepare(the_plan: SwitchPlan) -> engine.NewJob | None:
        services.change_settings(asdict(destination), actor_id=actor_id)
        if not the_plan.total:
            return None
        return engine.NewJob(
            params={"from": asdict(before), "to": asdict(destination)},
            links=[*the_plan.moving, *(link for link, _ in the_plan.held_back)],
            message=(
                f"Moving {counted(len(the_plan.moving), 'upcoming event')} to "
                f"{destination.describe()} ({the_plan.people} people); "
                f"{len(the_plan.held_back)} held back, {counted(the_plan.past, 'past event')} stay."
            ),
        )

    return engine.start(
        Job.Kind.MODE_SWITCH,
        partial(plan, destination),
        prepare,
        fingerprint=fingerprint,
        actor_id=actor_id,
        enqueue_job=enqueue_job,
    )


class SwitchRules:
    """What the move engine needs to know about a mode switch."""

    name = "mode_switch"

    def blocker(self, link: CalendarLink, step: MoveStep, destination: Destination) -> str:
        return _blocker(link, destination)

    def before_new_copy(self, step: MoveStep, event: Event) -> None:
        pass  # the organizer stays; only the calendar changes

    def undo(self, step: MoveStep, event: Event) -> None:
        pass

    def goodbye(self, link: CalendarLink, step: MoveStep, event: Event) -> str:
        return (
            f"This event has moved to {where(link)}. You have a new invitation for it "
            "from there; this copy is cancelled."
        )

    def title(self, job: Job) -> str:
        where = Destination(**job.params["to"]).describe()
        if job.state == Job.State.DONE:
            return f"Events moved to {where}"
        return f"Moving events to {where}"


RULES = SwitchRules()
engine.register(Job.Kind.MODE_SWITCH, RULES)
