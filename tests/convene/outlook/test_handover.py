"""An organizer leaves: their events are parked and the admins told; an admin hands them over
(to co-organizers, one person, or the platform calendar) as a job on the move engine; each
person gets one invitation to the new copy and one cancellation of the old one, nothing else."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from convene.accounts.models import User
from convene.core.models import Notice
from convene.events import services
from convene.events.models import EnrollmentRole, Event
from convene.outlook import tasks
from convene.outlook.inbound import delta
from convene.outlook.mailboxes.platform import _app_tokens as app_tokens_cache
from convene.outlook.models import (
    CalendarLink,
    Job,
    LinkState,
    Mode,
    MoveStep,
    SyncLogEntry,
)
from convene.outlook.moves import engine, handover
from convene.outlook.outbound import push, queueing

from .conftest import EVENT_ATTENDEES, OutlookWorld, event_with_attendees
from .test_connect_and_sync import ADA, ALAN, EDSGER, GRACE
from .test_mode_switch import number as switch_number
from .test_mode_switch import preview as switch_preview
from .test_platform import ADMIN, SERVICE, platform_seed, use_platform_calendar

ATTENDEES = EVENT_ATTENDEES


def make_event(
    world: OutlookWorld,
    title: str,
    *,
    days: float,
    creator: str = ADA,
    co_organizer: str | None = GRACE,
) -> Event:
    """The shared event, with Grace as co-organizer unless said otherwise: she takes over."""
    return event_with_attendees(world, title, days=days, creator=creator, co_organizer=co_organizer)


def deactivate_in_django_admin(world: OutlookWorld, email: str) -> None:
    """What an admin does at /admin/: untick "active" on the person's page and save."""
    person = world.people[email]
    response = world.browser(ADMIN).post(
        f"/admin/accounts/user/{person.pk}/change/",
        {"email": person.email, "display_name": person.display_name, "role": person.role},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    person.refresh_from_db()
    assert not person.is_active


def deactivate_on_users_page(world: OutlookWorld, email: str) -> None:
    person = world.people[email]
    response = world.browser(ADMIN).post(f"/manage/users/{person.pk}/active/", {"active": "0"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert not person.is_active


def live(world: OutlookWorld, email: str) -> Counter[str]:
    """Copies in that calendar that are not cancelled, counted by iCalUId."""
    return Counter(e["iCalUId"] for e in world.mailbox(email) if not e["isCancelled"])


def copy_of(world: OutlookWorld, email: str, ical_uid: str) -> dict[str, Any]:
    (found,) = [e for e in world.mailbox(email) if e["iCalUId"] == ical_uid]
    return found


def messages(world: OutlookWorld, email: str) -> list[dict[str, Any]]:
    answer = world.emulator.control("GET", f"/mailboxes/{email}/messages").json()
    found: list[dict[str, Any]] = answer["value"]
    return found


def kinds(found: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """Meeting messages as (kind, iCalUId): invitations, updates and cancellations."""
    counted: Counter[tuple[str, str]] = Counter()
    for message in found:
        kind = message.get("meetingMessageType") or ""
        if kind == "meetingRequest":
            kind = message.get("meetingRequestType") or kind
        counted[(kind, message["conversationId"])] += 1
    return counted


def attendees(graph_event: dict[str, Any]) -> set[tuple[str, str]]:
    return {(a["emailAddress"]["address"].lower(), a["type"]) for a in graph_event["attendees"]}


def operations(world: OutlookWorld) -> Counter[str]:
    return Counter(world.stats()["requests"]["byOperation"])


def mailboxes(world: OutlookWorld) -> Counter[str]:
    return Counter(world.stats()["requests"]["byMailbox"])


def number(page: str, element_id: str) -> int:
    found = re.search(rf'id="{element_id}">(\d+)<', page)
    assert found, element_id
    return int(found.group(1))


def preview(world: OutlookWorld, leaver: str, **choice: str) -> Any:
    return world.browser(ADMIN).get(f"/outlook/admin/handover/{world.people[leaver].pk}/", choice)


def confirm(world: OutlookWorld, leaver: str, page: str) -> Any:
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    return world.browser(ADMIN).post(f"/outlook/admin/handover/{world.people[leaver].pk}/", form)


def wait_for_job(world: OutlookWorld, response: Any) -> Job:
    assert response.status_code == 302, response.content.decode()[:2000]
    job_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    job: Job = world.wait_until(
        lambda: Job.objects.filter(pk=job_id, state=Job.State.DONE).first(), timeout=30
    )
    return job


def retitle(event: Event, title: str) -> None:
    event.refresh_from_db()
    details = services.EventDetails.of(event)
    services.update_event(
        event, services.EventDetails(**{**details.__dict__, "title": title}), actor=None
    )


@pytest.fixture
def leaving(outlook: OutlookWorld) -> dict[str, Event]:
    """Ada (connected) organizes events with Grace (connected) as co-organizer, and then some
    that must not move; every one is in Outlook. Ada has not left yet."""
    outlook.connect(ADA)
    outlook.connect(GRACE)
    events = {
        "first": make_event(outlook, "Compilers", days=3),
        "second": make_event(outlook, "Databases", days=5),
        "alone": make_event(outlook, "No co-organizer", days=4, co_organizer=None),
        "past": make_event(outlook, "Last week", days=-7),
        "cancelled": make_event(outlook, "Called off", days=6),
        "graces": make_event(outlook, "Grace's own", days=2, creator=GRACE, co_organizer=ADA),
    }
    services.cancel_event(events["cancelled"], actor=None, reason="Room flooded.")
    for event in events.values():
        outlook.wait_synced(event.pk)
    return events


# --- noticing that someone left -----------------------------------------------------------


def test_deactivating_an_organizer_parks_their_events_and_tells_the_admins(
    outlook: OutlookWorld, leaving: dict[str, Event]
) -> None:
    before = mailboxes(outlook)
    assert ADA in delta.mailboxes()

    deactivate_in_django_admin(outlook, ADA)

    parked = {
        name
        for name, event in leaving.items()
        if CalendarLink.objects.get(event=event).state == LinkState.NEEDS_NEW_ORGANIZER
    }
    assert parked == {"first", "second", "alone"}
    (notice,) = Notice.objects.filter(user=outlook.people[ADMIN])
    assert "Ada Lovelace" in notice.text and "3 upcoming events" in notice.text
    assert notice.url == f"/outlook/admin/handover/{outlook.people[ADA].pk}/"
    dashboard = outlook.browser(ADMIN).get("/outlook/admin/sync/").content.decode()
    assert "3 events of Ada Lovelace (ada@contoso.test) need a new organizer" in dashboard
    assert f'href="/outlook/admin/handover/{outlook.people[ADA].pk}/"' in dashboard
    assert SyncLogEntry.objects.filter(action="organizer_left").count() == 1
    assert ADA not in delta.mailboxes(), "no subscription or delta read as someone who left"
    event_page = f"/events/{leaving['first'].pk}/"
    assert "Needs a new organizer" in outlook.browser(GRACE).get(event_page).content.decode()
    admin_view = outlook.browser(ADMIN).get(event_page).content.decode()
    assert f'href="/outlook/admin/handover/{outlook.people[ADA].pk}/">hand over<' in admin_view

    # Changes to a parked event do not reach Outlook as Ada, and nothing loops.
    retitle(leaving["first"], "Compilers (changed after Ada left)")
    queueing.sweep(tasks.enqueue_sync)
    outlook.wait_until(lambda: not CalendarLink.objects.filter(queued_at__isnull=False).exists())
    link = CalendarLink.objects.get(event=leaving["first"])
    assert link.state == LinkState.NEEDS_NEW_ORGANIZER and link.is_behind
    assert mailboxes(outlook)[ADA] == before[ADA], "no request as someone who left"

    # Reactivated: Ada's events sync again, as her.
    person = outlook.people[ADA]
    person.is_active = True
    person.save()
    outlook.wait_synced(leaving["first"].pk)
    subjects = {e["subject"] for e in outlook.mailbox(ADA) if not e["isCancelled"]}
    assert "Compilers (changed after Ada left)" in subjects


def test_a_sync_for_someone_deactivated_without_the_signal_parks_instead_of_acting(
    outlook: OutlookWorld, leaving: dict[str, Event]
) -> None:
    # A bulk update skips save() and its signals; the sync engine still refuses to act as her.
    User.objects.filter(pk=outlook.people[ADA].pk).update(is_active=False)
    before = mailboxes(outlook)[ADA]

    retitle(leaving["second"], "Databases (changed)")

    outlook.wait_until(
        lambda: (
            CalendarLink.objects.get(event=leaving["second"]).state == LinkState.NEEDS_NEW_ORGANIZER
        )
    )
    assert mailboxes(outlook)[ADA] == before


# --- handing over to co-organizers --------------------------------------------------------


def test_handover_to_co_organizers_moves_each_event_once_and_touches_nothing_else(
    outlook: OutlookWorld, leaving: dict[str, Event]
) -> None:
    moved = (leaving["first"], leaving["second"])
    old = {e.pk: CalendarLink.objects.get(event=e) for e in moved}
    untouched = {
        name: CalendarLink.objects.get(event=leaving[name]).ical_uid
        for name in ("alone", "past", "cancelled", "graces")
    }
    deactivate_in_django_admin(outlook, ADA)

    response = preview(outlook, ADA, target="coorganizer")

    page = response.content.decode()
    assert response.status_code == 200
    assert (number(page, "moving-count"), number(page, "without-count")) == (2, 1)
    assert (number(page, "past-count"), number(page, "cancelled-count")) == (1, 1)
    assert number(page, "deleted-count") == 0
    assert number(page, "people-count") == 3  # Grace, Alan, Barbara
    assert not Job.objects.exists(), "nothing happens before confirming"
    inboxes_before = {email: messages(outlook, email) for email in (GRACE, *ATTENDEES)}
    outlook.emulator.control("POST", "/stats/reset").raise_for_status()

    job = wait_for_job(outlook, confirm(outlook, ADA, page))

    assert (job.kind, job.total, job.done, job.failed) == (Job.Kind.HANDOVER, 2, 2, 0)
    # Graph: one new copy per moved event (Grace's calendar), one cancel of each old copy
    # (Ada's), and not one request about any other event.
    seen = operations(outlook)
    assert seen["events.create"] == 2 and seen["events.cancel"] == 2
    assert seen["events.update"] == 0 and seen["events.delete"] == 0
    assert set(mailboxes(outlook)) == {ADA, GRACE}
    for event in moved:
        event.refresh_from_db()
        new = CalendarLink.objects.get(event=event)
        assert (new.owner_mailbox, new.state, new.mode) == (GRACE, "synced", Mode.ORGANIZER)
        assert event.created_by == outlook.people[GRACE]
        assert event.enrollment_of(outlook.people[ADA]) is None, "the leaver is off the event"
        assert event.enrollment_of(outlook.people[GRACE]).role == EnrollmentRole.ORGANIZER  # type: ignore[union-attr]
        # One copy of the new meeting everywhere, the old one cancelled everywhere.
        for email in (GRACE, *ATTENDEES):
            assert live(outlook, email)[new.ical_uid] == 1, email
            assert live(outlook, email)[old[event.pk].ical_uid] == 0, email
        assert not live(outlook, ADA)[old[event.pk].ical_uid], "cancelled in Ada's calendar"
        # The same people, minus the organizer (who is not their own attendee).
        before = attendees(old[event.pk].last_pushed) - {(GRACE, "required")}
        assert attendees(copy_of(outlook, GRACE, new.ical_uid)) == before
    for name, uid in untouched.items():
        assert CalendarLink.objects.get(event=leaving[name]).ical_uid == uid, name
    # Each person: one invitation per moved event and one cancellation of its old copy.
    for email in ATTENDEES:
        arrived = messages(outlook, email)[len(inboxes_before[email]) :]
        expected = Counter()
        for event in moved:
            expected[("newMeetingRequest", CalendarLink.objects.get(event=event).ical_uid)] = 1
            expected[("meetingCancelled", old[event.pk].ical_uid)] = 1
        assert kinds(arrived) == expected, email
    cancellations = [
        m for m in messages(outlook, ALAN) if m.get("meetingMessageType") == "meetingCancelled"
    ]
    assert all(
        "Ada Lovelace no longer organizes this event; Grace Hopper does" in str(m)
        for m in cancellations[-2:]
    )
    # Parked without anyone eligible; the job page and the audit log tell the story.
    assert CalendarLink.objects.get(event=leaving["alone"]).state == LinkState.NEEDS_NEW_ORGANIZER
    progress = outlook.browser(ADMIN).get(f"/outlook/admin/jobs/{job.pk}/").content.decode()
    assert "The events of Ada Lovelace are handed over" in progress  # the job is done
    assert 'id="job-done">2<' in progress and 'id="job-total">2<' in progress
    logged = Counter(
        SyncLogEntry.objects.filter(details__job=job.pk).values_list("action", flat=True)
    )
    assert logged["organizer_changed"] == 2 and logged["cancel_old_copy"] == 2
    assert logged["moved"] == 2 and logged["handover_finished"] == 1
    dashboard = outlook.browser(ADMIN).get("/outlook/admin/sync/").content.decode()
    assert "1 event of Ada Lovelace (ada@contoso.test) needs a new organizer" in dashboard

    # Later edits reach everyone from Grace's calendar.
    outlook.emulator.control("POST", "/stats/reset").raise_for_status()
    retitle(leaving["first"], "Compilers, now run by Grace")
    outlook.wait_synced(leaving["first"].pk)
    uid = CalendarLink.objects.get(event=leaving["first"]).ical_uid
    for email in (GRACE, *ATTENDEES):
        assert copy_of(outlook, email, uid)["subject"] == "Compilers, now run by Grace"
    assert set(mailboxes(outlook)) == {GRACE}


def test_without_the_leavers_authorization_the_old_copy_is_recorded_not_a_failure(
    outlook: OutlookWorld, leaving: dict[str, Event]
) -> None:
    deactivate_in_django_admin(outlook, ADA)
    # Ada's tenant revoked her sessions too, access tokens included.
    outlook.emulator.advance_clock(2)
    outlook.emulator.control("POST", f"/users/{ADA}/revoke", {"accessTokens": True})
    mail.outbox.clear()
    page = preview(outlook, ADA, target="coorganizer").content.decode()

    job = wait_for_job(outlook, confirm(outlook, ADA, page))

    assert (job.done, job.failed) == (2, 0)
    steps = MoveStep.objects.filter(job=job)
    assert {s.state for s in steps} == {MoveStep.State.OLD_COPY_LEFT}
    assert all("old copy there was not cancelled" in s.note for s in steps)
    assert "could not be cancelled by Convene" in job.message
    progress = outlook.browser(ADMIN).get(f"/outlook/admin/jobs/{job.pk}/").content.decode()
    assert 'id="old-copies-left"' in progress and "Compilers" in progress
    assert (
        SyncLogEntry.objects.filter(
            action="cancel_old_copy", status="AuthorizationLost", details__job=job.pk
        ).count()
        == 2
    )
    for event in (leaving["first"], leaving["second"]):
        new = CalendarLink.objects.get(event=event)
        assert (new.owner_mailbox, new.state) == (GRACE, "synced")
        assert live(outlook, ALAN)[new.ical_uid] == 1
    assert not [m for m in mail.outbox if ADA in m.to], "nobody asks a leaver to reconnect"


def test_a_handover_interrupted_after_the_new_copy_finishes_without_sending_anything_twice(
    outlook: OutlookWorld, leaving: dict[str, Event]
) -> None:
    deactivate_in_django_admin(outlook, ADA)
    event = leaving["first"]
    old = CalendarLink.objects.get(event=event)
    job = handover.start(
        outlook.people[ADA],
        handover.Choice(handover.COORGANIZER),
        fingerprint=None,
        actor=outlook.people[ADMIN],
        enqueue_job=lambda job_id: None,  # no worker: we play the crash ourselves
    )
    step = MoveStep.objects.get(job=job, event=event)
    # The worker made the new copy, then died before it noted it (or cancelled the old one).
    link = CalendarLink.objects.get(event=event)
    assert engine._detach(link, step, engine.Destination.current(), handover.RULES)
    push.sync_event(event.pk, tasks.enqueue_sync)
    made = outlook.wait_synced(event.pk).ical_uid  # by us, or the worker the change woke
    CalendarLink.objects.filter(event=event).update(
        graph_id="", ical_uid="", synced_version=0, last_pushed={}, state=LinkState.PENDING
    )
    outlook.emulator.control("POST", "/stats/reset").raise_for_status()
    inbox = len(messages(outlook, ALAN))

    engine.run(job.pk, tasks.enqueue_sync, lambda job_id, delay: None)
    engine.run(job.pk, tasks.enqueue_sync, lambda job_id, delay: None)  # and once more

    job.refresh_from_db()
    assert (job.state, job.done) == (Job.State.DONE, 2)
    new = CalendarLink.objects.get(event=event)
    assert new.ical_uid == made, "the retried create returned the copy already made"
    for email in (GRACE, *ATTENDEES):
        assert live(outlook, email)[new.ical_uid] == 1, email
        assert live(outlook, email)[old.ical_uid] == 0, email
    arrived = kinds(messages(outlook, ALAN)[inbox:])
    assert arrived[("newMeetingRequest", new.ical_uid)] == 0, "no second invitation"
    assert arrived[("meetingCancelled", old.ical_uid)] == 1
    assert operations(outlook)["events.cancel"] == 2  # this event's and the second event's


# --- one named person; the platform calendar ----------------------------------------------


def test_one_named_person_takes_every_event_even_without_co_organizers(
    outlook: OutlookWorld, leaving: dict[str, Event]
) -> None:
    deactivate_on_users_page(outlook, ADA)
    assert Notice.objects.filter(user=outlook.people[ADMIN]).count() == 1
    page = preview(outlook, ADA, target="person", person=GRACE.upper()).content.decode()
    assert (number(page, "moving-count"), number(page, "without-count")) == (3, 0)

    job = wait_for_job(outlook, confirm(outlook, ADA, page))

    assert (job.done, job.failed) == (3, 0)
    alone = leaving["alone"]
    alone.refresh_from_db()
    assert alone.created_by == outlook.people[GRACE]
    assert CalendarLink.objects.get(event=alone).owner_mailbox == GRACE
    assert not handover.waiting()


def test_handover_to_the_platform_calendar(outlook: OutlookWorld) -> None:
    app_tokens_cache.clear()
    outlook.emulator.reset(platform_seed(consented=True))
    outlook.connect(ADA)
    event = make_event(outlook, "Left in Ada's calendar", days=3)
    old = outlook.wait_synced(event.pk)
    use_platform_calendar()  # Ada's copy stays in her calendar (held back, say)
    deactivate_in_django_admin(outlook, ADA)

    refused = preview(outlook, ADA, target="coorganizer")
    assert refused.status_code == 400
    assert b"can only be handed over to it" in refused.content
    page = preview(outlook, ADA, target="platform").content.decode()
    job = wait_for_job(outlook, confirm(outlook, ADA, page))

    assert (job.done, job.failed) == (1, 0)
    new = CalendarLink.objects.get(event=event)
    assert (new.mode, new.owner_mailbox) == (Mode.PLATFORM, SERVICE)
    event.refresh_from_db()
    assert event.created_by == outlook.people[GRACE], "the co-organizer runs it in Convene"
    assert live(outlook, SERVICE) == Counter({new.ical_uid: 1})
    for email in (GRACE, *ATTENDEES):
        assert live(outlook, email) == Counter({new.ical_uid: 1}), email
    assert ADA not in {a for a, _ in attendees(copy_of(outlook, SERVICE, new.ical_uid))}
    assert not live(outlook, ADA)[old.ical_uid], "cancelled in Ada's calendar"


# --- refusals -----------------------------------------------------------------------------


def test_only_admins_may_hand_over_and_only_with_a_csrf_token(
    outlook: OutlookWorld, leaving: dict[str, Event]
) -> None:
    deactivate_in_django_admin(outlook, ADA)
    url = f"/outlook/admin/handover/{outlook.people[ADA].pk}/"

    assert outlook.browser(GRACE).get(url).status_code == 403
    assert outlook.browser(GRACE).post(url, {"target": "coorganizer"}).status_code == 403
    assert Client().get(url).status_code == 302  # to sign in
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(outlook.people[ADMIN])
    assert strict.post(url, {"target": "coorganizer"}).status_code == 403
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("leaver", "choice", "says"),
    [
        (ADA, {"target": "person", "person": EDSGER}, "may not organize events"),
        (ADA, {"target": "person", "person": "nobody@contoso.test"}, "Nobody with the email"),
        (ADA, {"target": "person", "person": ""}, "Type the email address"),
        (ADA, {"target": "person", "person": ADA}, "is the person who left"),
        (ADA, {"target": "platform"}, "platform calendar is not in use"),
        (ADA, {"target": "everyone"}, "Choose who takes the events over"),
        (GRACE, {"target": "coorganizer"}, "is still active"),
    ],
)
def test_bad_choices_are_refused_and_change_nothing(
    outlook: OutlookWorld,
    leaving: dict[str, Event],
    leaver: str,
    choice: dict[str, str],
    says: str,
) -> None:
    deactivate_in_django_admin(outlook, ADA)
    url = f"/outlook/admin/handover/{outlook.people[leaver].pk}/"
    links_before = list(CalendarLink.objects.order_by("pk").values())
    requests_before = outlook.stats()["requests"]["total"]

    for response in (
        outlook.browser(ADMIN).get(url, choice),
        outlook.browser(ADMIN).post(url, {**choice, "fingerprint": "x"}),
    ):
        assert response.status_code == 400
        assert says in response.content.decode()
        assert "Nothing was changed" in response.content.decode()

    assert not Job.objects.exists()
    assert list(CalendarLink.objects.order_by("pk").values()) == links_before
    assert outlook.stats()["requests"]["total"] == requests_before


def test_a_person_who_has_not_connected_outlook_cannot_take_the_events(
    outlook: OutlookWorld, leaving: dict[str, Event]
) -> None:
    deactivate_in_django_admin(outlook, ADA)
    from convene.accounts.models import Role

    outlook.people[EDSGER].role = Role.ORGANIZER
    outlook.people[EDSGER].save()

    response = preview(outlook, ADA, target="person", person=EDSGER)

    assert response.status_code == 400
    assert "has not connected Outlook" in response.content.decode()
    assert not Job.objects.exists()


def test_a_changed_plan_is_shown_again(outlook: OutlookWorld, leaving: dict[str, Event]) -> None:
    deactivate_in_django_admin(outlook, ADA)
    page = preview(outlook, ADA, target="coorganizer").content.decode()
    services.add_person(
        leaving["alone"], outlook.people[GRACE], EnrollmentRole.ORGANIZER, actor=None
    )

    response = confirm(outlook, ADA, page)

    assert response.status_code == 200
    assert b"changed since the preview" in response.content
    assert b'id="moving-count">3<' in response.content
    assert not Job.objects.exists()


def test_a_mode_switch_leaves_a_leavers_events_for_the_handover(outlook: OutlookWorld) -> None:
    app_tokens_cache.clear()
    outlook.emulator.reset(platform_seed(consented=True))
    outlook.connect(ADA)
    event = make_event(outlook, "Ada's talk", days=3)
    outlook.wait_synced(event.pk)
    deactivate_in_django_admin(outlook, ADA)

    page = switch_preview(outlook, mode="platform", service_mailbox=SERVICE)

    assert switch_number(page, "moving-count") == 0
    assert switch_number(page, "held-back-count") == 1
    assert "Ada Lovelace&#x27;s account is deactivated: hand their events over first" in page
