"""Exchange's sending limits in platform mode, against the emulator over real HTTP: a service
mailbox at its daily limit makes work wait (not fail) until its 24 hours move on; a pool of
service mailboxes spreads new events so none goes over; the dashboard forecasts a pool too
small for the day; a message over the recipient limit is refused; the pool form validates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from huey.storage import MemoryStorage
from tests.world import PASSWORD, PLATFORM_DOMAIN, SERVICE_MAILBOX

from convene.events import services
from convene.events.models import Event
from convene.outlook import tasks
from convene.outlook.mailboxes import platform as platform_mailboxes
from convene.outlook.mailboxes import pool
from convene.outlook.models import (
    CalendarLink,
    LinkState,
    LogKind,
    Mode,
    OutlookSettings,
    PoolMailbox,
    SendingLimitWait,
    SyncLogEntry,
)
from convene.outlook.outbound import batches, queueing

from .conftest import OutlookWorld
from .test_connect_and_sync import ADA, ALAN, BARBARA, EDSGER, GRACE
from .test_platform import ADMIN, platform_seed

SERVICE = SERVICE_MAILBOX
SECOND = f"events2@{PLATFORM_DOMAIN}"


@pytest.fixture
def platform(outlook: OutlookWorld) -> OutlookWorld:
    enter_platform(outlook)
    return outlook


@pytest.fixture
def platform_unworked(
    outlook_without_worker: OutlookWorld, monkeypatch: pytest.MonkeyPatch
) -> OutlookWorld:
    """Platform mode with a queue nobody works: the test pushes when it chooses."""
    monkeypatch.setattr(HUEY, "immediate", False)
    monkeypatch.setattr(HUEY, "storage", MemoryStorage(HUEY.name))
    enter_platform(outlook_without_worker)
    return outlook_without_worker


def enter_platform(world: OutlookWorld) -> None:
    """Platform mode, consented, with a second mailbox in the platform's tenant."""
    world.emulator.reset(platform_seed(consented=True))
    seeded = world.emulator.control(
        "POST",
        "/seed",
        {
            "tenants": [
                {
                    "domain": PLATFORM_DOMAIN,
                    "users": [
                        {
                            "userPrincipalName": SECOND,
                            "displayName": "Convene Events 2",
                            "password": PASSWORD,
                        }
                    ],
                }
            ]
        },
    )
    assert seeded.status_code in (200, 201), seeded.text
    OutlookSettings.objects.filter(pk=1).update(mode=Mode.PLATFORM, service_mailbox=SERVICE)


def limit(world: OutlookWorld, mailbox: str, **limits: int) -> None:
    answer = world.emulator.control("POST", f"/mailboxes/{mailbox}/sending", limits)
    assert answer.status_code == 200, answer.text


def sent(world: OutlookWorld, mailbox: str) -> int:
    found: int = world.emulator.control("GET", f"/mailboxes/{mailbox}/sending").json()[
        "recipientsLast24Hours"
    ]
    return found


def event_with(world: OutlookWorld, title: str, *people: str, hours: int = 0) -> Event:
    """The event and its people in one transaction: the worker sees one create with everyone
    (one invitation message), not a create and then updates adding people one by one."""
    start = timezone.now() + timedelta(days=3, hours=hours)
    with transaction.atomic():
        event = services.create_event(
            services.EventDetails(
                title=title,
                start=start,
                end=start + timedelta(hours=1),
                timezone="Europe/Berlin",
            ),
            creator=world.people[ADA],
        )
        for email in people:
            services.enroll(event, world.people[email], actor=None)
    return event


def waiting(event: Event) -> CalendarLink | None:
    link = CalendarLink.objects.get(event=event)
    return link if link.last_error.startswith(pool.WAITING_PREFIX) else None


def invitations(world: OutlookWorld, email: str, title: str) -> int:
    return sum(1 for copy in world.mailbox(email) if copy["subject"] == title)


def graph_calls(event: Event) -> int:
    return SyncLogEntry.objects.filter(kind=LogKind.GRAPH, event_id=event.pk).count()


def the_day_moves_on(world: OutlookWorld) -> None:
    """24 hours pass at Microsoft, and Convene's clock reaches the time Exchange gave."""
    world.emulator.advance_clock(24 * 3600 + 60)
    # App-only tokens from before are expired at Microsoft now.
    platform_mailboxes._app_tokens.clear()
    now = timezone.now()
    SendingLimitWait.objects.update(until=now)
    CalendarLink.objects.filter(last_error__startswith=pool.WAITING_PREFIX).update(
        next_attempt_at=now
    )


