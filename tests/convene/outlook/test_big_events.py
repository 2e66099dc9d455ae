"""Events of any size against the emulator, in both modes: Graph takes at most 500 attendees on
one event, so bigger events go out as several Outlook copies (``outbound.copies``).

Each test reads the emulator's census of the meeting (every mailbox's copies and meeting
messages) and checks that each person holds exactly one live copy and got exactly one
invitation, that a change reaches every copy, and that removing people shrinks the copies.
People and enrollments are made in bulk; the sync itself is the real worker's, over HTTPS.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from tests.world import CUSTOMER, PASSWORD, event_details, world_seed

from convene.accounts.models import Role, User
from convene.events import services
from convene.events.changes import ChangeKind, EventChange, announce
from convene.events.models import AttendeeList, Enrollment, EnrollmentRole, Event
from convene.outlook.mailboxes import connections
from convene.outlook.mailboxes.platform import _app_tokens as app_tokens_cache
from convene.outlook.models import (
    CalendarLink,
    CopySeat,
    OutlookSettings,
    OverflowCopy,
    SyncLogEntry,
)
from convene.outlook.outbound.copies import PER_COPY, copies_needed

from .conftest import PUBLIC_URL, OutlookWorld
from .test_connect_and_sync import ADA, update
from .test_platform import SERVICE, use_platform_calendar


def crowd(
    outlook: OutlookWorld, count: int, *, platform: bool, mail_read: bool = False
) -> list[User]:
    """``count`` more people, each with a mailbox in the emulator and an account in Convene
    (``mail_read``: Convene may read the organizer's mail, for decline comments)."""
    emails = [f"guest{number:05}@{CUSTOMER}" for number in range(count)]
    seed = world_seed(PUBLIC_URL, platform_consented=True, mail_read=mail_read)
    seed["tenants"][0]["users"] += [
        {"userPrincipalName": email, "displayName": email.split("@")[0], "password": PASSWORD}
        for email in emails
    ]
    outlook.emulator.reset(seed)
    connections.forget_access_tokens()
    app_tokens_cache.clear()
    if platform:
        use_platform_calendar()
    else:
        outlook.connect(ADA)
    password = make_password(PASSWORD)
    User.objects.bulk_create(
        [
            User(
                email=email, display_name=email.split("@")[0], role=Role.REGULAR, password=password
            )
            for email in emails
        ],
        batch_size=1000,
    )
    return list(User.objects.filter(email__in=emails).order_by("pk"))


def big_event(outlook: OutlookWorld, people: int, guests: list[User], title: str) -> Event:
    """An event of ``people`` people (Ada, who organizes it, and ``people - 1`` guests), made
    in one transaction: one create reaches Outlook."""
    start = timezone.now() + timedelta(days=5)
    with transaction.atomic():
        event = services.create_event(
            event_details(title, start, location="Main hall"),
            creator=outlook.people[ADA],
        )
        add(event, guests[: people - 1])
    return event


def add(event: Event, users: list[User]) -> None:
    with transaction.atomic():
        Enrollment.objects.bulk_create(
            [Enrollment(event=event, user=u, role=EnrollmentRole.ATTENDEE) for u in users],
            batch_size=1000,
        )
        announce(EventChange(event.pk, ChangeKind.ENROLLED, affected_user_ids=_ids(users)))


def remove(event: Event, users: list[User]) -> None:
    with transaction.atomic():
        Enrollment.objects.filter(event=event, user__in=users).delete()
        announce(EventChange(event.pk, ChangeKind.UNENROLLED, affected_user_ids=_ids(users)))


def _ids(users: list[User]) -> frozenset[int]:
    return frozenset(u.pk for u in users)


def census(outlook: OutlookWorld, title: str) -> dict[str, Any]:
    response = outlook.emulator.control("GET", f"/meetings?subject={title}")
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def check_everyone_once(
    outlook: OutlookWorld,
    event: Event,
    owner: str,
    *,
    location: str,
    moved: frozenset[str] = frozenset(),
    invitations: int = 1,
    newly_invited: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Each person on the event holds exactly one live copy (with ``location``) and got
    exactly one invitation (two for those ``moved`` to another copy when copies shrank);
    nobody else holds a live one; the owner's mailbox holds as many copies as needed, each
    within Graph's limit."""
    found = census(outlook, event.title)
    invitees = {
        e.lower()
        for e in Enrollment.objects.filter(event=event).values_list("user__email", flat=True)
        if owner == SERVICE or e != ADA
    }
    own = [e for e in found["events"] if e["isOrganizer"] and not e["isCancelled"]]
    assert {e["mailbox"] for e in own} == {owner}
    assert len(own) == copies_needed(len(invitees))
    assert all(len(e["attendees"]) <= PER_COPY for e in own)
    # The owner's calendar is not crowded: the overflow copies are free time without reminder.
    quiet = [e for e in own if e["showAs"] == "free" and e["isReminderOn"] is False]
    assert len(quiet) == len(own) - 1
    seated = Counter(a for e in own for a in e["attendees"])
    assert set(seated) == invitees
    assert set(seated.values()) == {1}
    live = Counter(
        e["mailbox"] for e in found["events"] if not e["isOrganizer"] and not e["isCancelled"]
    )
    assert set(live) == invitees, "someone holds no copy, or someone not invited holds one"
    assert set(live.values()) == {1}, "someone holds two copies"
    locations = {e["location"] for e in found["events"] if not e["isCancelled"]}
    assert locations == {location}
    new_requests = Counter(
        m["mailbox"] for m in found["messages"] if m["requestType"] == "newMeetingRequest"
    )
    expected = {a: 1 if a in newly_invited else invitations + (a in moved) for a in invitees}
    assert {a for a in invitees if new_requests[a] != expected[a]} == set()
    return found


def copy_of(found: dict[str, Any]) -> dict[str, str]:
    """Person -> the id of the owner's copy they are on."""
    return {
        a: e["id"]
        for e in found["events"]
        if e["isOrganizer"] and not e["isCancelled"]
        for a in e["attendees"]
    }


def check_sizes(outlook: OutlookWorld, people: int, *, platform: bool) -> None:
    guests = crowd(outlook, people, platform=platform)
    owner = SERVICE if platform else ADA
    if people * 3 > 10_000:
        # Three rounds to 5,000 people within minutes pass Exchange's 10,000 recipients a
        # day per mailbox (test_sending_limits.py shows the work waiting for it); here the
        # mailbox is one whose limit an admin raised, so every round goes out at once.
        raised = outlook.emulator.control(
            "POST", f"/mailboxes/{owner}/sending", {"recipientsPerDay": 100_000}
        )
        assert raised.status_code == 200, raised.text
    title = f"Big event of {people}"
    event = big_event(outlook, people, guests, title)
    outlook.wait_synced(event.pk, timeout=60 + people / 20)
    check_everyone_once(outlook, event, owner, location="Main hall")

    update(event, location="Bigger hall")
    outlook.wait_synced(event.pk, timeout=60 + people / 20)
    before = copy_of(check_everyone_once(outlook, event, owner, location="Bigger hall"))

    # People leave from every copy: the copies shrink. Only people of a copy no longer needed
    # move (one cancellation, one new invitation); nobody else is invited again.
    leaving = guests[: people - 1][::3]
    remove(event, leaving)
    outlook.wait_synced(event.pk, timeout=60 + people / 20)
    after = copy_of(census(outlook, title))
    moved = frozenset(a for a, copy in after.items() if before[a] != copy)
    kept_copies = set(after.values())
    assert all(before[a] not in kept_copies for a in moved), "moved off a copy that stayed"
    found = check_everyone_once(outlook, event, owner, location="Bigger hall", moved=moved)
    gone = {u.email.lower() for u in leaving}
    assert not [e for e in found["events"] if e["mailbox"] in gone and not e["isCancelled"]], (
        "someone removed still holds a live copy"
    )
    link = CalendarLink.objects.get(event=event)
    assert (
        OverflowCopy.objects.filter(link=link).count()
        == copies_needed(Enrollment.objects.filter(event=event).count() - (0 if platform else 1))
        - 1
    )


@pytest.mark.parametrize("people", [499, 500, 501, 1200])
def test_organizer_calendar_any_size(outlook: OutlookWorld, people: int) -> None:
    check_sizes(outlook, people, platform=False)


@pytest.mark.parametrize("people", [499, 500, 501, 1200])
def test_platform_calendar_any_size(outlook: OutlookWorld, people: int) -> None:
    check_sizes(outlook, people, platform=True)


@pytest.mark.parametrize("platform", [False, True], ids=["organizer", "platform"])
def test_five_thousand(outlook: OutlookWorld, platform: bool) -> None:
    check_sizes(outlook, 5000, platform=platform)


def test_seats_are_kept_when_others_come_and_go(outlook: OutlookWorld) -> None:
    """Adding and removing others never moves anyone: no second invitation."""
    guests = crowd(outlook, 1300, platform=True)
    event = big_event(outlook, 1000, guests, "Stable seats")
    outlook.wait_synced(event.pk, timeout=90)
    before = dict(CopySeat.objects.filter(event=event).values_list("user_id", "part"))
    remove(event, guests[10:20])
    add(event, guests[999:1300])
    outlook.wait_synced(event.pk, timeout=90)
    after = dict(CopySeat.objects.filter(event=event).values_list("user_id", "part"))
    stayed = set(before) & set(after)
    assert len(stayed) == 1000 - 10
    assert all(before[u] == after[u] for u in stayed)
    check_everyone_once(outlook, event, SERVICE, location="Main hall")


def test_back_to_one_copy(outlook: OutlookWorld) -> None:
    """An event that fits in one copy again deletes its overflow copies and forgets seats."""
    guests = crowd(outlook, 700, platform=True)
    event = big_event(outlook, 700, guests, "Shrinking")
    outlook.wait_synced(event.pk, timeout=90)
    assert OverflowCopy.objects.filter(link__event=event).count() == 1
    before = copy_of(census(outlook, "Shrinking"))
    remove(event, guests[:300])
    outlook.wait_synced(event.pk, timeout=90)
    after = copy_of(census(outlook, "Shrinking"))
    moved = frozenset(a for a, copy in after.items() if before[a] != copy)
    assert len(moved) == 200  # those of the overflow copy, now on the event's own copy
    check_everyone_once(outlook, event, SERVICE, location="Main hall", moved=moved)
    assert not OverflowCopy.objects.filter(link__event=event).exists()
    assert not CopySeat.objects.filter(event=event).exists()


def test_hidden_attendees(outlook: OutlookWorld) -> None:
    """Above the site's size the list is hidden: attendees' copies name only themselves, and
    the mailbox viewer says the list is hidden. An event may choose to show it."""
    OutlookSettings.objects.filter(pk=1).update(hide_attendees_above=20)
    guests = crowd(outlook, 30, platform=True)
    event = big_event(outlook, 25, guests, "Hidden list")
    small = big_event(outlook, 10, guests, "Visible list")
    outlook.wait_synced(event.pk)
    outlook.wait_synced(small.pk)
    found = census(outlook, "Hidden list")
    copies = [e for e in found["events"] if not e["isOrganizer"]]
    assert len(copies) == 25
    assert all(e["hideAttendees"] and e["attendees"] == [e["mailbox"]] for e in copies)
    visible = [e for e in census(outlook, "Visible list")["events"] if not e["isOrganizer"]]
    assert all(not e["hideAttendees"] and len(e["attendees"]) == 10 for e in visible)

    mine = copies[0]
    with httpx.Client(base_url=outlook.emulator.ui_url) as viewer:
        signed_in = viewer.post(
            "/mailboxes/sign-in", data={"username": mine["mailbox"], "password": PASSWORD}
        )
        assert signed_in.status_code == 303
        page = viewer.get(f"/mailboxes/{mine['mailbox']}/events/{mine['id']}")
        assert page.status_code == 200
        assert "The organizer hid the attendee list" in page.text
        assert "Attendees (1)" in page.text
        organizers = next(e for e in found["events"] if e["isOrganizer"])
        viewer.post("/mailboxes/sign-in", data={"username": SERVICE, "password": PASSWORD})
        page = viewer.get(f"/mailboxes/{SERVICE}/events/{organizers['id']}")
        assert "Attendee list hidden: each attendee sees only themselves" in page.text

    # The organizer shows the list after all: every copy lists everyone again.
    Event.objects.filter(pk=event.pk).update(attendee_list=AttendeeList.SHOWN)
    update(event, location="Shown hall")
    outlook.wait_synced(event.pk)
    copies = [e for e in census(outlook, "Hidden list")["events"] if not e["isOrganizer"]]
    assert all(not e["hideAttendees"] and len(e["attendees"]) == 25 for e in copies)


def test_a_big_event_moves_whole_to_the_platform_calendar(outlook: OutlookWorld) -> None:
    """A mode switch moves every copy: the new calendar gets its own copies (each person
    invited once there) and the old calendar's copies are all cancelled."""
    from .test_mode_switch import confirm, job_id_of, preview, wait_for_job

    guests = crowd(outlook, 700, platform=False)
    event = big_event(outlook, 700, guests, "Moving crowd")
    outlook.wait_synced(event.pk, timeout=90)
    assert OverflowCopy.objects.filter(link__event=event, mailbox=ADA).count() == 1

    job = wait_for_job(
        outlook,
        job_id_of(confirm(outlook, preview(outlook, mode="platform", service_mailbox=SERVICE))),
    )
    assert (job.done, job.failed) == (1, 0)
    outlook.wait_synced(event.pk, timeout=90)
    found = census(outlook, "Moving crowd")
    # Cancelling removes the organizer's own events: none of Ada's copies is left live (she
    # is now invited from the service mailbox, as everyone else).
    assert not [
        e
        for e in found["events"]
        if e["mailbox"] == ADA and e["isOrganizer"] and not e["isCancelled"]
    ]
    assert not OverflowCopy.objects.filter(link__event=event, mailbox=ADA).exists()
    # One invitation from each calendar (Ada, the organizer before, only from the new one).
    check_everyone_once(
        outlook,
        event,
        SERVICE,
        location="Main hall",
        invitations=2,
        newly_invited=frozenset({ADA}),
    )


def test_a_change_one_copy_refused_keeps_the_event_pending(outlook: OutlookWorld) -> None:
    """Outlook refuses a change on one overflow copy: the event is not marked done (its panel
    says some people still see the previous version) until that copy has it too."""
    guests = crowd(outlook, 1200, platform=True)
    event = big_event(outlook, 1200, guests, "Refused once")
    outlook.wait_synced(event.pk, timeout=90)
    refused = OverflowCopy.objects.get(link__event=event, part=2)
    outlook.emulator.control(
        "POST",
        "/faults",
        {"rules": [{"method": "PATCH", "path": refused.graph_id, "status": 503, "count": 2}]},
    ).raise_for_status()

    update(event, location="Moved hall")
    outlook.wait_until(
        lambda: SyncLogEntry.objects.filter(event=event, action="update", status="503").exists()
    )
    link = CalendarLink.objects.get(event=event)
    assert link.is_behind
    page = outlook.browser(ADA).get(event.get_absolute_url()).content.decode()
    assert "some people still see the previous version" in page

    outlook.wait_synced(event.pk, timeout=60)
    check_everyone_once(outlook, event, SERVICE, location="Moved hall")


def test_answers_and_edits_on_an_overflow_copy_are_read_back(outlook: OutlookWorld) -> None:
    """A decline given on an overflow copy unenrolls as on the own copy; a place edited on an
    overflow copy in Outlook is put back (what a change notification on it leads to)."""
    from convene.outlook import tasks
    from convene.outlook.inbound.reconcile import reconcile

    guests = crowd(outlook, 700, platform=True)
    event = big_event(outlook, 700, guests, "Answered on a copy")
    outlook.wait_synced(event.pk, timeout=90)
    overflow = OverflowCopy.objects.get(link__event=event, part=1)
    seated = CopySeat.objects.filter(event=event, part=1).select_related("user").first()
    assert seated is not None
    decliner = seated.user.email
    (mine,) = [
        e
        for e in census(outlook, "Answered on a copy")["events"]
        if e["mailbox"] == decliner and not e["isOrganizer"]
    ]
    outlook.emulator.control(
        "POST", f"/mailboxes/{decliner}/events/{mine['id']}/respond", {"response": "decline"}
    ).raise_for_status()
    outlook.emulator.control(
        "PATCH",
        f"/mailboxes/{SERVICE}/events/{overflow.graph_id}",
        {"location": {"displayName": "Edited in Outlook"}},
    ).raise_for_status()

    outlook.wait_until(lambda: reconcile(SERVICE, overflow.graph_id, tasks.enqueue_sync))

    assert not Enrollment.objects.filter(event=event, user__email=decliner).exists()
    assert SyncLogEntry.objects.filter(event=event, action="drift_overwritten").exists()
    outlook.wait_synced(event.pk, timeout=60)
    check_everyone_once(outlook, event, SERVICE, location="Main hall")
