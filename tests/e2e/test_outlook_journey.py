"""The Outlook integration as people use it, in a real browser: the admin switches it on, an
organizer signs in with Microsoft while creating an event, attendees find it in Outlook."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from tests.world import event_details

from convene.core.templatetags.convene_tags import zoned
from convene.events import services
from convene.events.models import Event
from convene.outlook import tasks
from convene.outlook.models import AttendeeReply, Mode, OutlookSettings, Subscription

from .conftest import (
    ADA,
    ADMIN,
    ALAN,
    Shot,
    World,
    connect_outlook,
    microsoft_sign_in,
    next_weekday,
    open_mailbox,
    reload_until_visible,
    wait_until,
)

pytestmark = pytest.mark.e2e


def test_admin_turns_outlook_sync_on_in_organizer_mode(
    page: Page, world: World, sign_in: Callable[[Page, str], None], shot: Shot
) -> None:
    sign_in(page, ADMIN)
    page.get_by_role("button", name="Admin", exact=True).click()
    shot(page, "admin-menu", full_page=False)
    page.get_by_role("link", name="Microsoft Outlook").click()
    expect(page.get_by_role("heading", name="Microsoft Outlook")).to_be_visible()
    shot(page, "outlook-settings-off")

    page.get_by_label("Sync events to Outlook").check()
    page.get_by_label("Organizer calendars").check()
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status").filter(has_text="Outlook sync: off → on")).to_be_visible()
    expect(page.get_by_label("Sync events to Outlook")).to_be_checked()
    shot(page, "outlook-settings-on", docs=True)
    outlook = OutlookSettings.load()
    assert outlook.enabled and outlook.mode == Mode.ORGANIZER


SignIn = Callable[[Page, str], None]


def switch_outlook_on() -> None:
    OutlookSettings.objects.update_or_create(
        pk=1, defaults={"enabled": True, "mode": Mode.ORGANIZER}
    )


def test_organizer_signs_in_with_microsoft_while_creating_an_event_and_sees_it_synced(
    page: Page, world: World, worker: None, sign_in: Callable[[Page, str], None], shot: Shot
) -> None:
    switch_outlook_on()
    start = next_weekday(1, 10, "Europe/Berlin")
    sign_in(page, ADA)
    page.get_by_role("link", name="New event").first.click()
    page.get_by_label("Title").fill("Design review")
    page.get_by_label("Description").fill("We walk through the new sign-up flow.")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_label("Starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Ends").fill((start + timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Location").fill("Room 4.12, Berlin office")
    shot(page, "event-form-filled")
    page.get_by_role("button", name="Create event").click()

    page.wait_for_url(f"{world.emulator.ui_url}/**")
    microsoft_sign_in(page, ADA, shot=shot, docs=True)

    page.wait_for_url(re.compile(r"/events/new/\?draft="))
    expect(page.get_by_text(f"Outlook connected as {ADA}.")).to_be_visible()
    expect(page.get_by_text("Your changes were kept.")).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("Design review")
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    expect(page.get_by_label("Starts")).to_have_value(start.strftime("%Y-%m-%dT%H:%M"))
    shot(page, "event-form-kept", docs=True)
    page.get_by_role("button", name="Create event").click()

    expect(page.get_by_text("“Design review” is scheduled.")).to_be_visible()
    reload_until_visible(page, "Synced to Outlook")
    when = f"10:00 \N{EN DASH} 11:30 {start.tzname()} (Europe/Berlin)"
    expect(page.get_by_text(when).first).to_be_visible()
    badge = page.get_by_text("Synced to Outlook", exact=True)
    expect(badge).to_have_accessible_description(
        re.compile(f"^Outlook has the latest version .* in the calendar of {ADA}")
    )
    shot(page, "event-synced", docs=True)
    [copy] = world.mailbox(ADA)
    assert copy["subject"] == "Design review"
    utc_start = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    assert copy["start"]["dateTime"].startswith(utc_start)


def ada_connected_with_an_event(page: Page, world: World, sign_in: SignIn) -> Event:
    """Outlook on, Ada connected through Microsoft's pages, one event of hers in Outlook."""
    switch_outlook_on()
    connect_outlook(page, world, sign_in, ADA)
    start = next_weekday(2, 14, "Europe/Berlin")
    event = services.create_event(
        event_details(
            "Compilers reading group",
            start,
            description="Chapter 4: parsing.",
            location="Library, 2nd floor",
        ),
        creator=world.people[ADA],
    )
    wait_until(lambda: world.mailbox(ADA))
    # Outlook holds the event a moment before Convene has saved the answer (the watched
    # mailboxes, e.g., are those Convene knows hold an event).
    world.wait_synced(event.pk)
    return event