# --- one service mailbox --------------------------------------------------------------------


def test_at_the_daily_limit_work_waits_and_resumes_when_the_day_moves_on(
    platform: OutlookWorld,
) -> None:
    limit(platform, SERVICE, recipientsPerDay=4)
    first = event_with(platform, "First", ALAN, BARBARA)  # Ada, Alan, Barbara: 3 recipients
    platform.wait_synced(first.pk)

    second = event_with(platform, "Second", EDSGER)  # Ada and Edsger: 2 more than the day allows
    link = platform.wait_until(lambda: waiting(second))

    assert link.state == LinkState.PENDING, "waiting is not failing"
    assert link.attempts == 0
    assert link.next_attempt_at > timezone.now() + timedelta(hours=23)
    assert link.graph_id == ""
    assert "ErrorExceededMessageLimit" in link.last_error
    assert invitations(platform, EDSGER, "Second") == 0
    assert SendingLimitWait.objects.get(mailbox=SERVICE).until == link.next_attempt_at

    # More changes meanwhile wait too, without asking Microsoft again.
    services.enroll(second, platform.people[GRACE], actor=None)
    platform.wait_idle()
    assert graph_calls(second) == 1
    assert waiting(second) is not None

    page = platform.browser(ADMIN).get("/outlook/admin/sync/").content.decode()
    assert "Waiting for a sending limit" in page
    assert "Second" in page
    assert "Waiting</span> until" in page

    the_day_moves_on(platform)
    queueing.sweep(tasks.enqueue_sync)
    platform.wait_synced(second.pk)

    for email in (ADA, EDSGER, GRACE):
        assert invitations(platform, email, "Second") == 1, email
    assert invitations(platform, ALAN, "Second") == 0
    assert waiting(second) is None
    assert CalendarLink.objects.get(event=second).attempts == 0


def test_a_message_over_the_recipient_limit_is_refused_for_good(platform: OutlookWorld) -> None:
    limit(platform, SERVICE, recipientsPerMessage=2)

    event = event_with(platform, "Crowded", ALAN, BARBARA)  # 3 recipients in one invitation
    link = platform.wait_until(
        lambda: CalendarLink.objects.filter(
            event=event, state=LinkState.FAILING, next_attempt_at__isnull=True
        ).first()
    )

    assert "too many recipients" in link.last_error
    assert "The limit is 2. This message has 3 recipients." in link.last_error
    assert platform.mailbox(SERVICE) == []
    assert invitations(platform, ALAN, "Crowded") == 0
    assert sent(platform, SERVICE) == 0


# --- a pool of service mailboxes ------------------------------------------------------------


def test_a_pool_spreads_events_so_no_mailbox_goes_over_its_limit(platform: OutlookWorld) -> None:
    PoolMailbox.objects.create(address=SECOND)
    for mailbox in (SERVICE, SECOND):
        limit(platform, mailbox, recipientsPerDay=4)
    people = (ALAN, BARBARA, EDSGER, GRACE)

    events = []
    for number, person in enumerate(people):
        event = event_with(platform, f"Session {number}", person, hours=number)
        platform.wait_synced(event.pk)
        events.append(event)

    owners = [CalendarLink.objects.get(event=e).owner_mailbox for e in events]
    assert owners.count(SERVICE) == 2 and owners.count(SECOND) == 2, owners
    assert sent(platform, SERVICE) == 4 and sent(platform, SECOND) == 4
    for number, person in enumerate(people):
        assert invitations(platform, person, f"Session {number}") == 1, person
        assert invitations(platform, ADA, f"Session {number}") == 1
    assert not SendingLimitWait.objects.exists()

    # An update goes out from the mailbox the event was made in.
    services.enroll(events[0], platform.people[BARBARA], actor=None)
    platform.wait_idle()
    link = CalendarLink.objects.get(event=events[0])
    assert link.owner_mailbox == owners[0]
    assert waiting(events[0]) is not None, "its mailbox is full for today: the update waits"
    the_day_moves_on(platform)
    queueing.sweep(tasks.enqueue_sync)
    platform.wait_synced(events[0].pk)
    assert invitations(platform, BARBARA, "Session 0") == 1
    copies = [c for box in (SERVICE, SECOND) for c in platform.mailbox(box)]
    assert sorted(c["subject"] for c in copies) == [f"Session {n}" for n in range(4)]


