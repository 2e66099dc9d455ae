"""The waitlist's pages: the event page (join, position, claim, leave), Manage people (order,
move, promote, remove), the event form's switch and the admin's claim window. Bad input is
refused with a message and changes nothing; only an event's organizers manage its waitlist."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from tests.convene.conftest import VALID_EVENT

from convene.core.models import SiteSettings
from convene.events import services, waitlist
from convene.events.models import EnrollmentRole, Event, WaitlistEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def full_event(make_event: Any, make_user: Any) -> Event:
    event: Event = make_event(capacity=1, waitlist_enabled=True)
    services.enroll(event, make_user(), actor=None)
    return event


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def order(event: Event) -> list[str]:
    return [entry.user.email for entry in waitlist.waiting(event)]


def test_a_full_event_offers_its_waitlist_and_shows_the_place_taken(client, full_event, regular):
    client.force_login(regular)
    page = client.get(full_event.get_absolute_url()).content.decode()
    assert "Join the waitlist" in page and "This event is full" in page

    response = client.post(reverse("events:waitlist_join", args=[full_event.pk]), follow=True)

    assert "You are on the waitlist of “Team offsite”, number 1." in messages_of(response)
    page = response.content.decode()
    assert "number 1" in page and "Leave the waitlist" in page
    assert "1 on the waitlist" in page

    response = client.post(reverse("events:waitlist_leave", args=[full_event.pk]), follow=True)
    assert "You left the waitlist of “Team offsite”." in messages_of(response)
    assert not WaitlistEntry.objects.exists()


def test_joining_an_event_with_room_is_refused_with_a_message(client, make_event, regular):
    event = make_event(capacity=5, waitlist_enabled=True)
    client.force_login(regular)
    response = client.post(reverse("events:waitlist_join", args=[event.pk]), follow=True)
    assert messages_of(response) == ["There are places free: enroll instead."]
    assert not WaitlistEntry.objects.exists()


def test_a_full_event_without_a_waitlist_only_says_it_is_full(client, make_event, make_user):
    event = make_event(capacity=1)
    services.enroll(event, make_user(), actor=None)
    client.force_login(make_user())
    page = client.get(event.get_absolute_url()).content.decode()
    assert "This event is full" in page and "Join the waitlist" not in page


def test_an_offered_place_is_claimed_from_the_event_page(client, full_event, regular):
    site = SiteSettings.load()
    site.waitlist_claim_hours = 24
    site.save()
    waitlist.join(full_event, regular, actor=regular)
    leaver = full_event.enrollments.get(role=EnrollmentRole.ATTENDEE).user
    services.unenroll(full_event, leaver, actor=None)
    client.force_login(regular)
    assert "Claim your place" in client.get(full_event.get_absolute_url()).content.decode()

    response = client.post(reverse("events:waitlist_claim", args=[full_event.pk]), follow=True)

    assert "The place is yours: you are enrolled in “Team offsite”." in messages_of(response)
    assert full_event.enrollments.filter(user=regular, role=EnrollmentRole.ATTENDEE).exists()


def test_organizers_see_reorder_promote_and_remove_on_manage_people(
    client, full_event, organizer, make_user
):
    first, second = make_user(), make_user()
    waitlist.join(full_event, first, actor=first)
    waitlist.join(full_event, second, actor=second)
    client.force_login(organizer)
    page = client.get(reverse("events:people", args=[full_event.pk])).content.decode()
    table = page[page.index('id="waitlist"') :]
    assert table.index(f"{first.name}<") < table.index(f"{second.name}<")
    assert "Promote" in table and "Remove" in table

    move = reverse("events:waitlist_move", args=[full_event.pk, second.pk])
    response = client.post(move, {"direction": "up"}, follow=True)
    assert f"{second.name} is now number 1 on the waitlist." in messages_of(response)
    assert order(full_event) == [second.email, first.email]

    promote = reverse("events:waitlist_promote", args=[full_event.pk, first.pk])
    response = client.post(promote, follow=True)
    assert (
        f"{first.name} has a place on the event now. The capacity was raised to 2 to make room."
        in messages_of(response)
    )
    full_event.refresh_from_db()
    assert full_event.capacity == 2

    remove = reverse("events:waitlist_remove", args=[full_event.pk, second.pk])
    response = client.post(remove, follow=True)
    assert f"{second.name} is off the waitlist." in messages_of(response)
    assert order(full_event) == []


@pytest.mark.parametrize("direction", ["", "sideways", "UP"])
def test_a_move_in_no_direction_is_refused_and_changes_nothing(
    client, full_event, organizer, make_user, direction
):
    first, second = make_user(), make_user()
    waitlist.join(full_event, first, actor=first)
    waitlist.join(full_event, second, actor=second)
    client.force_login(organizer)
    move = reverse("events:waitlist_move", args=[full_event.pk, second.pk])
    response = client.post(move, {"direction": direction}, follow=True)
    assert messages_of(response) == ["Move someone up or down the waitlist."]
    assert order(full_event) == [first.email, second.email]


def test_promoting_someone_not_waiting_is_refused(client, full_event, organizer, make_user):
    client.force_login(organizer)
    stranger = make_user()
    response = client.post(
        reverse("events:waitlist_promote", args=[full_event.pk, stranger.pk]), follow=True
    )
    assert any("is not on the waitlist" in m for m in messages_of(response))
    assert not full_event.enrollments.filter(user=stranger).exists()


def test_people_who_do_not_manage_the_event_cannot_touch_its_waitlist(
    client, full_event, make_user, other_organizer
):
    first, second = make_user(), make_user()
    waitlist.join(full_event, first, actor=first)
    waitlist.join(full_event, second, actor=second)
    for outsider in (second, other_organizer):
        client.force_login(outsider)
        for name, data in (
            ("events:waitlist_move", {"direction": "up"}),
            ("events:waitlist_promote", {}),
            ("events:waitlist_remove", {}),
        ):
            response = client.post(reverse(name, args=[full_event.pk, second.pk]), data)
            assert response.status_code == 403
    assert order(full_event) == [first.email, second.email]
    full_event.refresh_from_db()
    assert full_event.capacity == 1


def test_the_event_form_refuses_a_waitlist_without_a_capacity(client, organizer):
    client.force_login(organizer)
    response = client.post(reverse("events:create"), {**VALID_EVENT, "waitlist_enabled": "on"})
    assert response.status_code == 200
    assert response.context["form"].errors["waitlist_enabled"] == [
        "A waitlist needs a capacity: say how many people may attend."
    ]
    assert not Event.objects.exists()


def test_the_event_form_turns_the_waitlist_on(client, organizer):
    client.force_login(organizer)
    client.post(
        reverse("events:create"), {**VALID_EVENT, "capacity": "10", "waitlist_enabled": "on"}
    )
    event = Event.objects.get()
    assert event.waitlist_enabled and event.capacity == 10
    page = client.get(reverse("events:edit", args=[event.pk])).content.decode()
    assert 'name="waitlist_enabled"' in page and "checked" in page


@pytest.mark.parametrize("hours", ["-1", "169", "a day"])
def test_the_claim_window_setting_refuses_bad_values(client, admin_user, hours):
    client.force_login(admin_user)
    response = client.post(reverse("core:site_settings"), {"waitlist_claim_hours": hours})
    assert response.status_code == 200
    assert response.context["form"].errors["waitlist_claim_hours"]
    assert SiteSettings.load().waitlist_claim_hours == 0


def test_the_admin_sets_a_claim_window(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("core:site_settings"), {"waitlist_claim_hours": "24"})
    assert SiteSettings.load().waitlist_claim_hours == 24
