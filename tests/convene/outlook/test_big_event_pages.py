"""What admins and organizers see of big events: which copy each person is on (sync
dashboard), what a size means before saving (Manage people, event form), the site-wide size
above which attendee lists are hidden, and who is seated where (``outbound.copies``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from convene.accounts.models import Role, User
from convene.events.models import AttendeeList, Enrollment, EnrollmentRole, Event
from convene.outlook.models import (
    CalendarLink,
    CopySeat,
    LogKind,
    Mode,
    OutlookSettings,
    OverflowCopy,
    SyncLogEntry,
)
from convene.outlook.outbound.snapshots import event_snapshot, split_for

from .test_admin_pages import CONFIGURED

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def crowd(event: Event, count: int, role: str = EnrollmentRole.ATTENDEE) -> list[User]:
    """``count`` more people on ``event``, made in bulk (Outlook is off: nothing is sent)."""
    start = User.objects.count()
    password = make_password("x")
    users = User.objects.bulk_create(
        [
            User(
                email=f"p{start + n}@example.test", display_name=f"P{start + n}", password=password
            )
            for n in range(count)
        ]
    )
    Enrollment.objects.bulk_create([Enrollment(event=event, user=u, role=role) for u in users])
    return users


def outlook_on(mode: str = Mode.ORGANIZER, hide_above: int = 100) -> None:
    OutlookSettings.objects.update_or_create(
        pk=1,
        defaults={
            "enabled": True,
            "mode": mode,
            "service_mailbox": "events@example.test",
            "hide_attendees_above": hide_above,
        },
    )


def test_people_page_says_what_one_more_person_means(organizer: User, event: Event) -> None:
    crowd(event, 499)  # 500 people: Ada's calendar invites 499
    outlook_on(hide_above=1000)
    page = signed_in(organizer).get(f"/events/{event.pk}/people/").content.decode()
    assert "Now: In Outlook this is one event inviting 499 people." in page
    assert "Adding one more person changes this" not in page

    crowd(event, 1)
    page = signed_in(organizer).get(f"/events/{event.pk}/people/").content.decode()
    assert "Now: In Outlook this is one event inviting 500 people." in page
    assert "Adding one more person changes this:</strong> In Outlook, 501 people are more" in page
    assert "it goes out as 2 copies" in page


def test_people_page_says_when_the_list_becomes_hidden(organizer: User, event: Event) -> None:
    crowd(event, 20)  # 21 people, 20 invited
    outlook_on(hide_above=20)
    page = signed_in(organizer).get(f"/events/{event.pk}/people/").content.decode()
    assert "Attendees see who else is invited." in page
    assert "hidden (more than 20 people, the site&#x27;s setting)" in page


def test_nothing_is_said_while_outlook_is_off(organizer: User, event: Event) -> None:
    page = signed_in(organizer).get(f"/events/{event.pk}/people/").content.decode()
    assert "Size in Outlook" not in page


def test_event_form_says_what_the_size_means(organizer: User, event: Event) -> None:
    crowd(event, 1200)
    outlook_on(Mode.PLATFORM, hide_above=100)
    page = signed_in(organizer).get(f"/events/{event.pk}/edit/").content.decode()
    assert "1,201 people are more than one event may hold (500), so it goes out as 3" in page
    assert "The attendee list is hidden (more than 100 people" in page
    assert 'name="attendee_list"' in page


def test_event_form_refuses_an_unknown_attendee_list_choice(organizer: User, event: Event) -> None:
    client = signed_in(organizer)
    form = {
        "title": event.title,
        "timezone": event.timezone,
        "start": event.local_start.strftime("%Y-%m-%dT%H:%M"),
        "end": event.local_end.strftime("%Y-%m-%dT%H:%M"),
        "attendee_list": "everyone",
        "repeat-frequency": "",
    }
    response = client.post(f"/events/{event.pk}/edit/", form)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    event.refresh_from_db()
    assert event.attendee_list == AttendeeList.AUTO

    form["attendee_list"] = AttendeeList.HIDDEN
    response = client.post(f"/events/{event.pk}/edit/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    event.refresh_from_db()
    assert event.attendee_list == AttendeeList.HIDDEN


def test_admin_sets_the_size_above_which_lists_are_hidden(
    make_user: Any, settings: Any, make_event: Any
) -> None:
    settings.OUTLOOK = CONFIGURED
    admin = make_user(Role.ADMIN)
    big, small = make_event(title="Big"), make_event(title="Small")
    crowd(big, 60)
    crowd(small, 5)
    outlook_on()
    for event in (big, small):
        CalendarLink.objects.create(event=event, desired_version=3, synced_version=3)
    client = signed_in(admin)
    base = {"enabled": "on", "mode": "organizer", "unenroll_on_decline": "on"}

    refused = client.post("/outlook/admin/", {**base, "hide_attendees_above": "-1"})
    assert refused.status_code == 200
    assert OutlookSettings.load().hide_attendees_above == 100

    client.post("/outlook/admin/", {**base, "hide_attendees_above": "50"})
    assert OutlookSettings.load().hide_attendees_above == 50
    # The big event may now hide its list: it compares itself with Outlook again.
    assert CalendarLink.objects.get(event=big).is_behind
    assert not CalendarLink.objects.get(event=small).is_behind
    assert SyncLogEntry.objects.filter(
        kind=LogKind.SETTINGS,
        message="Hide the attendee list of events with more people than: 100 → 50",
    ).exists()
    # Left out of the form: unchanged.
    client.post("/outlook/admin/", base)
    assert OutlookSettings.load().hide_attendees_above == 50


def test_dashboard_shows_which_copy_each_person_is_on(
    make_user: Any, organizer: User, event: Event
) -> None:
    admin = make_user(Role.ADMIN)
    people = crowd(event, 3)
    link = CalendarLink.objects.create(event=event, graph_id="own", desired_version=2)
    OverflowCopy.objects.create(link=link, part=1, graph_id="copy1", synced_version=2)
    CopySeat.objects.create(event=event, user=people[2], part=1)

    dashboard = signed_in(admin).get("/outlook/admin/sync/").content.decode()
    assert "Events in several Outlook copies" in dashboard
    assert f"/outlook/admin/sync/events/{event.pk}/copies/" in dashboard

    page = signed_in(admin).get(f"/outlook/admin/sync/events/{event.pk}/copies/")
    text = page.content.decode()
    assert "Overflow copy 1" in text
    assert "Previous version: sync pending" in text  # the own copy is behind
    found = signed_in(admin).get(
        f"/outlook/admin/sync/events/{event.pk}/copies/", {"q": people[2].email}
    )
    rows = found.content.decode().split('id="people-copies"')[1]
    assert people[2].email in rows and "Overflow copy 1" in rows
    assert people[0].email not in rows

    refused = signed_in(organizer).get(f"/outlook/admin/sync/events/{event.pk}/copies/")
    assert refused.status_code in (302, 403)


def test_presenters_and_organizers_are_on_the_own_copy(organizer: User, event: Event) -> None:
    """Seats go to organizers and presenters first, whenever they joined; then to attendees
    in the order they joined. The room (none here) would take one place on the own copy."""
    outlook_on(Mode.PLATFORM)
    crowd(event, 700)
    presenters = crowd(event, 3, EnrollmentRole.PRESENTER)
    split = split_for(event, platform=True)
    own = {row[1] for row in split.rows(0)}
    assert len(own) == 500 and {p.pk for p in presenters} <= own and organizer.pk in own
    assert split.copies == 2 and len(split.rows(1)) == 704 - 500
    snapshot = event_snapshot(event, "events@example.test", platform=True, split=split)
    assert len(snapshot.people) == 500
    assert snapshot.hide_attendees  # 704 people, more than 100
