"""Convene's pages at phone and desktop size, and by keyboard: one navigation, a skip link,
a visible focus ring, errors next to their fields."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from .conftest import ADA, ALAN, PHONE, Shot, World

pytestmark = pytest.mark.e2e


def test_the_skip_link_is_the_first_stop_and_jumps_to_the_content(
    page: Page, world: World, sign_in: Callable[[Page, str], None]
) -> None:
    sign_in(page, ALAN)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_the_focused_control_has_a_visible_ring(
    page: Page, world: World, sign_in: Callable[[Page, str], None], shot: Shot
) -> None:
    sign_in(page, ALAN)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_text("Convene")
    expect(focused).to_have_css("outline-style", "solid")
    expect(focused).to_have_css("outline-width", "3px")
    shot(page, "keyboard-focus", full_page=False)


def test_on_a_phone_the_menu_opens_from_its_button(
    page: Page, world: World, sign_in: Callable[[Page, str], None], shot: Shot
) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, ADA)
    expect(page.get_by_role("link", name="My events")).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("link", name="My events")).to_be_visible()
    shot(page, "phone-menu", full_page=False)
    page.get_by_role("link", name="My events").click()
    expect(page.get_by_role("heading", name="My events")).to_be_visible()


@pytest.mark.parametrize(
    "viewport", [{"width": 390, "height": 844}, {"width": 1280, "height": 800}]
)
def test_pages_fit_the_screen_without_sideways_scrolling(
    viewport: dict[str, int], page: Page, world: World, sign_in: Callable[[Page, str], None]
) -> None:
    page.set_viewport_size(viewport)
    sign_in(page, ADA)
    for path in ("/", "/my-events/", "/events/new/", "/accounts/profile/", "/outlook/"):
        page.goto(world.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {viewport}"


def test_a_refused_form_lists_the_problems_and_shows_each_next_to_its_field(
    page: Page, world: World, sign_in: Callable[[Page, str], None], shot: Shot
) -> None:
    sign_in(page, ADA)
    page.goto(f"{world.url}/events/new/")
    page.get_by_label("Title").fill("Design review")
    page.get_by_label("Starts").fill("2030-03-05T10:00")
    page.get_by_label("Ends").fill("2030-03-05T09:00")
    page.get_by_role("button", name="Create event").click()

    summary = page.locator("#form-problems")
    expect(summary).to_contain_text("One field needs your attention")
    expect(summary).to_contain_text("Ends: The event must end after it starts.")
    ends = page.get_by_label("Ends")
    expect(ends).to_have_attribute("aria-invalid", "true")
    expect(ends).to_have_accessible_description("The event must end after it starts.")
    expect(page.get_by_label("Title")).to_have_value("Design review")
    shot(page, "form-errors")
    summary.get_by_role("link", name="Ends").click()
    expect(ends).to_be_focused()
