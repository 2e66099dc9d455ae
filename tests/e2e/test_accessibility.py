"""Every main page, at phone and desktop size, passes axe-core with no serious or critical
finding (axe-core from npm, run inside Chromium)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page

from convene.accounts.models import User
from convene.accounts.services import set_active
from convene.core.notices import notify
from convene.events import services
from convene.events.models import Enrollment, EnrollmentRole, Event
from convene.outlook.models import (
    AttendeeReply,
    CalendarLink,
    Job,
    LinkState,
    LogKind,
    Mode,
    MoveStep,
    OutlookSettings,
    record,
)

from .conftest import (
    ADA,
    ADMIN,
    ALAN,
    DESKTOP,
    EDSGER,
    GRACE,
    PHONE,
    SERVICE_MAILBOX,
    Shot,
    World,
    axe_violations,
    copy_in,
    next_weekday,
    open_mailbox,
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


def in_outlook(event: Event, **state: object) -> CalendarLink:
    """The event as if the worker had put it in its organizer's calendar (then ``state``)."""
    synced: dict[str, object] = {
        "mode": Mode.ORGANIZER,
        "owner_mailbox": event.created_by.email,
        "graph_id": f"AAMk-{event.pk}",
        "state": LinkState.SYNCED,
        "synced_version": 99,
        "desired_version": 99,
        "last_synced_at": timezone.now(),
    }
    CalendarLink.objects.filter(event=event).update(**(synced | state))
    return CalendarLink.objects.get(event=event)


def with_a_decline(world: World, scene: Scene) -> str:
    """Edsger declined the design review in Outlook; the organizer sees it."""
    in_outlook(scene.review)
    AttendeeReply.objects.create(
        event=scene.review,
        email=EDSGER,
        user=world.people[EDSGER],
        response="declined",
        responded_at=timezone.now(),
    )
    notify(world.people[ADA], "Edsger Dijkstra declined “Design review” in Outlook.")
    return scene.review.get_absolute_url()


def with_a_crowd(world: World) -> Event:
    """Ada's all-hands with 130 attendees, each with an answer in Outlook (made in bulk: the
    pages are what is checked): Manage people has three pages, the event page says "and N
    more"."""
    start = next_weekday(2, 15, "Europe/Berlin")
    crowd = services.create_event(
        services.EventDetails(
            title="All-hands",
            start=start,
            end=start + timedelta(hours=1),
            timezone="Europe/Berlin",
        ),
        creator=world.people[ADA],
    )
    people = User.objects.bulk_create(
        User(email=f"colleague{n:03}@contoso.test", display_name=f"Colleague {n:03}")
        for n in range(130)
    )
    Enrollment.objects.bulk_create(
        Enrollment(event=crowd, user=person, role=EnrollmentRole.ATTENDEE) for person in people
    )
    AttendeeReply.objects.bulk_create(
        AttendeeReply(
            event=crowd,
            email=person.email,
            user=person,
            response="declined" if n % 10 == 0 else "accepted",
            responded_at=timezone.now(),
        )
        for n, person in enumerate(people)
    )
    return crowd


def with_a_failing_event(world: World, scene: Scene) -> str:
    """One event synced, one Microsoft keeps refusing, and what the audit log says about it."""
    in_outlook(scene.review)
    in_outlook(
        scene.reading_group,
        state=LinkState.FAILING,
        last_error="Microsoft refused the request: 400 ErrorInvalidRequest",
        next_attempt_at=None,
    )
    record(
        LogKind.GRAPH,
        "create_event",
        status="400",
        message="ErrorInvalidRequest: the request is invalid.",
        event_id=scene.reading_group.pk,
        mailbox=GRACE,
    )
    return "/outlook/admin/sync/"


def with_nothing_logged(world: World, scene: Scene) -> str:
    """Outlook switched off before anything reached it: every section of the dashboard empty."""
    OutlookSettings.objects.filter(pk=1).update(enabled=False)
    CalendarLink.objects.all().delete()
    return "/outlook/admin/sync/"


def platform_switch_preview(world: World, scene: Scene) -> str:
    """Switching to the platform calendar while Ada's event cannot move (not connected)."""
    in_outlook(scene.review)
    return (
        f"/outlook/admin/mode-switch/?mode=platform&service_mailbox={SERVICE_MAILBOX}"
        "&platform_tenant="
    )


