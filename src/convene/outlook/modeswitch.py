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

The move runs as a ``Job`` in the worker, one ``MoveStep`` per event, and is safe to run again
at any point: a step remembers the old copy until it is cancelled, the new copy is made with a
``transactionId`` of a new link generation (a retried create returns the first one), a copy
already gone counts as cancelled. Every step is written to the audit log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from convene.events.models import Enrollment, Event, EventStatus
from convene.outlook import limits, platform, services, sync
from convene.outlook.connections import DelegatedTokens, usable_connection
from convene.outlook.errors import (
    AuthorizationLost,
    MicrosoftError,
    NotFound,
    Transient,
)
from convene.outlook.graph import GraphClient
from convene.outlook.models import (
    CalendarLink,
    Job,
    LinkState,
    LogKind,
    Mode,
    MoveStep,
    OutlookSettings,
    record,
)
from convene.outlook.registration import AppRegistration

Requeue = Callable[[int, float], None]
"""Runs the job again ``delay`` seconds from now."""

# A step that waits (a sync holding the event, Microsoft busy) is tried again after this long.
RETRY_SECONDS = 3.0


class PlanChanged(Exception):
    """What would happen is not what the admin saw: show them the preview again."""


class SwitchRunning(Exception):
    """A mode switch is still running; one at a time."""


@dataclass(frozen=True)
class Destination:
    """Where events should live: the mode, and the service mailbox for the platform calendar."""

    mode: str
    service_mailbox: str = ""
    platform_tenant: str = ""

    @classmethod
    def current(cls) -> Destination:
        outlook = OutlookSettings.load()
        return cls(outlook.mode, outlook.service_mailbox.lower(), outlook.platform_tenant)

    def holds(self, link: CalendarLink) -> bool:
        """True when the link's Outlook copy already lives where this destination puts it."""
        if link.mode != self.mode:
            return False
        if self.mode == Mode.PLATFORM:
            return link.owner_mailbox.lower() == self.service_mailbox.lower()
        return True

    def describe(self) -> str:
        if self.mode == Mode.PLATFORM:
            return f"the platform calendar {self.service_mailbox}"
        return "each organizer's own Outlook calendar"


@dataclass(frozen=True)
class Plan:
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


