"""Places freed at the same moment, on PostgreSQL, by threads with their own connections
(as workers and web processes have): two places freed at once, a decline in Outlook arriving
while an organizer promotes by hand, two workers reconciling the declines of one event. Never
more attendees than the capacity, nobody promoted twice, nobody skipped; and Outlook invites
exactly the people Convene enrolled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from convene.accounts.models import User
from convene.events import services, waitlist
from convene.events.models import EnrollmentRole, Event, WaitlistPromotion
from convene.outlook import tasks
from convene.outlook.answers import apply_replies
from convene.outlook.inbound.reconcile import reconcile
from convene.outlook.models import CalendarLink, OutlookSettings

from ..conftest import OutlookWorld
from ..test_replies_world import (
    ADA,
    ALAN,
    BARBARA,
    EDSGER,
    GRACE,
    organizer_copy,
    respond,
    settle,
)

ROUNDS = 8


def at_once(*work: Callable[[], Any]) -> list[BaseException]:
    """Run each callable on its own thread (its own database connection), released together;
    returns what they raised."""
    start = threading.Barrier(len(work))
    failures: list[BaseException] = []

    def run(job: Callable[[], Any]) -> None:
        try:
            start.wait()
            job()
        except BaseException as problem:
            failures.append(problem)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return failures


def attendees(event: Event) -> list[str]:
    return sorted(
        event.enrollments.filter(role=EnrollmentRole.ATTENDEE).values_list("user__email", flat=True)
    )


def waiting(event: Event) -> list[str]:
    return [e.user.email for e in waitlist.waiting(event)]


def make_full_event(
    organizer: User, capacity: int, enrolled: list[User], waiting_people: list[User]
) -> Event:
    start = timezone.now() + timedelta(days=7)
    event = services.create_event(
        services.EventDetails(
            title="Race night",
            start=start,
            end=start + timedelta(hours=1),
            timezone="Europe/Berlin",
            capacity=capacity,
            waitlist_enabled=True,
        ),
        creator=organizer,
    )
    for person in enrolled:
        services.enroll(event, person, actor=None)
    for person in waiting_people:
        waitlist.join(event, person, actor=person)
    return event


def outlook_attendees(world: OutlookWorld, event: Event) -> list[str]:
    return sorted(a["emailAddress"]["address"] for a in organizer_copy(world, event)["attendees"])


def test_two_places_freed_at_once_go_to_the_first_two_people_waiting(
    outlook_without_worker: OutlookWorld,
) -> None:
    world = outlook_without_worker
    OutlookSettings.objects.filter(pk=1).update(enabled=False)  # Convene alone, many rounds
    people = world.people
    for _ in range(ROUNDS):
        event = make_full_event(
            people[ADA], 2, [people[ALAN], people[EDSGER]], [people[GRACE], people[BARBARA]]
        )
        failures = at_once(
            lambda e=event: services.unenroll(e, people[ALAN], actor=None),
            lambda e=event: services.unenroll(e, people[EDSGER], actor=None),
        )
        assert failures == []
        assert attendees(event) == sorted([GRACE, BARBARA])
        assert waiting(event) == []
        assert WaitlistPromotion.objects.filter(event=event).count() == 2


def test_a_decline_while_an_organizer_promotes_by_hand(outlook: OutlookWorld) -> None:
    """Whichever runs first, the freed place and the hand promotion give exactly one place
    each: the first person waiting gets the freed one, the chosen person the added one."""
    outlook.connect(ADA)
    OutlookSettings.objects.filter(pk=1).update(unenroll_on_decline=True)
    people = outlook.people
    event = make_full_event(people[ADA], 1, [people[ALAN]], [people[EDSGER], people[GRACE]])
    outlook.wait_synced(event.pk)
    respond(outlook, ALAN, event, "decline", comment="Sorry, I cannot make it")
    link = CalendarLink.objects.get(event=event)

    def worker_reconciles() -> None:
        while not reconcile(ADA, link.graph_id, tasks.enqueue_sync):
            time.sleep(0.01)

    failures = at_once(
        worker_reconciles,
        lambda: waitlist.promote(event, people[GRACE], actor=people[ADA]),
    )

    assert failures == []
    event.refresh_from_db()
    assert event.capacity == 2
    assert attendees(event) == sorted([EDSGER, GRACE])
    assert waiting(event) == []
    assert sorted(WaitlistPromotion.objects.filter(event=event).values_list("how", flat=True)) == [
        "automatic",
        "by_hand",
    ]
    settle(outlook, event)
    assert outlook_attendees(outlook, event) == sorted([EDSGER, GRACE])


def test_two_workers_reconciling_the_declines_of_one_event(outlook: OutlookWorld) -> None:
    """Two attendees decline; two workers read the event at once, each seeing both declines:
    each decline is acted on once, and the two places go to the first two people waiting."""
    outlook.connect(ADA)
    OutlookSettings.objects.filter(pk=1).update(unenroll_on_decline=True)
    people = outlook.people
    event = make_full_event(
        people[ADA], 2, [people[ALAN], people[EDSGER]], [people[GRACE], people[BARBARA]]
    )
    outlook.wait_synced(event.pk)
    respond(outlook, ALAN, event, "decline")
    respond(outlook, EDSGER, event, "decline", comment="Sorry, I cannot make it")
    copy = organizer_copy(outlook, event)
    settings = OutlookSettings.load()

    failures = at_once(
        *(lambda: apply_replies(Event.objects.get(pk=event.pk), copy, ADA, settings),) * 3
    )

    assert failures == []
    assert attendees(event) == sorted([GRACE, BARBARA])
    assert waiting(event) == []
    promoted = list(WaitlistPromotion.objects.filter(event=event).values_list("user__email"))
    assert sorted(promoted) == sorted([(GRACE,), (BARBARA,)])
    settle(outlook, event)
    assert outlook_attendees(outlook, event) == sorted([GRACE, BARBARA])
