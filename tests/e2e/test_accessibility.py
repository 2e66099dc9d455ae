"""Every main page, at phone and desktop size, passes axe-core with no serious or critical
finding (axe-core from npm, run inside Chromium)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Page

from convene.events import services
from convene.events.models import Event
from convene.outlook.models import OutlookSettings

from .conftest import (
    ADA,
    ADMIN,
    ALAN,
    DESKTOP,
    EDSGER,
    GRACE,
    PHONE,
    Shot,
    World,
    axe_violations,
    copy_in,
    next_weekday,
)
from .test_mailbox_viewer import busy_week

pytestmark = pytest.mark.e2e


@dataclass
class Scene:
    review: Event
    reading_group: Event
    planning: Event


def build_scene(world: World) -> Scene:
    """A few events of every kind, made through the services as people would."""
    OutlookSettings.objects.update_or_create(pk=1, defaults={"enabled": True})
    ada, grace = world.people[ADA], world.people[GRACE]
    start = next_weekday(1, 10, "Europe/Berlin")
    review = services.create_event(
        services.EventDetails(
            title="Design review",
            start=start,
            end=start + timedelta(minutes=90),
            timezone="Europe/Berlin",
            description="We walk through the new sign-up flow.\nBring your questions.",
            location="Room 4.12, Berlin office",
            capacity=20,
        ),
        creator=ada,
    )
    for email in (ALAN, EDSGER):
        services.enroll(review, world.people[email], actor=world.people[email])
    start = next_weekday(3, 17, "America/New_York")
    reading_group = services.create_event(
        services.EventDetails(
            title="Compilers reading group",
            start=start,
            end=start + timedelta(hours=1),
            timezone="America/New_York",
            description="Chapter 4: parsing.",
            is_online=True,
            online_url="https://meet.example.test/compilers",
        ),
        creator=grace,
    )
    start = next_weekday(4, 9, "Europe/London")
    planning = services.create_event(
        services.EventDetails(
            title="Quarterly planning",
            start=start,
            end=start + timedelta(hours=3),
            timezone="Europe/London",
            location="London office",
        ),
        creator=ada,
    )
    services.cancel_event(planning, actor=ada, reason="Moved to next quarter.")
    return Scene(review, reading_group, planning)


DOCUMENTED = {"sign-in-desktop", "events-phone"}  # shown in the README
# page name: (who is signed in, where to go); None = nobody
PAGES: dict[str, Callable[[World, Scene], tuple[str | None, str]]] = {
    "sign-in": lambda world, scene: (None, "/accounts/sign-in/"),
    "events": lambda world, scene: (ALAN, "/"),
    "event-detail": lambda world, scene: (ADA, scene.review.get_absolute_url()),
    "cancelled-event": lambda world, scene: (ALAN, scene.planning.get_absolute_url()),
    "create-form-errors": lambda world, scene: (ADA, "/events/new/"),
    "my-events": lambda world, scene: (ALAN, "/my-events/"),
    "manage-people": lambda world, scene: (ADA, f"/events/{scene.review.pk}/people/"),
    "profile": lambda world, scene: (ADA, "/accounts/profile/"),
    "admin-users": lambda world, scene: (ADMIN, "/manage/users/"),
    "outlook-admin": lambda world, scene: (ADMIN, "/outlook/admin/"),
}


@pytest.mark.parametrize("name", PAGES)
def test_convene_page_has_no_serious_accessibility_problem(
    name: str,
    page: Page,
    world: World,
    sign_in: Callable[[Page, str], None],
    shot: Shot,
) -> None:
    scene = build_scene(world)
    who, path = PAGES[name](world, scene)
    if who:
        sign_in(page, who)
    page.goto(world.url + path)
    if name == "create-form-errors":
        page.get_by_role("button", name="Create event").click()
        page.wait_for_load_state()
    problems = {}
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        shot(page, f"{name}-{size}", docs=f"{name}-{size}" in DOCUMENTED)
        problems[size] = axe_violations(page)
    assert problems == {"desktop": [], "phone": []}


@pytest.mark.parametrize("view", ["week", "event"])
def test_mailbox_viewer_has_no_serious_accessibility_problem(
    view: str, page: Page, world: World, shot: Shot
) -> None:
    week = busy_week(world)
    if view == "event":
        page.goto(f"{world.viewer(ALAN)}/events/{copy_in(world, ALAN, 'Design review')['id']}")
    else:
        page.goto(week.url)
    problems = {}
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        shot(page, f"mailbox-{view}-{size}")
        problems[size] = axe_violations(page)
    assert problems == {"desktop": [], "phone": []}
