"""What can happen to an event's Outlook copy: every ``CalendarLink`` transition, in one place.

A link is written only here. Each transition is one function, with what comes with it (the
audit log's decision, a notice to the organizer), so "deleted in Outlook" or "needs a new
organizer" means the same wherever it is found out: by a push, a notification, a delta read,
a move or a person leaving.

- tracked: ``track``, ``note_new_version`` (Convene wants a newer copy);
- queued: ``claim_queue`` / ``claim_queue_many`` (one task per burst of changes), ``unqueue``;
- claimed: ``take_lease`` / ``give_back_lease`` (one worker on an event at a time: a push,
  a reconcile or a move);
- synced: ``synced`` / ``save_synced``;
- failed: ``fail`` (retried later, or given up until a change or a "Retry");
- parked: ``park`` (waiting for its organizer to reconnect), ``needs_new_organizer``,
  ``park_leaver`` (all of a deactivated organizer's events), ``unpark`` (they are back);
- ``deleted_in_outlook`` (and ``copy_deleted_in_outlook`` for an overflow copy) and
  ``publish_again``;
- moved: ``detach`` (pointed at a new calendar, no copy yet) and ``reattach`` (back to the old
  copy when the new calendar refused it).

The conditions the rest asks about exist once too: ``lease_free``, ``not_queued``, ``behind``
and ``due_for_sweep``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from convene.core.notices import notify
from convene.events.models import Event
from convene.outlook import leases
from convene.outlook.microsoft import mapping
from convene.outlook.microsoft.errors import MicrosoftError
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import (
    AttendeeReply,
    CalendarLink,
    CopySeat,
    LinkState,
    LogKind,
    MoveStep,
    OverflowCopy,
    SyncLogEntry,
    lease_free,
    record,
)

MAX_BACKOFF_SECONDS = 15 * 60

# States in which the sync engine pushes a link on its own.
ACTIVE = (LinkState.PENDING, LinkState.SYNCED, LinkState.FAILING)


def lease() -> timedelta:
    """How long a worker may hold a link before others assume it died: short, since the
    worker renews it while it works (``leases.kept``)."""
    return leases.length()


def leases_kept(link_ids: list[int]) -> AbstractContextManager[None]:
    """Keep the leases this worker took on these links alive while the block runs."""
    return leases.kept(
        lambda to: CalendarLink.objects.filter(pk__in=link_ids, lease_until__isnull=False).update(
            lease_until=to
        )
    )


def lease_kept_of_event(event_id: int) -> AbstractContextManager[None]:
    """``leases_kept`` for the event's link."""
    return leases.kept(
        lambda to: CalendarLink.objects.filter(event_id=event_id, lease_until__isnull=False).update(
            lease_until=to
        )
    )


# --- conditions -------------------------------------------------------------------------


def not_queued(now: datetime | None = None) -> Q:
    """No task is waiting for the link (or the one that was has been lost)."""
    return Q(queued_at__isnull=True) | Q(
        queued_at__lt=(now or timezone.now()) - leases.queue_patience()
    )


def behind(now: datetime | None = None) -> Q:
    """Behind what Convene wants, and due for a push without anyone pressing "Retry"."""
    return Q(
        synced_version__lt=F("desired_version"),
        state__in=[LinkState.PENDING, LinkState.SYNCED],
        next_attempt_at__lte=now or timezone.now(),
    )


def due_for_sweep(now: datetime | None = None) -> Q:
    """What the sweep re-queues: behind, due, not queued, not held."""
    now = now or timezone.now()
    return (
        Q(synced_version__lt=F("desired_version"), next_attempt_at__lte=now, state__in=ACTIVE)
        & not_queued(now)
        & lease_free(now)
    )


# --- queued ----------------------------------------------------------------------------


def track(event_ids: Iterable[int], mode: str) -> None:
    """The events should be in Outlook (in ``mode``'s calendar): a link each, unless they
    have one."""
    CalendarLink.objects.bulk_create(
        [CalendarLink(event_id=pk, mode=mode) for pk in event_ids], ignore_conflicts=True
    )


