"""What a new organization met in its first hour (issue 18), as a person sees it in Chromium:
refusals that explain themselves, pages that keep their width, past events handled."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from tests.huey_worker import running_worker

from convene.events import services
from convene.events.models import EnrollmentRole, Event

from .conftest import (
    ADA,
    ADMIN,
    ALAN,
    EDSGER,
    GRACE,
    PHONE,
    PLATFORM_ADMIN,
    PLATFORM_DOMAIN,
    SERVICE_MAILBOX,
    Shot,
    World,
    microsoft_sign_in,
    next_weekday,
    wait_until,
)
from .test_outlook_journey import ada_connected_with_an_event, switch_outlook_on

pytestmark = pytest.mark.e2e

SignIn = Callable[[Page, str], None]


def an_event(world: World, title: str = "Design review", **overrides: object) -> Event:
    start = next_weekday(1, 10, "Europe/Berlin")
    details: dict[str, object] = {
        "title": title,
        "start": start,
        "end": start + timedelta(hours=1),
        "timezone": "Europe/Berlin",
        "location": "Room 4.12",
    }
    details.update(overrides)
    return services.create_event(
        services.EventDetails(**details),  # type: ignore[arg-type]
        creator=world.people[ADA],
        allow_past=True,
    )


def sideways_overflow(page: Page) -> int:
    overflow: int = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return overflow


# --- item 5: refusals and missing pages are pages of Convene ----------------------------------


def test_a_regular_user_opening_new_event_gets_a_page_that_says_why_and_where_to_go(
    page: Page, world: World, sign_in: SignIn, shot: Shot
) -> None:
    sign_in(page, ALAN)
    response = page.goto(f"{world.url}/events/new/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You may not open this page")).to_be_visible()
    expect(page.get_by_text("Only organizers and admins may create events")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    shot(page, "forbidden", docs=True)
    page.get_by_role("link", name="Upcoming events").last.click()
    expect(page.get_by_role("heading", name="Upcoming events")).to_be_visible()


def test_a_missing_page_is_a_page_of_convene(page: Page, world: World, sign_in: SignIn) -> None:
    sign_in(page, ALAN)
    response = page.goto(f"{world.url}/events/999999/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="There is no such page")).to_be_visible()
    expect(page.get_by_role("link", name="My events").last).to_be_visible()


# --- item 6: a title with no spaces -------------------------------------------------------


@pytest.mark.parametrize("viewport", [PHONE, {"width": 1280, "height": 800}])
def test_a_200_character_title_without_spaces_keeps_every_page_its_width(
    viewport: dict[str, int], page: Page, world: World, sign_in: SignIn, shot: Shot
) -> None:
    event = an_event(world, "Ü" * 100 + "x" * 100, location="L" * 200)
    page.set_viewport_size(viewport)
    sign_in(page, ADA)
    for path in (
        "/",
        "/my-events/",
        event.get_absolute_url(),
        f"/events/{event.pk}/edit/",
        f"/events/{event.pk}/people/",
        f"/events/{event.pk}/cancel/",
    ):
        page.goto(world.url + path)
        assert sideways_overflow(page) <= 0, f"{path} is wider than the screen at {viewport}"
    shot(page, "long-title")


# --- item 13: Manage people on a phone ----------------------------------------------------


def test_manage_people_on_a_phone_shows_every_remove_button_and_whole_emails(
    page: Page, world: World, sign_in: SignIn, shot: Shot
) -> None:
    event = an_event(world)
    for email in (ALAN, EDSGER):
        services.enroll(event, world.people[email], actor=None)
    services.add_person(event, world.people[GRACE], EnrollmentRole.PRESENTER, actor=None)
    page.set_viewport_size(PHONE)
    sign_in(page, ADA)
    page.goto(f"{world.url}/events/{event.pk}/people/")
    removes = page.get_by_role("button", name="Remove")
    expect(removes).to_have_count(3)
    for index in range(3):
        box = removes.nth(index).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    # Each address on one line: none is split inside a word.
    lines = page.locator(".email-address").evaluate_all(
        "nodes => nodes.map(n => Math.round(n.getBoundingClientRect().height"
        " / parseFloat(getComputedStyle(n).lineHeight)))"
    )
    assert lines and all(count == 1 for count in lines), lines
    assert sideways_overflow(page) <= 0
    shot(page, "manage-people-phone", docs=True)


# --- item 17: the event page says each thing once -----------------------------------------


def test_manage_people_lists_organizers_then_presenters_then_attendees(
    page: Page, world: World, sign_in: SignIn
) -> None:
    event = an_event(world)
    services.enroll(event, world.people[ALAN], actor=None)
    services.add_person(event, world.people[GRACE], EnrollmentRole.PRESENTER, actor=None)
    sign_in(page, ADA)
    page.goto(f"{world.url}/events/{event.pk}/people/")
    names = page.locator(".people-table tbody tr td:first-child").all_inner_texts()
    assert [name.splitlines()[0] for name in names] == [
        "Ada Lovelace",
        "Grace Hopper",
        "Alan Turing",
    ]


def test_an_online_event_without_a_place_shows_no_stray_dash(
    page: Page, world: World, sign_in: SignIn
) -> None:
    event = an_event(
        world, location="", is_online=True, online_url="https://meet.example.test/review"
    )
    sign_in(page, ALAN)
    page.goto(world.url + event.get_absolute_url())
    where = page.locator(".facts dd").first
    expect(where).to_have_text("Online Join link")


def test_a_cancelled_event_says_so_once(page: Page, world: World, sign_in: SignIn) -> None:
    event = an_event(world)
    services.cancel_event(event, actor=None, reason="The speaker is ill.")
    sign_in(page, ALAN)
    page.goto(world.url + event.get_absolute_url())
    text = page.locator("main").inner_text().lower()
    assert text.count("cancelled") == 1, text
    expect(page.get_by_text("The speaker is ill.")).to_be_visible()


# --- item 4: the past ---------------------------------------------------------------------


def test_creating_an_event_in_the_past_is_refused_with_the_reason(
    page: Page, world: World, sign_in: SignIn, shot: Shot
) -> None:
    sign_in(page, ADA)
    page.goto(f"{world.url}/events/new/")
    page.get_by_label("Title").fill("Looking back")
    page.get_by_label("Starts").fill("2020-01-01T10:00")
    page.get_by_label("Ends").fill("2020-01-01T11:00")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_label("Starts")).to_have_accessible_description(
        re.compile(
            r"The start \(2020-01-01 10:00 [A-Z]+\) is in the past\. Choose a time from now on: "
            r"Convene does not schedule events in the past\."
        )
    )
    assert not Event.objects.exists()
    shot(page, "past-start-refused")


def test_an_event_that_is_over_offers_no_enroll_and_is_under_the_past_tab(
    page: Page, world: World, sign_in: SignIn
) -> None:
    start = timezone.now() - timedelta(days=2)
    over = an_event(world, "Last week's review", start=start, end=start + timedelta(hours=1))
    services.enroll(over, world.people[ALAN], actor=None)
    an_event(world, "Next week's review")
    sign_in(page, EDSGER)
    page.goto(world.url + over.get_absolute_url())
    expect(page.get_by_text("This event is over.")).to_be_visible()
    expect(page.get_by_role("button", name="Enroll")).to_have_count(0)

    page.context.clear_cookies()
    sign_in(page, ALAN)
    page.goto(f"{world.url}/my-events/")
    expect(page.get_by_text("Last week's review")).to_have_count(0)
    page.get_by_role("link", name="Past").click()
    expect(page.get_by_role("link", name="Past")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("Last week's review")).to_be_visible()


# --- items 12 and 15: time zones ----------------------------------------------------------


def test_the_zone_list_is_canonical_grouped_searchable_and_starts_in_the_browsers_zone(
    page: Page, world: World, sign_in: SignIn, shot: Shot
) -> None:
    sign_in(page, ADA)  # her browser is in Europe/Berlin (see browser_context_args)
    page.goto(f"{world.url}/events/new/")
    zone = page.get_by_label("Time zone", exact=True)
    expect(zone).to_have_value("Europe/Berlin")
    names = zone.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert "Asia/Kolkata" in names and len(names) < 450
    assert not {"US/Pacific", "Asia/Calcutta", "Etc/GMT+1"} & set(names)
    expect(zone.locator("optgroup[label=Europe] option[value='Europe/Berlin']")).to_have_text(
        re.compile(r"^Berlin \(UTC\+0[12]:00\)$")
    )
    page.get_by_label("Search zones by place, country or offset").fill("india")
    expect(zone).to_have_value("Asia/Kolkata")
    expect(zone.locator("option:checked")).to_have_text("Kolkata (UTC+05:30)")
    shot(page, "zone-search", docs=True, full_page=False)
    page.get_by_label("Search zones by place, country or offset").fill("+09:00")
    expect(zone.locator("option:not([hidden])").first).to_contain_text("(UTC+09:00)")

    # Her browser's zone is now her own: the profile shows it.
    page.goto(f"{world.url}/accounts/profile/")
    expect(page.get_by_label("Your time zone")).to_have_value("Europe/Berlin")


def test_a_zone_saved_on_the_profile_is_the_one_new_events_start_in(
    page: Page, world: World, sign_in: SignIn
) -> None:
    sign_in(page, ADA)
    page.goto(f"{world.url}/accounts/profile/")
    page.get_by_label("Search zones by place, country or offset").fill("tokyo")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()
    page.goto(f"{world.url}/events/new/")
    expect(page.get_by_label("Time zone", exact=True)).to_have_value("Asia/Tokyo")


def test_a_notice_and_the_event_it_is_about_show_one_moment_in_labelled_zones(
    page: Page, world: World, sign_in: SignIn
) -> None:
    from convene.core.notices import notify

    event = an_event(world, timezone="America/New_York")
    notice = notify(world.people[ADA], "Edsger declined in Outlook.", url=event.get_absolute_url())
    sign_in(page, ADA)
    # The first page saves the browser's zone as Ada's own in the background: wait for it.
    ada = world.people[ADA]
    wait_until(lambda: (ada.refresh_from_db(), ada.time_zone)[1] == "Europe/Berlin")
    page.goto(f"{world.url}/notices/")
    created = notice.created_at.astimezone(ZoneInfo("Europe/Berlin"))
    expect(page.locator("time")).to_have_text(re.compile(rf"{created:%H:%M} (CET|CEST)$"))
    expect(page.locator("footer")).to_contain_text(
        "Event times are in each event\N{RIGHT SINGLE QUOTATION MARK}s own time zone; "
        "other times in yours (Europe/Berlin)."
    )
    page.goto(world.url + event.get_absolute_url())
    expect(page.locator(".event-when")).to_contain_text("(America/New_York)")


# --- item 14: inviting someone without an account -----------------------------------------


def test_an_organizer_invites_someone_without_an_account_who_is_in_outlook_at_once(
    page: Page, world: World, worker: None, sign_in: SignIn, shot: Shot, mailoutbox: list[Any]
) -> None:
    event = ada_connected_with_an_event(page, world, sign_in)
    newcomer = "lin@fabrikam.test"
    page.goto(f"{world.url}/events/{event.pk}/people/")
    page.get_by_label("Email").fill(newcomer)
    page.get_by_role("button", name="Add", exact=True).click()
    expect(
        page.get_by_text(f"Nobody with the email address {newcomer} uses Convene yet.", exact=True)
    ).to_be_visible()
    shot(page, "invite-offered", docs=True)
    page.get_by_role("button", name=f"Invite {newcomer}").click()
    expect(page.get_by_text(f"{newcomer} added as attendee.")).to_be_visible()
    expect(page.locator(".people-table").get_by_text("Invited")).to_be_visible()

    def invited_in_outlook() -> bool:
        [copy] = world.mailbox(ADA)
        return newcomer in {a["emailAddress"]["address"] for a in copy["attendees"]}

    wait_until(invited_in_outlook)

    [mail] = [m for m in mailoutbox if m.to == [newcomer]]
    link = re.search(r"http\S+/accounts/set-password/\S+", mail.body)
    assert link is not None
    page.context.clear_cookies()
    page.goto(link.group(0))
    page.get_by_label("New password", exact=True).fill("A-long-enough-passphrase-2030")
    page.get_by_label("New password confirmation").fill("A-long-enough-passphrase-2030")
    page.get_by_role("button", name="Save password and sign in").click()
    expect(page.get_by_role("heading", name="Upcoming events")).to_be_visible()
    page.goto(f"{world.url}/my-events/")
    expect(page.get_by_text("Compilers reading group")).to_be_visible()


# --- items 1, 2, 10 and 11: the draft through Microsoft's sign-in -------------------------


def fill_new_event(page: Page, world: World, title: str) -> None:
    start = next_weekday(1, 10, "Europe/Berlin")
    page.goto(f"{world.url}/events/new/")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Ends").fill((start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))


def test_the_new_event_form_says_saving_leads_to_microsoft_when_it_will(
    page: Page, world: World, sign_in: SignIn, shot: Shot
) -> None:
    sign_in(page, ADA)
    page.goto(f"{world.url}/events/new/")
    expect(page.get_by_text("saving takes you to Microsoft")).to_have_count(0)  # sync is off
    switch_outlook_on()
    page.reload()
    expect(page.get_by_role("button", name="Create event")).to_have_accessible_description(
        "This event goes into your Outlook calendar: saving takes you to Microsoft to sign in "
        "once, then back here with everything you typed, ready to save."
    )
    shot(page, "event-form-before-microsoft", docs=True)


def test_after_cancelling_microsofts_sign_in_try_again_leads_back_to_the_draft(
    page: Page, world: World, worker: None, sign_in: SignIn, shot: Shot
) -> None:
    switch_outlook_on()
    sign_in(page, ADA)
    fill_new_event(page, world, "Design review")
    page.get_by_role("button", name="Create event").click()
    page.wait_for_url(f"{world.emulator.ui_url}/**")
    page.get_by_role("button", name="Cancel").click()

    expect(
        page.get_by_role("heading", name="Microsoft did not give Convene access to your calendar")
    ).to_be_visible()
    expect(page.locator(".messages")).to_have_count(0)  # no stale "you will come back" banner
    shot(page, "sign-in-cancelled", docs=True)
    page.get_by_role("link", name="Try again").click()
    microsoft_sign_in(page, ADA)

    page.wait_for_url(re.compile(r"/events/new/\?draft="))
    expect(page.get_by_label("Title")).to_have_value("Design review")
    expect(page.locator(".messages .alert")).to_have_text([f"Outlook connected as {ADA}."])
    expect(page.get_by_text("Your changes were kept. Check them and save.")).to_be_visible()

    page.reload()  # the draft stays until the event is saved or discarded
    expect(page.get_by_label("Title")).to_have_value("Design review")
    expect(page.get_by_text("Your changes were kept. Check them and save.")).to_be_visible()
    draft_url = page.url
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_text("“Design review” is scheduled.")).to_be_visible()
    page.goto(draft_url)
    expect(page.get_by_label("Title")).to_have_value("")


def test_the_cancelled_sign_in_page_also_leads_back_to_the_form(
    page: Page, world: World, sign_in: SignIn
) -> None:
    switch_outlook_on()
    sign_in(page, ADA)
    fill_new_event(page, world, "Design review")
    page.get_by_role("button", name="Create event").click()
    page.wait_for_url(f"{world.emulator.ui_url}/**")
    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("link", name="Back to the event form").click()
    expect(page.get_by_label("Title")).to_have_value("Design review")
    page.get_by_role("button", name="Discard them").click()
    expect(page.get_by_text("What you had typed was discarded.")).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("")


# --- item 9: the Outlook panel follows a sync by itself -----------------------------------


def test_the_outlook_panel_shows_the_sync_finishing_without_a_reload(
    page: Page, world: World, sign_in: SignIn, tmp_path: Path
) -> None:
    switch_outlook_on()
    sign_in(page, ADA)
    page.goto(f"{world.url}/outlook/connect/?next=/")
    microsoft_sign_in(page, ADA)
    # The sign-in ends with Convene's callback storing the connection: leaving the page before
    # it has (the goto below) would abort it, and the event would wait for authorization.
    expect(page.get_by_text(f"Outlook connected as {ADA}.")).to_be_visible()
    event = an_event(world)  # queued; no worker runs yet
    page.goto(world.url + event.get_absolute_url())
    expect(page.get_by_text("Sync pending", exact=True)).to_be_visible()
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))
    with running_worker(tmp_path / "queue.sqlite3", threads=2):
        try:
            expect(page.get_by_text("Synced to Outlook", exact=True)).to_be_visible(timeout=20_000)
        except AssertionError:
            panel = page.locator("#outlook-panel").inner_text()
            raise AssertionError(f"panel after 20 s: {panel!r}") from None
    assert loads == []  # the panel refreshed itself; the page was not reloaded
    expect(page.locator("#outlook-panel")).not_to_have_attribute("hx-trigger", re.compile("."))


# --- item 7: platform setup keeps what the admin typed and shows the consent --------------


def test_platform_setup_keeps_the_service_mailbox_and_shows_the_consent(
    page: Page, world: World, sign_in: SignIn, shot: Shot
) -> None:
    sign_in(page, ADMIN)
    page.goto(f"{world.url}/outlook/admin/")
    mailbox = page.get_by_label("Service mailbox")
    mailbox.fill(SERVICE_MAILBOX)
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-connection-result")).to_contain_text("No admin consent")
    expect(mailbox).to_have_value(SERVICE_MAILBOX)
    page.goto(f"{world.url}/outlook/admin/")  # back later, nothing saved yet
    expect(mailbox).to_have_value(SERVICE_MAILBOX)
    expect(page.locator("#consent-state")).to_contain_text("No consent recorded")

    page.get_by_role("button", name="Grant admin consent").click()
    page.wait_for_url(f"{world.emulator.ui_url}/**")
    microsoft_sign_in(page, PLATFORM_ADMIN)
    expect(page.get_by_text(f"Admin consent granted in tenant {PLATFORM_DOMAIN}.")).to_be_visible()
    page.reload()
    expect(mailbox).to_have_value(SERVICE_MAILBOX)
    expect(page.locator("#consent-state")).to_contain_text(
        f"Consent granted Admin consent granted in tenant {PLATFORM_DOMAIN}"
    )
    shot(page, "platform-consent-granted", docs=True)
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-connection-result")).to_contain_text("Connection works")
    expect(mailbox).to_have_value(SERVICE_MAILBOX)


# --- item 16: counts, the finished job page, one trail of breadcrumbs ---------------------


def test_a_finished_switch_says_done_once_with_real_plurals_under_the_same_breadcrumbs(
    page: Page, world: World, sign_in: SignIn
) -> None:
    from convene.outlook.models import Job, Mode

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
        total=13,
        done=13,
        finished_at=timezone.now(),
    )
    sign_in(page, ADMIN)
    trails = {}
    for path in ("/outlook/admin/", "/outlook/admin/sync/", f"/outlook/admin/jobs/{job.pk}/"):
        page.goto(world.url + path)
        trails[path] = page.get_by_role("navigation", name="breadcrumb").inner_text().split("\n")
    assert trails["/outlook/admin/"] == ["Admin", "Calendar Integration", "Microsoft Outlook"]
    for path in ("/outlook/admin/sync/", f"/outlook/admin/jobs/{job.pk}/"):
        assert trails[path][:3] == trails["/outlook/admin/"], trails
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Events moved to the platform calendar {SERVICE_MAILBOX}"
    )
    main = page.locator("main").inner_text()
    assert main.count("13 of 13") == 1, main
    assert "(s)" not in main
    expect(page.locator("#job-progress")).to_contain_text("13 of 13 events moved")