def test_the_dashboard_says_the_pool_is_too_small_before_the_limit_is_hit(
    platform_unworked: OutlookWorld, settings: Any
) -> None:
    world = platform_unworked
    settings.OUTLOOK_RECIPIENTS_PER_DAY = 4
    PoolMailbox.objects.create(address=SECOND)
    for mailbox in (SERVICE, SECOND):
        limit(world, mailbox, recipientsPerDay=4)
    events = [
        event_with(world, f"Talk {n}", person, hours=n)
        for n, person in enumerate((ALAN, BARBARA, EDSGER, GRACE, ALAN))
    ]

    page = world.browser(ADMIN).get("/outlook/admin/sync/").content.decode()
    assert 'id="pool-too-small"' in page
    assert "10 recipients of new events are waiting to be invited" in page
    assert "only 8 more may be sent" in page
    assert sent(world, SERVICE) == 0, "said before anything was sent"

    batches.sync_events([e.pk for e in events], tasks.enqueue_sync)

    placed = CalendarLink.objects.exclude(graph_id="")
    assert placed.count() == 4
    assert {link.owner_mailbox for link in placed} == {SERVICE, SECOND}
    (held,) = [e for e in events if waiting(e) is not None]
    assert CalendarLink.objects.get(event=held).graph_id == ""
    assert sent(world, SERVICE) <= 4 and sent(world, SECOND) <= 4
    for event in events:
        if event != held:
            assert invitations(world, ADA, event.title) == 1
    assert invitations(world, ADA, held.title) == 0


# --- the admin's pool form --------------------------------------------------------------------


def settings_form(**fields: str) -> dict[str, str]:
    return {"enabled": "on", "mode": "platform", "service_mailbox": SERVICE, **fields}


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("events2@convene-platform.test\nnot an address", "is not an email address"),
        (f"{SECOND}\n{SECOND.upper()}", "is listed twice"),
        (SERVICE, "is the service mailbox already"),
    ],
)
def test_a_bad_pool_is_refused_with_a_clear_error_and_changes_nothing(
    platform: OutlookWorld, typed: str, says: str
) -> None:
    outlook = OutlookSettings.load()
    before = (outlook.enabled, outlook.unenroll_on_decline, outlook.service_mailbox)
    other_choice = {} if outlook.unenroll_on_decline else {"unenroll_on_decline": "on"}
    answer = platform.browser(ADMIN).post(
        "/outlook/admin/", settings_form(pool_mailboxes=typed, **other_choice)
    )

    assert answer.status_code == 200
    assert says in answer.content.decode()
    assert not PoolMailbox.objects.exists()
    outlook = OutlookSettings.load()
    assert (outlook.enabled, outlook.unenroll_on_decline, outlook.service_mailbox) == before


def test_the_admin_adds_and_removes_pool_mailboxes(platform: OutlookWorld) -> None:
    admin = platform.browser(ADMIN)
    answer = admin.post("/outlook/admin/", settings_form(pool_mailboxes=f" {SECOND.upper()} \n"))
    assert answer.status_code == 302
    assert list(PoolMailbox.objects.values_list("address", flat=True)) == [SECOND]
    assert SECOND in admin.get("/outlook/admin/").content.decode()

    admin.post("/outlook/admin/", settings_form(pool_mailboxes=""))
    assert not PoolMailbox.objects.exists()


def test_the_pool_is_only_for_admins(platform: OutlookWorld) -> None:
    answer = platform.browser(ALAN).post("/outlook/admin/", settings_form(pool_mailboxes=SECOND))
    assert answer.status_code in (302, 403)
    assert not PoolMailbox.objects.exists()


def test_test_connection_checks_every_mailbox_of_the_pool(platform: OutlookWorld) -> None:
    missing = f"nobody@{PLATFORM_DOMAIN}"
    answer = platform.browser(ADMIN).post(
        "/outlook/admin/test-connection/", settings_form(pool_mailboxes=f"{SECOND}\n{missing}")
    )

    page = answer.content.decode()
    assert answer.status_code == 200
    assert page.count('class="card mb-4 border-success pool-test-result"') == 1
    assert f"{SECOND} · tenant" in page
    assert f"Mailbox {missing} not found" in page
    assert SyncLogEntry.objects.filter(action="test_connection").count() == 3
    assert not PoolMailbox.objects.exists(), "testing saves nothing"