def note_new_version(event_id: int, mode: str) -> CalendarLink:
    """Convene wants a newer copy of the event (its first, in ``mode``'s calendar, when it has
    none yet); a permanent failure may be fixed by this very change."""
    link, created = CalendarLink.objects.get_or_create(event_id=event_id, defaults={"mode": mode})
    if not created:
        CalendarLink.objects.filter(pk=link.pk).update(desired_version=F("desired_version") + 1)
        # Outlook falls behind now if it was in step until this change (the sync lag's start).
        CalendarLink.objects.filter(
            pk=link.pk, synced_version__gte=F("desired_version") - 1
        ).update(behind_since=timezone.now())
        CalendarLink.objects.filter(pk=link.pk, state=LinkState.FAILING).update(
            next_attempt_at=timezone.now()
        )
    return link


def want_all_again(links: QuerySet[CalendarLink]) -> None:
    """Every one of ``links`` compares itself with Outlook's copy again."""
    links.update(desired_version=F("desired_version") + 1)


def claim_queue(link_id: int) -> bool:
    """Mark the link queued unless a task already is: True when the caller should queue one."""
    now = timezone.now()
    return bool(CalendarLink.objects.filter(not_queued(now), pk=link_id).update(queued_at=now))


def claim_queue_many(link_ids: list[int]) -> set[int]:
    """``claim_queue`` for many links; returns those that were not queued already. (Two claims
    racing may both queue a link: its lease still lets only one task push it.)

    Rows a worker holds locked in a transaction of its own are skipped, not waited for: a
    claim waiting on one row while holding others deadlocked with a worker saving its batch
    (PostgreSQL). The worker is on those links; the next sweep finds whatever is still due."""
    now = timezone.now()
    claimed: set[int] = set()
    for start in range(0, len(link_ids), 500):  # within every database's parameter limit
        with transaction.atomic():
            ids = set(
                CalendarLink.objects.filter(not_queued(now), pk__in=link_ids[start : start + 500])
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)
            )
            CalendarLink.objects.filter(pk__in=ids).update(queued_at=now)
        claimed |= ids
    return claimed


def unqueue(link_ids: list[int]) -> None:
    """Their task started (or could not be queued): a new change queues a new one."""
    CalendarLink.objects.filter(pk__in=link_ids).update(queued_at=None)


def retry_now(link: CalendarLink, *, compare_again: bool = False) -> None:
    """Due at once, as a "Retry" asks (a copy deleted in Outlook stays so)."""
    changes: dict[str, Any] = {"next_attempt_at": timezone.now(), "queued_at": None}
    if link.state != LinkState.DELETED_IN_OUTLOOK:
        changes["state"] = LinkState.PENDING
    if compare_again:
        changes["desired_version"] = F("desired_version") + 1
    CalendarLink.objects.filter(pk=link.pk).update(**changes)


# --- claimed ---------------------------------------------------------------------------


def take_lease(link_id: int) -> bool:
    """Become the one worker on this link (a push, a reconcile): False when someone is."""
    now = timezone.now()
    return bool(
        CalendarLink.objects.filter(lease_free(now), pk=link_id).update(lease_until=now + lease())
    )


def take_lease_of_event(event_id: int) -> bool:
    """``take_lease`` for the event's link, counting its queued task as started.

    One statement: from here on a new change queues a new task (this one may already be too
    early for it), and the lease makes this worker the only one pushing the event."""
    links = CalendarLink.objects.filter(event_id=event_id)
    if links.filter(lease_free()).update(queued_at=None, lease_until=timezone.now() + lease()):
        return True
    links.update(queued_at=None)
    # The holder may have given the lease back between these two statements, and found this
    # change behind it while this task still counted as queued, so queued nothing. Once more,
    # now that the holder (or a new change) would queue a task of its own.
    return bool(links.filter(lease_free()).update(lease_until=timezone.now() + lease()))


def give_back_lease(link_ids: list[int]) -> None:
    CalendarLink.objects.filter(pk__in=link_ids).update(lease_until=None)


def give_back_lease_of_event(event_id: int) -> None:
    CalendarLink.objects.filter(event_id=event_id).update(lease_until=None)


# --- synced ----------------------------------------------------------------------------


