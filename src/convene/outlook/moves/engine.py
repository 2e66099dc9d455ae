"""The move engine: moving events' Outlook copies to another calendar, as a tracked ``Job``.

A Graph event cannot change calendar or organizer, so a move makes a new copy where the event
should live and then cancels the old one, with a message saying where the event went. Two admin
operations move events, each planning its own ``MoveStep`` rows and saying, through its
``MoveRules``, what is special about it:

- a mode switch (``modeswitch``): organizer calendars <-> the platform calendar;
- a handover (``handover``): the events of an organizer who left go to a co-organizer (or the
  platform calendar), who becomes their organizer in Convene too.

The engine does the rest the same way for both. New copy first, because the opposite order
could leave an event in nobody's calendar if the new one refused it; the worst case this way is
a few seconds with two copies. Every step is safe to run again at any point: a step remembers
the old copy until it is cancelled, the new copy is made with the ``transactionId`` of a new
link generation (a retried create returns the first copy), a copy already gone counts as
cancelled. A job whose worker died is picked up again (``resume_stalled``). Every decision and
Graph call is in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from django.db import transaction
from django.utils import timezone

from convene.core.text import counted
from convene.events.models import Event
from convene.outlook import leases, links
from convene.outlook.mailboxes import connections, platform
from convene.outlook.microsoft.errors import AuthorizationLost, MicrosoftError, NotFound, Transient
from convene.outlook.microsoft.graph import GraphClient
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import (
    CalendarLink,
    Job,
    LinkState,
    LogKind,
    Mode,
    MoveStep,
    OutlookSettings,
    PoolMailbox,
    lease_free,
    record,
)
from convene.outlook.outbound import copies
from convene.outlook.outbound.push import sync_event
from convene.outlook.outbound.queueing import Enqueue

Requeue = Callable[[int, float], None]
"""Runs the job again ``delay`` seconds from now."""

# A step that waits (a sync holding the event, Microsoft busy) is tried again after this long.
RETRY_SECONDS = 3.0

# Steps still to work on, and steps a "Resume" tries again.
OPEN = (MoveStep.State.PLANNED, MoveStep.State.MOVING)
UNSETTLED = (MoveStep.State.LEFT, MoveStep.State.FAILED, MoveStep.State.OLD_COPY_LEFT)


class PlanChanged(Exception):
    """What would happen is not what the admin saw: show them the preview again."""


class MoveRunning(Exception):
    """Another move (a mode switch or a handover) is still running; one at a time."""


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
            # Any mailbox of the platform calendar's pool holds its events (mailboxes.pool).
            return link.owner_mailbox.lower() == self.service_mailbox.lower() or (
                bool(link.owner_mailbox)
                and PoolMailbox.objects.filter(address__iexact=link.owner_mailbox).exists()
            )
        return True

    def describe(self) -> str:
        if self.mode == Mode.PLATFORM:
            return f"the platform calendar {self.service_mailbox}"
        return "each organizer's own Outlook calendar"


class MoveRules(Protocol):
    """What one kind of job decides; the engine does everything else."""

    name: str  # in audit log actions, e.g. "mode_switch_finished"

    def blocker(self, link: CalendarLink, step: MoveStep, destination: Destination) -> str:
        """Why the event cannot move now ("" when it can)."""
        ...

    def before_new_copy(self, step: MoveStep, event: Event) -> None:
        """Runs in the transaction that detaches the link from its old copy."""
        ...

    def undo(self, step: MoveStep, event: Event) -> None:
        """The new calendar refused the event: put back what ``before_new_copy`` changed."""
        ...

    def goodbye(self, link: CalendarLink, step: MoveStep, event: Event) -> str:
        """The message people read in the cancellation of the old copy."""
        ...

    def title(self, job: Job) -> str:
        """The progress page's heading."""
        ...


_RULES: dict[str, MoveRules] = {}


def register(kind: str, rules: MoveRules) -> None:
    """Each operation built on the engine says, once, what is special about its jobs."""
    _RULES[kind] = rules


def rules_for(job: Job) -> MoveRules:
    return _RULES[job.kind]


def running_job() -> Job | None:
    """The move (mode switch or handover) still running, if any: one at a time, so two never
    plan the same event."""
    return Job.objects.filter(state__in=[Job.State.QUEUED, Job.State.RUNNING]).first()


class Planned(Protocol):
    @property
    def fingerprint(self) -> str: ...