def finished_switch_with_one_left(world: World, scene: Scene) -> str:
    """A mode switch that moved one event and left one where it was."""
    links = [in_outlook(scene.review), in_outlook(scene.reading_group)]
    job = Job.objects.create(
        kind=Job.Kind.MODE_SWITCH,
        state=Job.State.DONE,
        params={
            "from": {"mode": Mode.ORGANIZER, "service_mailbox": "", "platform_tenant": ""},
            "to": {
                "mode": Mode.PLATFORM,
                "service_mailbox": SERVICE_MAILBOX,
                "platform_tenant": "",
            },
        },
        total=2,
        done=1,
        failed=1,
        message="1 event stayed where it was (see below); “Resume” tries again.",
        finished_at=timezone.now(),
    )
    for link, state, note in (
        (links[0], MoveStep.State.MOVED, f"Now in the calendar of {SERVICE_MAILBOX}."),
        (links[1], MoveStep.State.LEFT, "Grace Hopper must reconnect Outlook first."),
    ):
        MoveStep.objects.create(
            job=job,
            event=link.event,
            from_mode=Mode.ORGANIZER,
            from_mailbox=link.owner_mailbox,
            from_graph_id=link.graph_id,
            state=state,
            note=note,
        )
    return f"/outlook/admin/jobs/{job.pk}/"


def grace_left(world: World, scene: Scene, query: str = "") -> str:
    """Grace was deactivated with her reading group in Outlook: the handover page for her."""
    in_outlook(scene.reading_group)
    grace = world.people[GRACE]
    set_active(grace, False, actor=world.people[ADMIN])
    return f"/outlook/admin/handover/{grace.pk}/{query}"


DOCUMENTED = {"sign-in-desktop", "events-phone"}  # shown in the README
# page name: (who is signed in, where to go); None = nobody
PAGES: dict[str, Callable[[World, Scene], tuple[str | None, str]]] = {
    "sign-in": lambda world, scene: (None, "/accounts/sign-in/"),
    "events": lambda world, scene: (ALAN, "/"),
    "event-detail": lambda world, scene: (ADA, with_a_decline(world, scene)),
    "cancelled-event": lambda world, scene: (ALAN, scene.planning.get_absolute_url()),
    "create-form-errors": lambda world, scene: (ADA, "/events/new/"),
    "my-events": lambda world, scene: (ALAN, "/my-events/"),
    "my-events-past": lambda world, scene: (ALAN, "/my-events/?when=past"),
    "forbidden": lambda world, scene: (ALAN, "/events/new/"),
    "not-found": lambda world, scene: (ALAN, "/events/999999/"),
    "invitation-link-used": lambda world, scene: (None, "/accounts/set-password/MQ/used-link/"),
    "manage-people": lambda world, scene: (ADA, f"/events/{scene.review.pk}/people/"),
    "manage-people-crowded": lambda world, scene: (
        ADA,
        f"/events/{with_a_crowd(world).pk}/people/?role=attendee&page=2",
    ),
    "event-detail-crowded": lambda world, scene: (ADA, with_a_crowd(world).get_absolute_url()),
    "profile": lambda world, scene: (ADA, "/accounts/profile/"),
    "admin-users": lambda world, scene: (ADMIN, "/manage/users/"),
    "notices": lambda world, scene: (ADA, with_a_decline(world, scene) and "/notices/"),
    "outlook-admin": lambda world, scene: (ADMIN, "/outlook/admin/"),
    "outlook-test-connection": lambda world, scene: (ADMIN, "/outlook/admin/"),
    "outlook-dashboard": lambda world, scene: (ADMIN, with_a_failing_event(world, scene)),
    "outlook-dashboard-empty": lambda world, scene: (ADMIN, with_nothing_logged(world, scene)),
    "outlook-mine": lambda world, scene: (ADA, with_a_failing_event(world, scene) and "/outlook/"),
    "mode-switch-preview": lambda world, scene: (ADMIN, platform_switch_preview(world, scene)),
    "mode-switch-job": lambda world, scene: (ADMIN, finished_switch_with_one_left(world, scene)),
    "handover-choice": lambda world, scene: (ADMIN, grace_left(world, scene)),
    "handover-preview": lambda world, scene: (
        ADMIN,
        grace_left(world, scene, "?target=coorganizer"),
    ),
    "admin-consent-refused": lambda world, scene: (
        ADMIN,
        "/outlook/admin-consent/?error=access_denied"
        "&error_description=AADSTS65004%3A+User+declined+to+consent.",
    ),
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
    if name == "outlook-test-connection":  # the platform's tenant has not consented yet
        page.get_by_label("Service mailbox").fill(SERVICE_MAILBOX)
        page.get_by_role("button", name="Test connection").click()
        page.locator("#test-connection-result").wait_for()
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
        open_mailbox(
            page, f"{world.viewer(ALAN)}/events/{copy_in(world, ALAN, 'Design review')['id']}"
        )
    else:
        open_mailbox(page, week.url)
    problems = {}
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        shot(page, f"mailbox-{view}-{size}")
        problems[size] = axe_violations(page)
    assert problems == {"desktop": [], "phone": []}