def synced(version: int) -> dict[str, Any]:
    """A link's values once Outlook holds ``version`` of its event (for ``save_synced``)."""
    now = timezone.now()
    return {
        "state": LinkState.SYNCED,
        "synced_version": version,
        "attempts": 0,
        "last_error": "",
        "last_synced_at": now,
        "next_attempt_at": now,
    }


def save_synced(saved: list[tuple[CalendarLink, dict[str, Any]]]) -> None:
    """Write what Outlook now holds for each link, all in one transaction (one commit).
    (One plain UPDATE per link: Django's ``bulk_update`` builds a CASE per field and row,
    which cost more CPU than a batch's HTTP.)"""
    with transaction.atomic():
        for link, values in saved:
            CalendarLink.objects.filter(pk=link.pk).update(**values)


def answers_read(link: CalendarLink, change_key: str) -> None:
    """Convene has read (and acted on) the answers of this version of the copy: a change that
    clears answers may now go out over it (``If-Match``). ``link`` also learns the version
    Convene wants now (acting on a decline may have changed the event)."""
    CalendarLink.objects.filter(pk=link.pk).update(change_key=change_key)
    link.change_key = change_key
    link.desired_version = (
        CalendarLink.objects.filter(pk=link.pk).values_list("desired_version", flat=True).get()
    )


def note_outlook_copy(
    link: CalendarLink, drifted: list[str], outlook_only: list[dict[str, Any]]
) -> None:
    """What a read of Outlook's copy found: forget what it had accepted for the ``drifted``
    properties, so the next sync sends them again; remember who is on the meeting in Outlook
    only (``mapping.OUTLOOK_ONLY_ATTENDEES``), so Convene's next attendee list keeps them."""
    kept = {k: v for k, v in link.last_pushed.items() if k not in drifted}
    kept[mapping.OUTLOOK_ONLY_ATTENDEES] = outlook_only
    CalendarLink.objects.filter(pk=link.pk).update(last_pushed=kept)


def record_outlook_only(
    event_id: int, mailbox: str, outlook_only: list[dict[str, Any]], part: int = 0
) -> None:
    """The audit log line for a change in who is on the meeting in Outlook only: on the own
    copy, or on overflow copy ``part``."""
    addresses = [a["emailAddress"]["address"] for a in outlook_only]
    where = f"overflow copy {part}" if part else "the meeting"
    record(
        LogKind.DECISION,
        "outlook_only_attendees",
        message=(
            f"On {where} in Outlook but not in Convene (left alone): {', '.join(addresses)}."
            if addresses
            else f"Nobody is on {where} in Outlook only any more."
        ),
        event_id=event_id,
        mailbox=mailbox,
        **({"copy": part} if part else {}),
        addresses=addresses,
    )


def seen_as_written(link: CalendarLink, seen: str, change_key: str) -> None:
    """A read of Outlook's copy was handled: its answers acted on, anything changed in Outlook
    noted to be sent back. This version needs no second look (the delta read and the daily
    reconcile compare with it from now on), and a push may go out over it (``If-Match``).
    Not recorded when a push wrote a newer copy since the read took ``seen``: naming the older
    version would only cost a 412."""
    CalendarLink.objects.filter(pk=link.pk, change_key=seen).update(change_key=change_key)


# Outlook changing the same copy back this often in a day is something in the mailbox (a rule,
# an add-in, another sync tool) fighting Convene: pushing back again would only loop.
DRIFT_REPEATS_PER_DAY = 3


def drift_repeats(event_id: int, part: int = 0) -> bool:
    """Has this copy of the event (0: the own copy, else that overflow copy) been put back
    ``DRIFT_REPEATS_PER_DAY`` times within a day already? Each copy counts its own."""
    recent = SyncLogEntry.objects.filter(
        event_id=event_id,
        action="drift_overwritten",
        created_at__gte=timezone.now() - timedelta(days=1),
    )
    recent = recent.filter(details__copy=part) if part else recent.exclude(details__has_key="copy")
    return recent.count() >= DRIFT_REPEATS_PER_DAY


