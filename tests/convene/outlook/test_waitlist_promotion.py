"""A freed place reaches the first person waiting and Outlook invites them through the normal
sync: after a decline in Outlook (real notifications to the webhook, the worker running), a hand
promotion, a raised capacity, and an offer that expires. People waiting are never attendees."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from convene.core.models import Notice, SiteSettings
from convene.events import services, waitlist
from convene.events.models import Event
from convene.outlook.models import CalendarLink

from .conftest import OutlookWorld
from .test_replies_world import (
    ADA,
    ALAN,
    BARBARA,
    EDSGER,
    GRACE,
    is_enrolled,
    live,
    organizer_copy,
    respond,
    settle,
    subscribe,
)

__all__ = ["live"]


def full_event(world: OutlookWorld, attendee: str, *waiting: str) -> Event:
    """Ada's event for one attendee, synced, with ``waiting`` on its waitlist in that order."""
    start = timezone.now() + timedelta(days=7)
    event = services.create_event(
        services.EventDetails(
            title="Type theory seminar",
            start=start,
            end=start + timedelta(hours=2),
            timezone="Europe/Berlin",
            capacity=1,
            waitlist_enabled=True,
        ),
        creator=world.people[ADA],
    )
    services.enroll(event, world.people[attendee], actor=None)
    for email in waiting:
        waitlist.join(event, world.people[email], actor=world.people[email])
    world.wait_synced(event.pk)
    return event


def invited(world: OutlookWorld, email: str, event: Event) -> bool:
    """That person has the event, not cancelled, in their Outlook calendar."""
    link = CalendarLink.objects.get(event=event)
    return any(
        e["iCalUId"] == link.ical_uid and not e.get("isCancelled") for e in world.mailbox(email)
    )


def outlook_attendees(world: OutlookWorld, event: Event) -> set[str]:
    return {a["emailAddress"]["address"] for a in organizer_copy(world, event)["attendees"]}


def test_a_decline_in_outlook_gives_the_place_to_the_first_person_waiting(
    live: OutlookWorld, mailoutbox: list[Any]
) -> None:
    event = full_event(live, ALAN, EDSGER, GRACE)
    subscribe(live)
    # Waiting is not attending: nobody waiting is on the Outlook meeting.
    assert outlook_attendees(live, event) == {ALAN}
    assert not invited(live, EDSGER, event)

    respond(live, ALAN, event, "decline", comment="Sorry, I cannot make it")

    live.wait_until(lambda: is_enrolled(event, EDSGER), timeout=10)
    settle(live, event)
    assert outlook_attendees(live, event) == {EDSGER}
    assert invited(live, EDSGER, event)
    assert not invited(live, ALAN, event)
    assert not invited(live, GRACE, event)
    assert [e.user.email for e in waitlist.waiting(event)] == [GRACE]
    notice = Notice.objects.get(user=live.people[EDSGER])
    assert "You have a place" in notice.text
    assert any(EDSGER in m.to and "You have a place" in m.subject for m in mailoutbox)
    told = Notice.objects.get(user=live.people[ADA]).text
    assert "Edsger Dijkstra, first on the waitlist, has their place" in told


def test_a_hand_promotion_invites_the_person_in_outlook(live: OutlookWorld) -> None:
    event = full_event(live, ALAN, EDSGER, GRACE)

    promotion = waitlist.promote(event, live.people[GRACE], actor=live.people[ADA])

    assert promotion.capacity_raised_to == 2
    settle(live, event)
    assert outlook_attendees(live, event) == {ALAN, GRACE}
    assert invited(live, GRACE, event) and not invited(live, EDSGER, event)


def test_a_raised_capacity_invites_the_people_waiting_in_order(live: OutlookWorld) -> None:
    event = full_event(live, ALAN, EDSGER, GRACE, BARBARA)
    details = services.EventDetails(**{**vars(services.EventDetails.of(event)), "capacity": 3})

    services.update_event(event, details, actor=live.people[ADA])

    settle(live, event)
    assert outlook_attendees(live, event) == {ALAN, EDSGER, GRACE}
    assert invited(live, GRACE, event) and not invited(live, BARBARA, event)


def test_an_unclaimed_offer_moves_on_and_only_the_claimer_is_invited(live: OutlookWorld) -> None:
    site = SiteSettings.load()
    site.waitlist_claim_hours = 24
    site.save()
    event = full_event(live, ALAN, EDSGER, GRACE)
    subscribe(live)

    respond(live, ALAN, event, "decline")

    live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)
    settle(live, event)
    # Offered, not enrolled: the place is held, nobody new is on the meeting yet.
    assert outlook_attendees(live, event) == set()
    offer = waitlist.entry_of(event, live.people[EDSGER])
    assert offer is not None and waitlist.has_open_offer(offer)

    assert waitlist.expire_offers(timezone.now() + timedelta(hours=24, seconds=1)) == 1
    waitlist.claim(event, live.people[GRACE], actor=live.people[GRACE])

    settle(live, event)
    assert outlook_attendees(live, event) == {GRACE}
    assert invited(live, GRACE, event)
    assert not invited(live, EDSGER, event)
    assert waitlist.waiting(event) == []