P = TypeVar("P", bound=Planned)


@dataclass(frozen=True)
class NewJob:
    """What an operation's plan becomes: the job to run, and its line in the audit log."""

    params: dict[str, Any]
    links: list[CalendarLink]
    message: str
    to_organizers: dict[int, int] | None = None
    details: dict[str, Any] = field(default_factory=dict)


def start(
    kind: str,
    plan: Callable[[], P],
    prepare: Callable[[P], NewJob | None],
    *,
    fingerprint: str | None,
    actor_id: int,
    enqueue_job: Callable[[int], None],
) -> Job | None:
    """Start a move the admin confirmed, the same way for every operation (in the caller's
    transaction): one move at a time; ``fingerprint`` is the plan they saw (``PlanChanged``
    when things changed since); ``prepare`` turns the plan into the job (``None``: nothing has
    to move). The job runs after commit."""
    if running_job() is not None:
        raise MoveRunning("A mode switch or a handover is still running; wait for it to finish.")
    the_plan = plan()
    if fingerprint is not None and the_plan.fingerprint != fingerprint:
        raise PlanChanged("Events changed since the preview; please review it again.")
    new = prepare(the_plan)
    if new is None:
        return None
    job = _create_job(kind, new, actor_id)
    record(
        LogKind.DECISION,
        f"{_RULES[kind].name}_planned",
        message=new.message,
        user_id=actor_id,
        job=job.pk,
        **new.details,
    )
    transaction.on_commit(partial(enqueue_job, job.pk))
    return job


def _create_job(kind: str, new: NewJob, actor_id: int) -> Job:
    """The job and one step per link, remembering where each old copy is.
    ``to_organizers``: event id -> who organizes it after a handover."""
    job = Job.objects.create(
        kind=kind, params=new.params, total=len(new.links), created_by_id=actor_id
    )
    to_organizers = new.to_organizers
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
            from_organizer_id=link.event.created_by_id,
            to_organizer_id=(to_organizers or {}).get(link.event_id),
        )
        for link in new.links
    )
    return job


def resume(job: Job, *, actor_id: int, enqueue_job: Callable[[int], None]) -> int:
    """Try the events a finished job left behind again; returns how many."""
    destination = Destination(**job.params["to"])
    if destination != Destination.current():
        raise PlanChanged("The settings changed since this job; start a new one instead.")
    rules = rules_for(job)
    count = 0
    with transaction.atomic():
        for step in job.steps.filter(state__in=UNSETTLED):
            link = CalendarLink.objects.select_related("event").get(event_id=step.event_id)
            step.state = (
                MoveStep.State.MOVING
                if _new_copy_made(link, step, destination)
                else MoveStep.State.PLANNED
            )
            step.save(update_fields=["state", "updated_at"])
            count += 1
        if count:
            Job.objects.filter(pk=job.pk).update(
                state=Job.State.QUEUED, finished_at=None, message=""
            )
            record(
                LogKind.DECISION,
                f"{rules.name}_resumed",
                message=f"Trying {counted(count, 'event')} again.",
                user_id=actor_id,
                job=job.pk,
            )
            transaction.on_commit(partial(enqueue_job, job.pk))
    return count


def _new_copy_made(link: CalendarLink, step: MoveStep, destination: Destination) -> bool:
    """True when the link already points at a copy this job made (only its old one is left)."""
    if not link.graph_id or link.graph_id == step.from_graph_id or not destination.holds(link):
        return False
    return step.to_organizer_id is None or link.event.created_by_id == step.to_organizer_id


# --- running (in the worker) --------------------------------------------------------------


def run(job_id: int, enqueue_sync: Enqueue, requeue: Requeue) -> None:
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
        rules = rules_for(job)
        destination = Destination(**job.params["to"])
        running = Job.objects.filter(pk=job_id, lease_until__isnull=False)
        with leases.kept(lambda to: running.update(lease_until=to)):
            for step in job.steps.filter(state__in=OPEN).select_related("event"):
                try:
                    settled = _move(step, destination, rules, enqueue_sync)
                except Transient as exc:
                    _note(step, f"Will try again: {exc}")
                    settled = False
                waiting = waiting or not settled
                _count(job_id)
    finally:
        Job.objects.filter(pk=job_id).update(lease_until=None)
    if waiting:
        requeue(job_id, RETRY_SECONDS)
    else:
        _finish(job_id)