def drift_repeating(link: CalendarLink, drifted: list[str], part: int = 0) -> None:
    """Outlook keeps changing a copy back (the own copy, or overflow copy ``part``): stop
    pushing Convene's version (it would only loop) until someone presses Retry."""
    where = f"overflow copy {part} of this event" if part else "this event"
    reason = (
        f"Outlook keeps changing {', '.join(drifted)} of {where} ({DRIFT_REPEATS_PER_DAY} "
        "times in a day): Convene stopped sending its version back. Look for a rule, add-in "
        "or other tool changing the mailbox's events, then press Retry."
    )
    CalendarLink.objects.filter(pk=link.pk).update(
        state=LinkState.FAILING, last_error=reason, next_attempt_at=None
    )
    decide(link, "drift_repeating", reason, properties=drifted, **({"copy": part} if part else {}))


def follow_mode(link: CalendarLink, mode: str) -> None:
    """A link with no copy yet goes where the settings say now."""
    CalendarLink.objects.filter(pk=link.pk, graph_id="").update(mode=mode)
    link.mode = mode


# --- failed ----------------------------------------------------------------------------


def fail(link: CalendarLink, exc: MicrosoftError, *, permanent: bool) -> float:
    """Record the failure; returns the seconds until the next automatic attempt."""
    attempts = link.attempts + 1
    delay = 0.0
    next_attempt: datetime | None
    if permanent:
        # Only a new change to the event, or someone pressing "Retry", tries again.
        next_attempt = None
        state = LinkState.FAILING
    else:
        delay = backoff(attempts, getattr(exc, "retry_after", None))
        next_attempt = timezone.now() + timedelta(seconds=delay)
        # A hiccup is still "pending"; only repeated failures are worth a red badge.
        state = LinkState.FAILING if attempts >= 3 else LinkState.PENDING
    CalendarLink.objects.filter(pk=link.pk).update(
        state=state, attempts=attempts, next_attempt_at=next_attempt, last_error=str(exc)[:2000]
    )
    decide(
        link,
        "give_up" if permanent else "retry_later",
        str(exc),
        next_attempt=next_attempt.isoformat() if next_attempt else None,
    )
    return delay


