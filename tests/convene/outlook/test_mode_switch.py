"""Switching modes with events already in Outlook: the preview, then a job that moves them
(new copy first, old one cancelled), exactly as previewed, with nothing lost or doubled."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from convene.events import services
from convene.outlook import tasks
from convene.outlook.mailboxes.platform import _app_tokens as app_tokens_cache
from convene.outlook.models import (
    CalendarLink,
    Job,
    LinkState,
    Mode,
    MoveStep,
    OutlookSettings,
    SyncLogEntry,
)
from convene.outlook.moves import engine, modeswitch
from convene.outlook.outbound import push

from .conftest import EVENT_ATTENDEES, OutlookWorld, event_with_attendees
from .test_connect_and_sync import ADA, ALAN, GRACE
from .test_platform import (
    ADMIN,
    SERVICE,
    platform_seed,
    use_platform_calendar,
)

ATTENDEES = EVENT_ATTENDEES


@pytest.fixture
def world(outlook: OutlookWorld) -> OutlookWorld:
    app_tokens_cache.clear()
    outlook.emulator.reset(platform_seed(consented=True))
    return outlook


def live(outlook: OutlookWorld, email: str) -> Counter[str]:
    """Copies in that calendar that are not cancelled, counted by iCalUId."""
    return Counter(e["iCalUId"] for e in outlook.mailbox(email) if not e["isCancelled"])


def wait_for_job(outlook: OutlookWorld, job_id: int) -> Job:
    job: Job = outlook.wait_until(
        lambda: Job.objects.filter(pk=job_id, state=Job.State.DONE).first(), timeout=30
    )
    return job


def preview(outlook: OutlookWorld, **values: str) -> str:
    response = outlook.browser(ADMIN).post(
        "/outlook/admin/", {"enabled": "on", "unenroll_on_decline": "on", **values}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/outlook/admin/mode-switch/?")
    page = outlook.browser(ADMIN).get(response["Location"])
    assert page.status_code == 200
    return page.content.decode()


def confirm(outlook: OutlookWorld, page: str) -> Any:
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    return outlook.browser(ADMIN).post("/outlook/admin/mode-switch/", form)


def number(page: str, element_id: str) -> int:
    found = re.search(rf'id="{element_id}">(\d+)<', page)
    assert found, element_id
    return int(found.group(1))


def test_organizer_to_platform_moves_upcoming_events_exactly_as_previewed(
    world: OutlookWorld,
) -> None:
    world.connect(ADA)
    upcoming = [event_with_attendees(world, f"Upcoming {n}", days=3 + n) for n in range(3)]
    past = event_with_attendees(world, "Last week", days=-7)
    for event in [*upcoming, past]:
        world.wait_synced(event.pk)
    old_uids = {e.pk: CalendarLink.objects.get(event=e).ical_uid for e in upcoming}

    page = preview(world, mode="platform", service_mailbox=SERVICE)

    assert OutlookSettings.load().mode == Mode.ORGANIZER, "nothing changes before confirming"
    assert number(page, "moving-count") == 3
    assert number(page, "people-count") == 3  # Ada, Alan, Barbara
    assert number(page, "past-count") == 1
    assert number(page, "held-back-count") == 0

    response = confirm(world, page)

    assert response.status_code == 302
    job_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    job = wait_for_job(world, job_id)
    assert (job.total, job.done, job.failed) == (3, 3, 0)
    assert OutlookSettings.load().mode == Mode.PLATFORM
    new_uids = {e.pk: CalendarLink.objects.get(event=e).ical_uid for e in upcoming}
    assert set(live(world, SERVICE)) == set(new_uids.values())
    assert max(live(world, SERVICE).values()) == 1
    for email in (ADA, *ATTENDEES):
        copies = live(world, email)
        assert max(copies.values()) == 1, f"{email} has a copy twice"
        assert set(new_uids.values()) <= set(copies), f"{email} misses a moved event"
        assert not set(old_uids.values()) & set(copies), f"{email} still has an old copy"
    past_link = CalendarLink.objects.get(event=past)
    assert (past_link.mode, past_link.owner_mailbox) == (Mode.ORGANIZER, ADA)
    assert past_link.ical_uid in live(world, ADA), "past events stay where they are"
    messages = world.emulator.control("GET", f"/mailboxes/{ALAN}/messages").json()["value"]
    cancellations = [m for m in messages if m.get("meetingMessageType") == "meetingCancelled"]
    assert len(cancellations) == 3
    assert all(f"moved to the calendar of {SERVICE}" in str(m) for m in cancellations)
    progress = world.browser(ADMIN).get(f"/outlook/admin/jobs/{job_id}/").content.decode()
    assert 'id="job-done">3<' in progress and 'id="job-total">3<' in progress
    logged = Counter(SyncLogEntry.objects.values_list("action", flat=True))
    assert logged["move_started"] == 3
    assert logged["cancel_old_copy"] == 3
    assert logged["moved"] == 3


def test_platform_to_organizer_moves_into_the_organizers_calendar(world: OutlookWorld) -> None:
    use_platform_calendar()
    events = [event_with_attendees(world, f"Talk {n}", days=2 + n) for n in range(2)]
    for event in events:
        world.wait_synced(event.pk)
    world.connect(ADA)

    page = preview(world, mode="organizer", service_mailbox=SERVICE)
    assert number(page, "moving-count") == 2
    job = wait_for_job(world, job_id_of(confirm(world, page)))

    assert (job.done, job.failed) == (2, 0)
    assert not live(world, SERVICE)
    ada_copies = live(world, ADA)
    assert len(ada_copies) == 2 and max(ada_copies.values()) == 1
    for email in ATTENDEES:
        assert set(live(world, email)) == set(ada_copies)
    for event in events:
        link = CalendarLink.objects.get(event=event)
        assert (link.mode, link.owner_mailbox, link.state) == (Mode.ORGANIZER, ADA, "synced")


def test_an_organizer_who_has_not_connected_keeps_their_events_where_they_are(
    world: OutlookWorld,
) -> None:
    use_platform_calendar()
    adas = event_with_attendees(world, "Ada's talk", days=2)
    graces = event_with_attendees(world, "Grace's talk", days=3, creator=GRACE)
    for event in (adas, graces):
        world.wait_synced(event.pk)
    world.connect(ADA)

    page = preview(world, mode="organizer", service_mailbox=SERVICE)
    assert number(page, "moving-count") == 1
    assert number(page, "held-back-count") == 1
    assert "Grace Hopper has not connected Outlook" in page
    job = wait_for_job(world, job_id_of(confirm(world, page)))

    assert (job.done, job.failed) == (1, 1)
    link = CalendarLink.objects.get(event=graces)
    assert (link.mode, link.owner_mailbox) == (Mode.PLATFORM, SERVICE)
    services.update_event(
        graces,
        services.EventDetails(
            **{**services.EventDetails.of(graces).__dict__, "title": "Still here"}
        ),
        actor=None,
    )
    world.wait_synced(graces.pk)
    assert [e["subject"] for e in world.mailbox(SERVICE) if not e["isCancelled"]] == ["Still here"]

    world.connect(GRACE)
    world.browser(ADMIN).post(f"/outlook/admin/jobs/{job.pk}/resume/")
    job = wait_for_job(world, job.pk)

    assert (job.done, job.failed) == (2, 0)
    assert not live(world, SERVICE)
    assert len(live(world, GRACE)) == 1


def test_a_move_interrupted_after_the_new_copy_was_made_finishes_without_a_duplicate(
    world: OutlookWorld,
) -> None:
    world.connect(ADA)
    event = event_with_attendees(world, "Interrupted", days=4)
    old = world.wait_synced(event.pk)
    OutlookSettings.objects.filter(pk=1).update(service_mailbox=SERVICE)
    job = modeswitch.start(
        modeswitch.Destination(Mode.PLATFORM, SERVICE),
        fingerprint=None,
        actor_id=world.people[ADMIN].pk,
        enqueue_job=lambda job_id: None,  # no worker: we play the crash ourselves
    )
    assert job is not None
    step = MoveStep.objects.get(job=job)
    # The worker made the new copy, then died before it noted it (or cancelled the old one).
    link = CalendarLink.objects.get(event=event)
    assert engine._detach(
        link, step, modeswitch.Destination(Mode.PLATFORM, SERVICE), modeswitch.RULES
    )
    push.sync_event(event.pk, tasks.enqueue_sync)
    CalendarLink.objects.filter(event=event).update(
        graph_id="", ical_uid="", synced_version=0, last_pushed={}, state=LinkState.PENDING
    )

    engine.run(job.pk, tasks.enqueue_sync, lambda job_id, delay: None)
    engine.run(job.pk, tasks.enqueue_sync, lambda job_id, delay: None)  # and once more

    job.refresh_from_db()
    assert (job.state, job.done) == (Job.State.DONE, 1)
    new = CalendarLink.objects.get(event=event)
    for email in (SERVICE, ADA, *ATTENDEES):
        copies = live(world, email)
        assert copies == Counter({new.ical_uid: 1}), email
    assert old.ical_uid != new.ical_uid
    assert world.stats()["requests"]["byOperation"].get("events.cancel") == 1


def test_a_changed_plan_is_shown_again_before_anything_moves(world: OutlookWorld) -> None:
    world.connect(ADA)
    first = event_with_attendees(world, "First", days=2)
    world.wait_synced(first.pk)
    page = preview(world, mode="platform", service_mailbox=SERVICE)
    second = event_with_attendees(world, "Second", days=3)
    world.wait_synced(second.pk)

    response = confirm(world, page)

    assert response.status_code == 200
    assert b"changed since the preview" in response.content
    assert b'id="moving-count">2<' in response.content
    assert not Job.objects.exists()
    assert OutlookSettings.load().mode == Mode.ORGANIZER


def job_id_of(response: Any) -> int:
    assert response.status_code == 302, response.content
    return int(response["Location"].rstrip("/").rsplit("/", 1)[1])
