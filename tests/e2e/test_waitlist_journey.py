"""A full event's waitlist in a real browser: someone joins it, an attendee declines in
Outlook (the mailbox viewer), and the person waiting finds the invitation in their calendar."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from tests.world import event_details

from convene.events import services
from convene.outlook import tasks
from convene.outlook.models import Mode, OutlookSettings, Subscription

from .conftest import (
    ADA,
    ALAN,
    EDSGER,
    Shot,
    World,
    connect_outlook,
    next_weekday,
    open_mailbox,
    reload_until_visible,
    wait_until,
)

pytestmark = pytest.mark.e2e

SignIn = Callable[[Page, str], None]


def test_a_decline_in_outlook_gives_the_place_to_the_person_waiting(
    page: Page,
    new_context: Callable[..., BrowserContext],
    world: World,
    worker: None,
    sign_in: SignIn,
    shot: Shot,
) -> None:
    OutlookSettings.objects.update_or_create(
        pk=1, defaults={"enabled": True, "mode": Mode.ORGANIZER, "unenroll_on_decline": True}
    )
    connect_outlook(page, world, sign_in, ADA)
    start = next_weekday(3, 15, "Europe/Berlin")
    event = services.create_event(
        event_details(
            "Lambda calculus workshop",
            start,
            hours=2,
            location="Lab 3",
            capacity=1,
            waitlist_enabled=True,
        ),
        creator=world.people[ADA],
    )
    services.enroll(event, world.people[ALAN], actor=None)
    wait_until(lambda: world.mailbox(ALAN))
    # Outlook holds the event (and Alan his invitation) a moment before Convene has saved
    # the answer; the subscription is for mailboxes Convene knows hold an event.
    world.wait_synced(event.pk)
    tasks.maintain_subscriptions_task()  # the periodic job: subscribe to Ada's calendar
    wait_until(lambda: Subscription.objects.filter(mailbox=ADA).exists())

    edsger = new_context().new_page()
    sign_in(edsger, EDSGER)
    edsger.goto(world.url + event.get_absolute_url())
    expect(edsger.get_by_text("This event is full: all places (1) are taken.")).to_be_visible()
    edsger.get_by_role("button", name="Join the waitlist").click()
    expect(
        edsger.get_by_text("You are on the waitlist of “Lambda calculus workshop”, number 1.")
    ).to_be_visible()
    expect(edsger.locator(".waitlist-position")).to_have_text("number 1")
    shot(edsger, "waitlist-joined", docs=True)

    page.goto(f"{world.url}/events/{event.pk}/people/")
    expect(page.locator("#waitlist")).to_contain_text("Edsger Dijkstra")
    shot(page, "waitlist-organizer")

    alan = new_context().new_page()
    open_mailbox(alan, world.viewer(ALAN))
    alan.locator(".week .ev", has_text="Lambda calculus workshop").click()
    alan.get_by_role("button", name="Decline").click()
    expect(alan.get_by_role("status")).to_have_text("Your answer was recorded: Declined.")

    reload_until_visible(edsger, "attendee")
    expect(edsger.get_by_text("You are on this event as attendee.")).to_be_visible()
    shot(edsger, "waitlist-promoted")
    open_mailbox(edsger, world.viewer(EDSGER))
    invitation = edsger.locator(".week .ev", has_text="Lambda calculus workshop")
    expect(invitation).to_contain_text("Not responded")
    shot(edsger, "waitlist-invitation-in-outlook", docs=True)
