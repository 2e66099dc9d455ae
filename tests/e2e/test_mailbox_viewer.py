"""The emulator's mailbox viewer reads like Outlook's calendar: a week grid with meetings on
their day and hour, today marked, answers shown, cancelled meetings struck through, and an
invitation that can be answered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from m365_emulator.graph.viewer import HOUR_PX

from .conftest import (
    ADA,
    ALAN,
    PASSWORD,
    Shot,
    World,
    axe_violations,
    copy_in,
    open_mailbox,
    send_meeting,
)

pytestmark = pytest.mark.e2e

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class Week:
    today: date
    url: str


def busy_week(world: World) -> Week:
    """Alan's week: meetings from Ada on several days, answered in every way, one cancelled,
    two overlapping today."""
    today = timezone.now().astimezone(BERLIN).date()
    monday = today - timedelta(days=today.weekday())

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)

    other_day = monday + timedelta(days=2 if today.weekday() != 2 else 3)
    send_meeting(world, ADA, "Stand-up", at(today, 9), 30, ALAN)
    send_meeting(world, ADA, "Design review", at(today, 9, 15), 90, ALAN)
    send_meeting(world, ADA, "Compilers reading group", at(other_day, 14), 60, ALAN)
    send_meeting(world, ADA, "Budget", at(other_day, 10), 60, ALAN)
    planning = send_meeting(world, ADA, "Quarterly planning", at(other_day, 16), 60, ALAN)
    for subject, answer in (
        ("Stand-up", "accept"),
        ("Compilers reading group", "tentativelyAccept"),
        ("Budget", "decline"),
    ):
        copy = copy_in(world, ALAN, subject)
        world.emulator.control(
            "POST", f"/mailboxes/{ALAN}/events/{copy['id']}/respond", {"response": answer}
        ).raise_for_status()
    world.emulator.control("DELETE", f"/mailboxes/{ADA}/events/{planning['id']}")
    return Week(today, f"{world.viewer(ALAN)}?week={today.isoformat()}&tz=Europe/Berlin")


def meeting(page: Page, subject: str) -> Locator:
    return page.locator(".week .ev", has_text=subject)


def column_of(page: Page, day: date) -> Locator:
    return page.locator(".week .day").nth(day.weekday())


def test_meetings_sit_on_their_day_and_hour_side_by_side_when_they_overlap(
    page: Page, world: World, shot: Shot
) -> None:
    week = busy_week(world)
    open_mailbox(page, week.url)
    shot(page, "mailbox-week", docs=True)
    today = column_of(page, week.today).bounding_box()
    stand_up = meeting(page, "Stand-up").bounding_box()
    review = meeting(page, "Design review").bounding_box()
    assert today and stand_up and review
    first_hour = int(page.locator(".hours div").first.inner_text()[:2])
    assert stand_up["y"] == pytest.approx(today["y"] + (9 - first_hour) * HOUR_PX, abs=2)
    assert stand_up["height"] == pytest.approx(HOUR_PX / 2, abs=2)
    assert review["y"] == pytest.approx(today["y"] + (9.25 - first_hour) * HOUR_PX, abs=2)
    for block in (stand_up, review):
        assert (
            today["x"] <= block["x"]
            and block["x"] + block["width"] <= today["x"] + today["width"] + 1
        )
    assert stand_up["x"] + stand_up["width"] <= review["x"] + 1  # side by side


def test_today_is_marked(page: Page, world: World) -> None:
    week = busy_week(world)
    open_mailbox(page, week.url)
    heads = page.locator(".week .dayhead")
    expect(heads.nth(week.today.weekday())).to_contain_text("Today")
    expect(page.locator(".week .dayhead.today")).to_have_count(1)


def test_each_meeting_shows_the_answer_and_a_cancelled_one_is_struck_through(
    page: Page, world: World
) -> None:
    open_mailbox(page, busy_week(world).url)
    for subject, status in (
        ("Stand-up", "Accepted"),
        ("Design review", "Not responded"),
        ("Compilers reading group", "Tentative"),
        ("Budget", "Declined"),
        ("Quarterly planning", "Canceled"),
    ):
        expect(meeting(page, subject)).to_contain_text(status)
    cancelled_title = meeting(page, "Quarterly planning").locator(".subj")
    expect(cancelled_title).to_have_css("text-decoration-line", "line-through")


def test_on_a_phone_the_week_is_a_list_of_days(page: Page, world: World, shot: Shot) -> None:
    week = busy_week(world)
    page.set_viewport_size({"width": 390, "height": 844})
    open_mailbox(page, week.url)
    expect(page.locator(".week")).to_be_hidden()
    today = page.locator(".daylist > li.today")
    expect(today).to_contain_text("Today")
    expect(today).to_contain_text("Stand-up")
    shot(page, "mailbox-week-phone")


def test_answering_an_invitation_updates_the_status_for_both_sides(
    page: Page, world: World, shot: Shot
) -> None:
    open_mailbox(page, busy_week(world).url)
    meeting(page, "Design review").click()
    expect(page.get_by_text("You have not answered this invitation yet.")).to_be_visible()
    shot(page, "mailbox-invitation")
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("status")).to_have_text("Your answer was recorded: Accepted.")
    organizer_copy = copy_in(world, ADA, "Design review")
    assert organizer_copy["attendees"][0]["status"]["response"] == "accepted"


def test_a_mailbox_asks_its_owner_to_sign_in_first(page: Page, world: World) -> None:
    """Issue 19: any page in the browser could answer for anyone; now a mailbox is its owner's,
    signed in on the viewer's own sign-in page, as in Outlook on the web."""
    week = busy_week(world)
    page.goto(week.url)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_value(ALAN)
    assert axe_violations(page) == []
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Your account or password is incorrect.")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(meeting(page, "Stand-up")).to_be_visible()
    assert page.url == week.url
