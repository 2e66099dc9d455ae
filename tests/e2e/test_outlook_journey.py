"""The Outlook integration as people use it, in a real browser: the admin switches it on, an
organizer signs in with Microsoft while creating an event, attendees find it in Outlook."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from convene.outlook.models import Mode, OutlookSettings

from .conftest import ADMIN, Shot, World

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
