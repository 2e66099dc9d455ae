"""A series from the organizer's form to an attendee's Outlook: the organizer creates a weekly
series (previewing its sessions), moves one session and cancels another; the attendee's
mailbox viewer shows the series with the exception, no meeting where the cancelled session
was, and its cancellation in the inbox."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from convene.events import series, services
from convene.events.models import Event

from .conftest import (
    ADA,
    ALAN,
    Shot,
    World,
    connect_outlook,
    next_weekday,
    open_mailbox,
    wait_until,
)
from .test_outlook_journey import switch_outlook_on

pytestmark = pytest.mark.e2e


def test_organizer_moves_one_session_and_cancels_another_and_the_attendee_sees_both(
    page: Page, world: World, worker: None, sign_in: Callable[[Page, str], None], shot: Shot
) -> None:
    switch_outlook_on()
    connect_outlook(page, world, sign_in, ADA)
    start = next_weekday(1, 10, "Europe/Berlin")  # a Tuesday at 10:00

    page.goto(f"{world.url}/events/new/")
    page.get_by_label("Title").fill("Compilers course")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_label("Starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Ends").fill((start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Location").fill("Room 1")
    page.get_by_label("Repeats").select_option("weekly")
    page.get_by_label("Tuesday").check()
    page.get_by_label("Sessions").fill("4")
    page.get_by_role("button", name="Preview sessions").click()
    preview = page.locator("#series-preview")
    expect(preview).to_contain_text("Every week on Tuesday at 10:00, 4 sessions")
    expect(preview.locator("li")).to_have_count(4)
    shot(page, "series-preview")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_text("“Compilers course” is scheduled.")).to_be_visible()
    event = Event.objects.get(title="Compilers course")
    services.enroll(event, world.people[ALAN], actor=None)
    sessions = series.sessions(event)

    # move the second session to 16:00 in another room
    page.goto(world.url + event.get_absolute_url())
    page.locator(f"#session-{sessions[1].on.isoformat()}").get_by_role(
        "link", name="Change or cancel"
    ).click()
    second_day = sessions[1].on.isoformat()
    page.get_by_label("Starts").fill(f"{second_day}T16:00")
    page.get_by_label("Ends").fill(f"{second_day}T17:00")
    page.get_by_label("Location").fill("Lab 3")
    page.get_by_role("button", name="Save this session").click()
    expect(page.get_by_text("Session 2 saved.")).to_be_visible()

    # cancel the third, with a message
    page.locator(f"#session-{sessions[2].on.isoformat()}").get_by_role(
        "link", name="Change or cancel"
    ).click()
    page.get_by_label("Message to the people on this series").fill("Public holiday")
    page.get_by_role("button", name="Cancel session 3").click()
    expect(page.get_by_text("Session 3 is cancelled.")).to_be_visible()
    listed = page.locator("#sessions")
    expect(listed.locator(".session.is-cancelled")).to_contain_text("Public holiday")
    expect(listed).to_contain_text("Lab 3")
    shot(page, "series-event-page")

    def alan_has_the_cancellation() -> bool:
        messages = world.emulator.control("GET", f"/mailboxes/{ALAN}/messages").json()
        return any(m["meetingMessageType"] == "meetingCancelled" for m in messages["value"])

    wait_until(alan_has_the_cancellation)
    alan = page.context.browser.new_context().new_page()  # type: ignore[union-attr]
    week = f"{world.viewer(ALAN)}?tz=Europe/Berlin&week="
    open_mailbox(alan, week + second_day)
    moved = alan.locator(".week .ev", has_text="Compilers course")
    expect(moved).to_have_count(1)
    expect(moved).to_contain_text(re.compile(r"16:00.17:00 · Lab 3"))
    shot(alan, "series-exception-in-outlook")
    alan.goto(week + sessions[2].on.isoformat())
    expect(alan.locator(".week .ev", has_text="Compilers course")).to_have_count(0)
    alan.goto(week + sessions[3].on.isoformat())
    expect(alan.locator(".week .ev", has_text="Compilers course")).to_contain_text(
        re.compile(r"10:00.11:00 · Room 1")
    )
    alan.goto(f"{world.viewer(ALAN)}/inbox")
    expect(alan.get_by_text("Public holiday")).to_be_visible()
    shot(alan, "series-cancellation-in-inbox")