def plan(destination: Destination) -> Plan:
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
    return Plan(
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


def current_job() -> Job | None:
    """The mode switch still running, if any."""
    return Job.objects.filter(
        kind=Job.Kind.MODE_SWITCH, state__in=[Job.State.QUEUED, Job.State.RUNNING]
    ).first()


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
    if current_job() is not None:
        raise SwitchRunning("A mode switch is still running; wait for it to finish.")
    before = Destination.current()
    the_plan = plan(destination)
    if fingerprint is not None and the_plan.fingerprint != fingerprint:
        raise PlanChanged("Events changed since the preview; please review it again.")
    services.change_settings(asdict(destination), actor_id=actor_id)
    if not the_plan.total:
        return None
    job = Job.objects.create(
        kind=Job.Kind.MODE_SWITCH,
        params={"from": asdict(before), "to": asdict(destination)},
        total=the_plan.total,
        created_by_id=actor_id,
    )
    MoveStep.objects.bulk_create(
        MoveStep(
            job=job,
            event_id=link.event_id,
            from_mode=link.mode,
            from_mailbox=link.owner_mailbox.lower(),
            from_graph_id=link.graph_id,
            from_ical_uid=link.ical_uid,
            from_change_key=link.change_key,
            from_last_pushed=link.last_pushed,
        )
        for link in [*the_plan.moving, *(link for link, _ in the_plan.held_back)]
    )
    record(
        LogKind.DECISION,
        "mode_switch_planned",
        message=(
            f"Moving {len(the_plan.moving)} upcoming event(s) to {destination.describe()} "
            f"({the_plan.people} people); {len(the_plan.held_back)} held back, "
            f"{the_plan.past} past event(s) stay."
        ),
        user_id=actor_id,
        job=job.pk,
    )
    transaction.on_commit(partial(enqueue_job, job.pk))
    return job


def resume(job: Job, *, actor_id: int, enqueue_job: Callable[[int], None]) -> int:
    """Try the events a finished switch left behind again; returns how many."""
    destination = Destination(**job.params["to"])
    if destination != Destination.current():
        raise PlanChanged("The settings changed since this switch; start a new one instead.")
    count = 0
    with transaction.atomic():
        for step in job.steps.filter(state__in=[MoveStep.State.LEFT, MoveStep.State.FAILED]):
            link = CalendarLink.objects.get(event_id=step.event_id)
            made = bool(link.graph_id) and destination.holds(link)
            step.state = MoveStep.State.MOVING if made else MoveStep.State.PLANNED
            step.save(update_fields=["state", "updated_at"])
            count += 1
        if count:
            Job.objects.filter(pk=job.pk).update(
                state=Job.State.QUEUED, finished_at=None, message=""
            )
            record(
                LogKind.DECISION,
                "mode_switch_resumed",
                message=f"Trying {count} event(s) again.",
                user_id=actor_id,
                job=job.pk,
            )
            transaction.on_commit(partial(enqueue_job, job.pk))
    return count


# --- running (in the worker) --------------------------------------------------------------


def run(job_id: int, enqueue_sync: sync.Enqueue, requeue: Requeue) -> None:
    """Work through the job's steps; safe to call again at any point (it continues)."""
    if not _take_lease(job_id):
        return  # another worker is running it
    waiting = False
    try:
        job = Job.objects.get(pk=job_id)
        if job.state in (Job.State.DONE, Job.State.FAILED):
            return
        Job.objects.filter(pk=job_id).update(
            state=Job.State.RUNNING, started_at=job.started_at or timezone.now()
        )
        destination = Destination(**job.params["to"])
        open_steps = job.steps.filter(state__in=[MoveStep.State.PLANNED, MoveStep.State.MOVING])
        for step in open_steps.select_related("event"):
            try:
                settled = _move(step, destination, enqueue_sync)
            except Transient as exc:
                _note(step, f"Will try again: {exc}")
                settled = False
            waiting = waiting or not settled
            _count(job_id)
            _take_lease(job_id, renew=True)
    finally:
        Job.objects.filter(pk=job_id).update(lease_until=None)
    if waiting:
        requeue(job_id, RETRY_SECONDS)
    else:
        _finish(job_id)


def _move(step: MoveStep, destination: Destination, enqueue_sync: sync.Enqueue) -> bool:
    """One event's move; True once the step is settled (moved, left or failed)."""
    link = CalendarLink.objects.select_related("event__created_by").get(event_id=step.event_id)
    event = link.event
    if step.state == MoveStep.State.PLANNED:
        if link.graph_id != step.from_graph_id:
            return _settle(step, MoveStep.State.LEFT, "Its Outlook copy changed since the plan.")
        if event.end < timezone.now() or event.is_cancelled:
            return _settle(step, MoveStep.State.LEFT, "It ended or was cancelled meanwhile.")
        if reason := _blocker(link, destination):
            return _settle(step, MoveStep.State.LEFT, reason)
        if not _detach(link, step, destination):
            return False  # a sync of this event is running: next round
        record(
            LogKind.DECISION,
            "move_started",
            message=f"Making the new copy in {destination.describe()}.",
            event_id=event.pk,
            mailbox=step.from_mailbox,
            job=step.job_id,
        )
    sync.sync_event(event.pk, enqueue_sync)
    link.refresh_from_db()
    event.refresh_from_db()
    if link.is_behind or (not link.graph_id and not event.is_cancelled):
        if link.state == LinkState.FAILING and not link.retries_automatically:
            return _reattach(step, link, link.last_error)
        if link.state == LinkState.WAITING_AUTHORIZATION:
            return _reattach(step, link, link.last_error)
        return False  # the sync engine retries it; so do we
    if event.is_cancelled:
        comment = event.cancellation_reason or "This event has been cancelled."
    else:
        comment = (
            f"This event has moved to {_where(link)}. You have a new invitation for it "
            "from there; this copy is cancelled."
        )
    try:
        old = _old_copy_client(step, event)
        old.cancel_event(step.from_graph_id, comment)
    except NotFound:
        pass  # cancelled or deleted already (a previous run, or someone in Outlook)
    except Transient:
        raise
    except MicrosoftError as exc:
        _log_cancel(step, str(exc.status or type(exc).__name__), str(exc))
        return _settle(
            step,
            MoveStep.State.FAILED,
            f"The new copy is in place, but the old one could not be cancelled: {exc}",
        )
    _log_cancel(step, "ok", comment)
    return _settle(step, MoveStep.State.MOVED, f"Now in {_where(link)}.")


def _detach(link: CalendarLink, step: MoveStep, destination: Destination) -> bool:
    """Point the link at the destination with no copy yet, unless a sync holds it.

    The new generation gives the new copy its own ``transactionId``; the step keeps the old
    copy's coordinates, in the same transaction.
    """
    now = timezone.now()
    with transaction.atomic():
        taken = (
            CalendarLink.objects.filter(pk=link.pk, graph_id=step.from_graph_id)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(
                mode=destination.mode,
                owner_mailbox="",
                generation=F("generation") + 1,
                graph_id="",
                ical_uid="",
                change_key="",
                last_pushed={},
                synced_version=0,
                state=LinkState.PENDING,
                attempts=0,
                next_attempt_at=now,
                last_error="",
            )
        )
        if taken:
            MoveStep.objects.filter(pk=step.pk).update(state=MoveStep.State.MOVING)
    return bool(taken)


def _reattach(step: MoveStep, link: CalendarLink, reason: str) -> bool:
    """The new calendar refused the event: it goes on living in the old one, as before."""
    with transaction.atomic():
        CalendarLink.objects.filter(pk=link.pk, graph_id="").update(
            mode=step.from_mode,
            owner_mailbox=step.from_mailbox,
            graph_id=step.from_graph_id,
            ical_uid=step.from_ical_uid,
            change_key=step.from_change_key,
            last_pushed=step.from_last_pushed,
            synced_version=0,  # compare with the old copy once, send only what changed
            state=LinkState.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            last_error="",
        )
        _settle(
            step,
            MoveStep.State.LEFT,
            f"The new calendar refused it ({reason}); it stays where it was.",
        )
    return True


def _old_copy_client(step: MoveStep, event: Event) -> GraphClient:
    registration = AppRegistration.from_settings()
    http = sync._shared_http(registration)  # the sync engine's connection pool
    if step.from_mode == Mode.PLATFORM:
        tenant = platform.tenant_for(step.from_mailbox, OutlookSettings.load())
        return platform.client(registration, step.from_mailbox, tenant, http)
    connection = usable_connection(event.created_by_id)
    if connection is None or connection.mailbox != step.from_mailbox:
        raise AuthorizationLost(f"{step.from_mailbox} is not connected to Convene any more.")
    return GraphClient(
        base_url=registration.graph_url,
        token=DelegatedTokens(registration, connection.pk, connection.home_account_id),
        http=http,
        mailbox=None,
        gate=partial(limits.mailbox_slot, connection.mailbox),
    )


def _where(link: CalendarLink) -> str:
    if link.mode == Mode.PLATFORM:
        return f"the calendar of {link.owner_mailbox}"
    return f"the Outlook calendar of {link.owner_mailbox}"


def _log_cancel(step: MoveStep, status: str, message: str) -> None:
    record(
        LogKind.GRAPH,
        "cancel_old_copy",
        status=status,
        message=message,
        event_id=step.event_id,
        mailbox=step.from_mailbox,
        job=step.job_id,
    )


def _settle(step: MoveStep, state: str, note: str) -> bool:
    MoveStep.objects.filter(pk=step.pk).update(state=state, note=note[:2000])
    record(
        LogKind.DECISION,
        {"moved": "moved", "left": "move_left", "failed": "move_failed"}[state],
        message=note,
        event_id=step.event_id,
        mailbox=step.from_mailbox,
        job=step.job_id,
    )
    return True


def _note(step: MoveStep, note: str) -> None:
    MoveStep.objects.filter(pk=step.pk).update(note=note[:2000])


def _count(job_id: int) -> None:
    steps = MoveStep.objects.filter(job_id=job_id)
    Job.objects.filter(pk=job_id).update(
        done=steps.filter(state=MoveStep.State.MOVED).count(),
        failed=steps.filter(state__in=[MoveStep.State.LEFT, MoveStep.State.FAILED]).count(),
    )


def _finish(job_id: int) -> None:
    _count(job_id)
    job = Job.objects.get(pk=job_id)
    if job.state == Job.State.DONE:
        return
    message = f"{job.done} of {job.total} event(s) moved."
    if job.failed:
        message += f" {job.failed} stayed where they were (see below); “Resume” tries them again."
    Job.objects.filter(pk=job_id).update(
        state=Job.State.DONE, finished_at=timezone.now(), message=message
    )
    record(LogKind.DECISION, "mode_switch_finished", message=message, job=job_id)


def _take_lease(job_id: int, *, renew: bool = False) -> bool:
    now = timezone.now()
    until = now + timedelta(seconds=settings.OUTLOOK_LEASE_SECONDS)
    jobs = Job.objects.filter(pk=job_id)
    if not renew:
        jobs = jobs.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    return bool(jobs.update(lease_until=until))


def resume_stalled(requeue: Requeue) -> int:
    """Queue every unfinished switch nobody is running (its worker died): the safety net."""
    now = timezone.now()
    stalled = Job.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        kind=Job.Kind.MODE_SWITCH,
        state__in=[Job.State.QUEUED, Job.State.RUNNING],
        created_at__lt=now - timedelta(seconds=5),
    )
    ids = list(stalled.values_list("pk", flat=True))
    for job_id in ids:
        requeue(job_id, 0)
    return len(ids)


def job_context(job: Job) -> dict[str, Any]:
    """What the progress page shows."""
    steps = job.steps.select_related("event").order_by("pk")
    return {
        "job": job,
        "destination": Destination(**job.params["to"]),
        "origin": Destination(**job.params["from"]),
        "unsettled": [s for s in steps if s.state in (MoveStep.State.LEFT, MoveStep.State.FAILED)],
        "running": job.state in (Job.State.QUEUED, Job.State.RUNNING),
    }