def backoff(attempts: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    # Exponential with full jitter, so many failing events do not retry in lockstep.
    ceiling: float = min(MAX_BACKOFF_SECONDS, 2.0**attempts)
    return random.uniform(ceiling / 2, ceiling)


def wait_for_sending_limit(link: CalendarLink, reason: str, until: datetime) -> None:
    """Exchange's daily sending limit holds the event's messages back: not a failure (no
    attempt counted, no red badge), the sweep pushes it at ``until``. A copy not made yet may
    then go to another mailbox of the pool (nothing of it was sent)."""
    changes: dict[str, Any] = {
        "state": LinkState.PENDING,
        "next_attempt_at": until,
        "last_error": reason[:2000],
    }
    if not link.graph_id:
        changes["owner_mailbox"] = ""
    CalendarLink.objects.filter(pk=link.pk).update(**changes)
    decide(link, "wait_for_sending_limit", reason, next_attempt=until.isoformat())


# --- parked ----------------------------------------------------------------------------


def park(link: CalendarLink, reason: str) -> None:
    """Its organizer's authorization is gone: nothing is tried until they reconnect."""
    _mark(link, LinkState.WAITING_AUTHORIZATION, reason, decision="wait_for_authorization")


def needs_new_organizer(link: CalendarLink, reason: str) -> None:
    """Its organizer left: Convene never acts as them, an admin hands the event over."""
    _mark(link, LinkState.NEEDS_NEW_ORGANIZER, reason, decision="needs_new_organizer")


def park_leaver(links: QuerySet[CalendarLink], reason: str) -> int:
    """``needs_new_organizer`` for all of a deactivated organizer's ``links`` at once (the
    caller logs one decision for them all); returns how many."""
    return links.update(state=LinkState.NEEDS_NEW_ORGANIZER, last_error=reason, queued_at=None)


def unpark(user_id: int, parked_as: str) -> QuerySet[CalendarLink]:
    """The person's events parked as ``parked_as`` are pending again; returns them (to queue)."""
    parked = CalendarLink.objects.filter(state=parked_as, event__created_by_id=user_id)
    ids = list(parked.values_list("pk", flat=True))
    parked.update(state=LinkState.PENDING, next_attempt_at=timezone.now(), last_error="")
    return CalendarLink.objects.filter(pk__in=ids)


# --- deleted in Outlook, and publishing again -------------------------------------------


def deleted_in_outlook(link: CalendarLink) -> None:
    """Its copy was deleted in Outlook (found by a push, a notification or a delta read).
    Convene does not put it back on its own (that would invite everyone again); the organizer
    is told once, and may publish it again."""
    changed = (
        CalendarLink.objects.filter(pk=link.pk)
        .exclude(state=LinkState.DELETED_IN_OUTLOOK)
        .update(state=LinkState.DELETED_IN_OUTLOOK, last_error="Deleted in Outlook.")
    )
    if not changed:
        return
    decide(
        link,
        "deleted_in_outlook",
        "The Outlook copy was deleted in Outlook; it will not be re-created on its own.",
    )
    event = Event.objects.select_related("created_by").get(pk=link.event_id)
    tell_organizer(
        event,
        f"“{event.title}” was deleted from Outlook. Convene did not put it back (that "
        "would invite everyone again); open the event to publish it again.",
        "Deleted in Outlook",
    )


def copy_deleted_in_outlook(copy: OverflowCopy) -> None:
    """An overflow copy (``outbound.copies``) was deleted in Outlook (found by a push, a
    notification, a delta read or the daily reconcile). As for the own copy
    (``deleted_in_outlook``), Convene does not make it again on its own (that would invite its
    people again); the organizer is told once and may publish it again. The event's other
    copies go on being kept up to date meanwhile."""
    changed = OverflowCopy.objects.filter(pk=copy.pk, deleted_in_outlook_at__isnull=True).update(
        deleted_in_outlook_at=timezone.now()
    )
    if not changed:
        return
    link = CalendarLink.objects.get(pk=copy.link_id)
    people = CopySeat.objects.filter(event_id=link.event_id, part=copy.part).count()
    decide(
        link,
        "deleted_in_outlook",
        f"Overflow copy {copy.part} ({people} people) was deleted in Outlook; it will not be "
        "re-created on its own.",
        copy=copy.part,
        people=people,
    )
    event = Event.objects.select_related("created_by").get(pk=link.event_id)
    tell_organizer(
        event,
        f"One of the Outlook copies of “{event.title}” (overflow copy {copy.part}, {people} "
        "people) was deleted from Outlook. Convene did not put it back (that would invite them "
        "again); open the event to publish it again.",
        "Deleted in Outlook",
    )


def deleted_copies(link: CalendarLink) -> QuerySet[OverflowCopy]:
    """The link's overflow copies deleted in Outlook and not published again yet."""
    return OverflowCopy.objects.filter(link=link, deleted_in_outlook_at__isnull=False)


def can_publish_again(link: CalendarLink) -> bool:
    return (
        (link.state == LinkState.DELETED_IN_OUTLOOK or deleted_copies(link).exists())
        and not link.event.is_cancelled
        and link.event.end > timezone.now()
    )


def publish_again(link: CalendarLink, *, actor_id: int | None) -> bool:
    """A new Outlook copy of an event deleted there: a new generation, so a new transactionId
    and a fresh create (which invites everyone again). Overflow copies deleted there are made
    again the same way, inviting only their people again. False when it does not apply; the
    caller queues the sync."""
    if not can_publish_again(link):
        return False
    with transaction.atomic():
        own = CalendarLink.objects.filter(pk=link.pk, state=LinkState.DELETED_IN_OUTLOOK).update(
            **_without_copy(), desired_version=F("desired_version") + 1
        )
        parts = list(deleted_copies(link).values_list("part", flat=True))
        if parts:
            deleted_copies(link).update(
                graph_id="",
                change_key="",
                last_pushed={},
                synced_version=0,
                deleted_in_outlook_at=None,
            )
            if not own:
                # A new generation: the copies' new creates get transactionIds of their own.
                CalendarLink.objects.filter(pk=link.pk).update(
                    generation=F("generation") + 1,
                    desired_version=F("desired_version") + 1,
                    state=LinkState.PENDING,
                    next_attempt_at=timezone.now(),
                    behind_since=timezone.now(),
                )
    if not own and not parts:
        return False
    # The answers belonged to the deleted copy; the new invitation asks everyone again.
    replies = AttendeeReply.objects.filter(event_id=link.event_id)
    if not own:
        replies = replies.filter(
            user_id__in=CopySeat.objects.filter(event_id=link.event_id, part__in=parts).values(
                "user_id"
            )
        )
    replies.delete()
    record(
        LogKind.DECISION,
        "publish_again",
        message="Published again after it was deleted in Outlook"
        + (f" (overflow copies {', '.join(map(str, sorted(parts)))})" if parts else "")
        + ".",
        event_id=link.event_id,
        user_id=actor_id,
        mailbox=link.owner_mailbox,
        **({"copies": sorted(parts)} if parts else {}),
    )
    link.refresh_from_db()
    return True


# --- moved -----------------------------------------------------------------------------


def adopt_copy(
    link: CalendarLink, copy: dict[str, Any], mailbox: str, accepted: dict[str, Any]
) -> dict[str, Any]:
    """Take an Outlook copy found by Convene's own property (a create whose answer was lost had
    made it) as the link's copy; returns the fields saved, ``accepted`` being what the copy
    already holds, so the next request sends only what differs."""
    adopted = {
        "owner_mailbox": mailbox,
        "graph_id": str(copy["id"]),
        "ical_uid": str(copy.get("iCalUId", "")),
        "change_key": str(copy.get("changeKey", "")),
        "last_pushed": accepted,
    }
    for name, value in adopted.items():
        setattr(link, name, value)
    CalendarLink.objects.filter(pk=link.pk).update(**adopted)
    decide(
        link,
        "adopt_lost_create",
        "A create whose answer was lost had made the Outlook copy; Convene adopted it "
        "instead of creating a second one.",
        graph_id=adopted["graph_id"],
    )
    return adopted


def detach(link: CalendarLink, from_graph_id: str, mode: str) -> bool:
    """Point the link at another calendar (``mode``) with no copy yet, unless a sync holds
    it or its copy changed; the caller keeps the old copy's coordinates (``MoveStep``) in the
    same transaction."""
    now = timezone.now()
    return bool(
        CalendarLink.objects.filter(lease_free(now), pk=link.pk, graph_id=from_graph_id).update(
            **_without_copy(), mode=mode, owner_mailbox="", next_attempt_at=now
        )
    )


def reattach(link: CalendarLink, step: MoveStep) -> None:
    """The new calendar refused the event: it goes on living in the old one, as before."""
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


def _without_copy() -> dict[str, Any]:
    """``update()`` values that forget the Outlook copy so the next sync makes a new one.

    The new generation gives the new copy its own ``transactionId``: a retried create of the
    new copy returns it, and can never return the forgotten one.
    """
    return {
        "generation": F("generation") + 1,
        "graph_id": "",
        "ical_uid": "",
        "change_key": "",
        "last_pushed": {},
        "synced_version": 0,
        "state": LinkState.PENDING,
        "attempts": 0,
        "last_error": "",
        "behind_since": timezone.now(),
    }


# --- side effects ----------------------------------------------------------------------


def _mark(link: CalendarLink, state: str, reason: str, *, decision: str) -> None:
    CalendarLink.objects.filter(pk=link.pk).update(state=state, last_error=reason[:2000])
    decide(link, decision, reason)


def decide(link: CalendarLink, decision: str, message: str, **details: Any) -> None:
    """Write a decision about the link to the audit log."""
    record(
        LogKind.DECISION,
        decision,
        message=message,
        event_id=link.event_id,
        mailbox=link.owner_mailbox,
        **details,
    )


def tell_organizer(event: Event, text: str, subject: str) -> None:
    """A notice to the event's organizer, in the app and by email, linking to the event."""
    url = AppRegistration.from_settings().absolute(event.get_absolute_url())
    notify(event.created_by, text, url=url, email_subject=f"{subject}: {event.title}")