def _move(
    step: MoveStep, destination: Destination, rules: MoveRules, enqueue_sync: Enqueue
) -> bool:
    """One event's move; True once the step is settled (moved, left or failed)."""
    link = CalendarLink.objects.select_related("event__created_by").get(event_id=step.event_id)
    event = link.event
    if step.state == MoveStep.State.PLANNED:
        if link.graph_id != step.from_graph_id:
            return _settle(step, MoveStep.State.LEFT, "Its Outlook copy changed since the plan.")
        if event.last_end < timezone.now() or event.is_cancelled:
            return _settle(step, MoveStep.State.LEFT, "It ended or was cancelled meanwhile.")
        if reason := rules.blocker(link, step, destination):
            return _settle(step, MoveStep.State.LEFT, reason)
        if not _detach(link, step, destination, rules):
            return False  # a sync of this event is running: next round
        record(
            LogKind.DECISION,
            "move_started",
            message=f"Making the new copy in {destination.describe()}.",
            event_id=event.pk,
            mailbox=step.from_mailbox,
            job=step.job_id,
        )
    sync_event(event.pk, enqueue_sync)
    link.refresh_from_db()
    event.refresh_from_db()
    if link.is_behind or (not link.graph_id and not event.is_cancelled):
        if link.state == LinkState.FAILING and not link.retries_automatically:
            return _reattach(step, link, rules, link.last_error)
        if link.state in (LinkState.WAITING_AUTHORIZATION, LinkState.NEEDS_NEW_ORGANIZER):
            return _reattach(step, link, rules, link.last_error)
        return False  # the sync engine retries it; so do we
    if not step.from_graph_id:
        return _settle(step, MoveStep.State.MOVED, f"Now in {where(link)}.")
    if event.is_cancelled:
        comment = event.cancellation_reason or "This event has been cancelled."
    else:
        comment = rules.goodbye(link, step, event)
    try:
        old = _old_copy_client(step)
        old.cancel_event(step.from_graph_id, comment)
    except NotFound:
        pass  # cancelled or deleted already (a previous run, or someone in Outlook)
    except Transient:
        raise
    except AuthorizationLost as exc:
        _log_cancel(step, type(exc).__name__, str(exc))
        return _settle(
            step,
            MoveStep.State.OLD_COPY_LEFT,
            f"Now in {where(link)}, but Convene can no longer reach {step.from_mailbox} "
            f"({exc}), so the old copy there was not cancelled: people on it still see it "
            "until its owner or a Microsoft 365 administrator cancels it.",
        )
    except MicrosoftError as exc:
        _log_cancel(step, str(exc.status or type(exc).__name__), str(exc))
        return _settle(
            step,
            MoveStep.State.FAILED,
            f"The new copy is in place, but the old one could not be cancelled: {exc}",
        )
    if step.from_mailbox.lower() != link.owner_mailbox.lower():
        # A big event's overflow copies in the old calendar (``outbound.copies``) go too.
        for copy in copies.old_copies(link, step.from_mailbox):
            try:
                old.cancel_event(copy.graph_id, comment)
            except NotFound:
                pass
            except Transient:
                raise
            except MicrosoftError as exc:
                _log_cancel(step, str(exc.status or type(exc).__name__), str(exc))
                return _settle(
                    step,
                    MoveStep.State.FAILED,
                    f"The new copies are in place, but an old overflow copy could not be "
                    f"cancelled: {exc}",
                )
        copies.forget_old_copies(link, step.from_mailbox)
    _log_cancel(step, "ok", comment)
    return _settle(step, MoveStep.State.MOVED, f"Now in {where(link)}.")


def _detach(link: CalendarLink, step: MoveStep, destination: Destination, rules: MoveRules) -> bool:
    """Point the link at the destination with no copy yet, unless a sync holds it.

    The new generation gives the new copy its own ``transactionId``; the step keeps the old
    copy's coordinates, in the same transaction, as do the job's own changes
    (``before_new_copy``).
    """
    with transaction.atomic():
        taken = links.detach(link, step.from_graph_id, destination.mode)
        if taken:
            MoveStep.objects.filter(pk=step.pk).update(state=MoveStep.State.MOVING)
            rules.before_new_copy(step, link.event)
    return bool(taken)


