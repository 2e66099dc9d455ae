"""Platform calendar mode as people use it, in a real browser: the admin tests the service
mailbox, grants admin consent on Microsoft's page, switches mode and watches the existing event
move; then a new event's attendees find it in Outlook, sent from the service mailbox."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from convene.events import services
from convene.outlook.models import CalendarLink, Mode, OutlookSettings

from .conftest import (
    ADA,
    ADMIN,
    ALAN,
    EDSGER,
    PLATFORM_ADMIN,
    PLATFORM_DOMAIN,
    SERVICE_MAILBOX,
    Shot,
    World,
    microsoft_sign_in,
    next_weekday,
    open_mailbox,
    reload_until_visible,
)
from .test_outlook_journey import SignIn, ada_connected_with_an_event

pytestmark = pytest.mark.e2e


def admin_switches_to_the_platform_calendar(admin: Page, world: World, shot: Shot) -> None:
    """Through the settings page: Test connection, admin consent, Test again, switch, move."""
    admin.goto(f"{world.url}/outlook/admin/")
    admin.get_by_label("Service mailbox").fill(SERVICE_MAILBOX)
    admin.get_by_role("button", name="Test connection").click()
    result = admin.locator("#test-connection-result")
    expect(result).to_contain_text(f"No admin consent in tenant {PLATFORM_DOMAIN}")
    shot(admin, "test-connection-needs-consent")

    admin.get_by_role("button", name=f"Grant admin consent in {PLATFORM_DOMAIN}").click()
    admin.wait_for_url(f"{world.emulator.ui_url}/**")
    microsoft_sign_in(admin, PLATFORM_ADMIN, shot=shot, name="admin-consent")
    shot(admin, "consent-granted")
    expect(admin.get_by_text(f"Admin consent granted in tenant {PLATFORM_DOMAIN}.")).to_be_visible()
    expect(admin.get_by_label("Service mailbox")).to_have_value(SERVICE_MAILBOX)
    expect(admin.get_by_label("Platform tenant (optional)")).to_have_value("")

    admin.get_by_role("button", name="Test connection").click()
    expect(result.get_by_role("heading", name="Connection works")).to_be_visible()
    expect(result).to_contain_text("can write to it")
    shot(admin, "platform-test-connection")

    admin.get_by_label("Platform calendar").check()
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("heading", name="Move events to")).to_contain_text(SERVICE_MAILBOX)
    expect(admin.locator("#moving-count")).to_have_text("1")
    expect(admin.locator("#people-count")).to_have_text("2")  # Ada and Alan
    shot(admin, "platform-switch-preview", docs=True)
    # Outlook answers the move slowly, so the progress page opens while it is under way.
    world.emulator.control(
        "POST",
        "/faults",
        {"rules": [{"action": "delay", "delayMs": 3000, "mailbox": SERVICE_MAILBOX, "count": 1}]},
    ).raise_for_status()
    admin.get_by_role("button", name="Switch and move 1 event").click()

    # The progress page updates itself (htmx) while the worker moves the event: the mark set
    # on the page before would be gone after a reload.
    expect(admin.locator("#job-state")).to_have_text(re.compile("Queued|Running"))
    admin.evaluate("window.stillTheSamePage = true")
    expect(admin.locator("#job-state")).to_have_text("Done", timeout=30_000)
    expect(admin.locator("#job-progress")).to_contain_text("1 of 1 event moved")
    assert admin.evaluate("window.stillTheSamePage === true"), "the page was reloaded"
    expect(admin.get_by_text("Updates itself every 2 seconds")).to_have_count(0)
    shot(admin, "platform-switch-done")
    outlook = OutlookSettings.load()
    assert (outlook.mode, outlook.service_mailbox) == (Mode.PLATFORM, SERVICE_MAILBOX)


def test_admin_switches_to_the_platform_calendar_and_attendees_are_invited_from_its_mailbox(
    page: Page,
    new_context: Callable[..., BrowserContext],
    world: World,
    worker: None,
    sign_in: SignIn,
    shot: Shot,
) -> None:
    moving = ada_connected_with_an_event(page, world, sign_in)  # in Ada's own calendar
    services.enroll(moving, world.people[ALAN], actor=world.people[ALAN])
    admin = new_context().new_page()
    sign_in(admin, ADMIN)
    admin_switches_to_the_platform_calendar(admin, world, shot)

    # Ada creates an event and adds attendees; nobody signs in with Microsoft any more.
    start = next_weekday(3, 16, "Europe/Berlin")
    page.goto(f"{world.url}/events/new/")
    page.get_by_label("Title").fill("Platform launch")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_label("Starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Ends").fill((start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Location").fill("Main hall")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_text("“Platform launch” is scheduled.")).to_be_visible()
    page.get_by_role("link", name="Manage people").click()
    for email in (ALAN, EDSGER):
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Add").click()
        expect(page.locator("table")).to_contain_text(email)
    page.get_by_role("link", name="Back to the event").click()
    reload_until_visible(page, "Synced to Outlook")
    shot(page, "platform-event-synced")
    [launch] = [e for e in world.mailbox(SERVICE_MAILBOX) if e["subject"] == "Platform launch"]
    invited = {a["emailAddress"]["address"] for a in launch["attendees"]}
    assert invited == {ADA, ALAN, EDSGER}, "synced means everyone is invited already"

    # Alan's Outlook: the new event and the moved one, both from the service mailbox.
    alan = new_context().new_page()
    open_mailbox(alan, f"{world.viewer(ALAN)}?week={start.date().isoformat()}&tz=Europe/Berlin")
    invitation = alan.locator(".week .ev", has_text="Platform launch")
    expect(invitation).to_contain_text("from Convene Events")
    shot(alan, "platform-week", docs=True)
    invitation.click()
    organizer = alan.get_by_role("row", name="Organizer")
    expect(organizer).to_contain_text(f"Convene Events <{SERVICE_MAILBOX}>")
    expect(alan.get_by_role("button", name="Accept")).to_be_visible()
    shot(alan, "platform-invitation")

    for email in (ALAN, EDSGER):
        [copy] = [e for e in world.mailbox(email) if e["subject"] == "Platform launch"]
        assert copy["organizer"]["emailAddress"]["address"] == SERVICE_MAILBOX
    alan_copies = {
        (e["organizer"]["emailAddress"]["address"], e["isCancelled"])
        for e in world.mailbox(ALAN)
        if e["subject"].endswith(moving.title)
    }
    assert alan_copies == {(ADA, True), (SERVICE_MAILBOX, False)}  # moved, old copy cancelled
    assert CalendarLink.objects.get(event=moving).owner_mailbox == SERVICE_MAILBOX