def alan_enrolls(alan: Page, world: World, sign_in: SignIn, event: Event, shot: Shot) -> None:
    sign_in(alan, ALAN)
    alan.goto(world.url + event.get_absolute_url())
    alan.get_by_role("button", name="Enroll").click()
    expect(alan.get_by_text("You are enrolled in “Compilers reading group”.")).to_be_visible()
    shot(alan, "attendee-enrolled")
    wait_until(lambda: world.mailbox(ALAN))


def test_attendee_who_enrolls_finds_the_invitation_in_their_outlook_calendar(
    page: Page,
    new_context: Callable[..., BrowserContext],
    world: World,
    worker: None,
    sign_in: SignIn,
    shot: Shot,
) -> None:
    event = ada_connected_with_an_event(page, world, sign_in)
    alan = new_context().new_page()
    alan_enrolls(alan, world, sign_in, event, shot)

    open_mailbox(alan, world.viewer(ALAN))
    invitation = alan.locator(".week .ev", has_text="Compilers reading group")
    expect(invitation).to_contain_text("Not responded")
    shot(alan, "outlook-week-with-invitation")
    invitation.click()
    expect(alan.get_by_role("heading", name="Compilers reading group")).to_be_visible()
    for answer in ("Accept", "Tentative", "Decline"):
        expect(alan.get_by_role("button", name=answer)).to_be_visible()
    shot(alan, "outlook-invitation", docs=True)


def test_attendee_who_declines_in_outlook_is_unenrolled_and_the_organizer_sees_it(
    page: Page,
    new_context: Callable[..., BrowserContext],
    world: World,
    worker: None,
    sign_in: SignIn,
    shot: Shot,
) -> None:
    event = ada_connected_with_an_event(page, world, sign_in)
    tasks.maintain_subscriptions_task()  # the periodic job: subscribe to Ada's calendar
    wait_until(lambda: Subscription.objects.filter(mailbox=ADA).exists())
    alan = new_context().new_page()
    alan_enrolls(alan, world, sign_in, event, shot)

    open_mailbox(alan, world.viewer(ALAN))
    alan.locator(".week .ev", has_text="Compilers reading group").click()
    alan.get_by_role("button", name="Decline").click()
    expect(alan.get_by_role("status")).to_have_text("Your answer was recorded: Declined.")
    shot(alan, "outlook-declined")

    alan.goto(world.url + event.get_absolute_url())
    reload_until_visible(alan, "Enroll")
    shot(alan, "attendee-unenrolled")
    page.goto(world.url + event.get_absolute_url())
    replies = page.locator(".outlook-replies")
    expect(replies).to_contain_text("Alan Turing")
    expect(replies).to_contain_text("Declined")
    answered = AttendeeReply.objects.get(event=event, email=ALAN).responded_at
    expect(replies).to_contain_text(f"Alan Turing · {zoned(answered, 'Europe/Berlin')}")
    expect(replies.locator("time")).to_contain_text(re.compile(r"\d\d:\d\d CES?T$"))
    shot(page, "organizer-sees-decline", docs=True)