def _reattach(step: MoveStep, link: CalendarLink, rules: MoveRules, reason: str) -> bool:
    """The new calendar refused the event: it goes on living in the old one, as before."""
    with transaction.atomic():
        links.reattach(link, step)
        rules.undo(step, link.event)
        _settle(
            step,
            MoveStep.State.LEFT,
            f"The new calendar refused it ({reason}); it stays where it was.",
        )
    return True


def _old_copy_client(step: MoveStep) -> GraphClient:
    """A client for the old copy's calendar: the service mailbox, or the old organizer's
    calendar through their own authorization (the only way into it)."""
    registration = AppRegistration.from_settings()
    if step.from_mode == Mode.PLATFORM:
        tenant = platform.tenant_for(step.from_mailbox, OutlookSettings.load())
        return platform.client(registration.for_platform(), step.from_mailbox, tenant)
    connection = (
        connections.usable_connection(step.from_organizer_id)
        if step.from_organizer_id is not None
        else None
    )
    if connection is None or connection.mailbox != step.from_mailbox:
        raise AuthorizationLost(f"{step.from_mailbox} is not connected to Convene any more")
    return connections.client(registration, connection)


def where(link: CalendarLink) -> str:
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


SETTLED_ACTIONS = {
    MoveStep.State.MOVED: "moved",
    MoveStep.State.OLD_COPY_LEFT: "moved_old_copy_left",
    MoveStep.State.LEFT: "move_left",
    MoveStep.State.FAILED: "move_failed",
}


def _settle(step: MoveStep, state: str, note: str) -> bool:
    MoveStep.objects.filter(pk=step.pk).update(state=state, note=note[:2000])
    record(
        LogKind.DECISION,
        SETTLED_ACTIONS[MoveStep.State(state)],
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
        done=steps.filter(state__in=[MoveStep.State.MOVED, MoveStep.State.OLD_COPY_LEFT]).count(),
        failed=steps.filter(state__in=[MoveStep.State.LEFT, MoveStep.State.FAILED]).count(),
    )


def _finish(job_id: int) -> None:
    _count(job_id)
    job = Job.objects.get(pk=job_id)
    if job.state == Job.State.DONE:
        return
    # The page's progress line already says how many moved; the message adds what went wrong.
    problems = []
    old_copies = job.steps.filter(state=MoveStep.State.OLD_COPY_LEFT).count()
    if old_copies:
        problems.append(
            f"{counted(old_copies, 'old copy', 'old copies')} could not be cancelled by Convene "
            "(the old organizer's authorization is gone; see below)."
        )
    if job.failed:
        where = "it was" if job.failed == 1 else "they were"
        problems.append(
            f"{counted(job.failed, 'event')} stayed where {where} (see below); "
            "“Resume” tries again."
        )
    message = " ".join(problems)
    Job.objects.filter(pk=job_id).update(
        state=Job.State.DONE, finished_at=timezone.now(), message=message
    )
    moved = f"{job.done} of {counted(job.total, 'event')} moved."
    record(
        LogKind.DECISION,
        f"{rules_for(job).name}_finished",
        message=f"{moved} {message}".strip(),
        job=job_id,
    )


def _take_lease(job_id: int) -> bool:
    now = timezone.now()
    return bool(
        Job.objects.filter(lease_free(now), pk=job_id).update(lease_until=now + leases.length())
    )


def resume_stalled(requeue: Requeue) -> int:
    """Queue every unfinished job nobody is running (its worker died): the safety net."""
    now = timezone.now()
    stalled = Job.objects.filter(
        lease_free(now),
        state__in=[Job.State.QUEUED, Job.State.RUNNING],
        created_at__lt=now - timedelta(seconds=5),
    )
    ids = list(stalled.values_list("pk", flat=True))
    for job_id in ids:
        requeue(job_id, 0)
    return len(ids)


def job_context(job: Job) -> dict[str, Any]:
    """What the progress page shows."""
    steps = list(job.steps.select_related("event").order_by("pk"))
    return {
        "job": job,
        "title": rules_for(job).title(job),
        "destination": Destination(**job.params["to"]),
        "origin": Destination(**job.params["from"]),
        "unsettled": [s for s in steps if s.state in (MoveStep.State.LEFT, MoveStep.State.FAILED)],
        "old_copies_left": [s for s in steps if s.state == MoveStep.State.OLD_COPY_LEFT],
        "running": job.state in (Job.State.QUEUED, Job.State.RUNNING),
    }
