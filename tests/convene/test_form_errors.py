"""Bad input on every form: a clear message next to the field, and nothing saved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from tests.convene.conftest import VALID_EVENT

from convene.accounts.models import Role, User
from convene.events import services
from convene.events.models import Enrollment, Event, EventStatus

pytestmark = pytest.mark.django_db


def field_errors(response, field):
    return response.context["form"].errors.get(field, [])


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"start": "next tuesday"}, "start", "Enter a date and time"),
        ({"end": ""}, "end", "This field is required."),
        ({"end": "2030-05-06T08:00"}, "end", "The event must end after it starts."),
        ({"end": "2030-05-06T09:00"}, "end", "The event must end after it starts."),
        ({"timezone": "Mars/Base"}, "timezone", "Select a valid choice"),
        ({"capacity": "0"}, "capacity", "greater than or equal to 1"),
        ({"capacity": "many"}, "capacity", "Enter a whole number."),
        ({"online_url": "not a link"}, "online_url", "Enter a valid URL."),
        ({"title": "x" * 201}, "title", "at most 200 characters"),
    ],
)
def test_create_event_form_rejects(client, organizer, changes, field, message):
    client.force_login(organizer)
    response = client.post(reverse("events:create"), {**VALID_EVENT, **changes})
    assert response.status_code == 200
    assert any(message in error for error in field_errors(response, field))
    assert 'class="invalid-feedback d-block"' in response.content.decode()
    assert not Event.objects.exists()


def test_create_event_form_accepts_valid_input(client, organizer):
    client.force_login(organizer)
    response = client.post(reverse("events:create"), VALID_EVENT)
    event = Event.objects.get()
    assert response["Location"] == event.get_absolute_url()


def test_edit_form_rejects_an_end_before_start_and_keeps_the_event(client, organizer, event):
    client.force_login(organizer)
    response = client.post(
        reverse("events:edit", args=[event.pk]),
        {**VALID_EVENT, "title": "Changed", "end": "2030-05-06T08:00"},
    )
    assert field_errors(response, "end") == ["The event must end after it starts."]
    event.refresh_from_db()
    assert event.title == "Team offsite"


def test_edit_form_rejects_capacity_below_the_attendees(client, organizer, event, make_user):
    services.enroll(event, make_user(), actor=None)
    services.enroll(event, make_user(), actor=None)
    client.force_login(organizer)
    response = client.post(
        reverse("events:edit", args=[event.pk]), {**VALID_EVENT, "capacity": "1"}
    )
    assert field_errors(response, "capacity") == [
        "Capacity cannot be lower than the 2 attendees already enrolled."
    ]
    event.refresh_from_db()
    assert event.capacity is None


def test_edit_of_a_cancelled_event_is_refused_with_a_message(client, organizer, event):
    services.cancel_event(event, actor=organizer)
    client.force_login(organizer)
    response = client.post(reverse("events:edit", args=[event.pk]), VALID_EVENT, follow=True)
    assert "cancelled and can no longer be edited" in response.content.decode()
    event.refresh_from_db()
    assert event.title == "Team offsite"


def test_cancel_form_rejects_an_overlong_message(client, organizer, event):
    client.force_login(organizer)
    response = client.post(reverse("events:cancel", args=[event.pk]), {"reason": "x" * 1001})
    assert "at most 1000 characters" in field_errors(response, "reason")[0]
    event.refresh_from_db()
    assert event.status == EventStatus.SCHEDULED


def test_cancel_form_cancels_after_confirmation(client, organizer, event):
    client.force_login(organizer)
    page = client.get(reverse("events:cancel", args=[event.pk]))
    assert "This cannot be undone" in page.content.decode()
    client.post(reverse("events:cancel", args=[event.pk]), {"reason": "Sorry"})
    event.refresh_from_db()
    assert (event.status, event.cancellation_reason) == (EventStatus.CANCELLED, "Sorry")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "nobody@example.test", "role": "attendee"}, "Nobody with the email address"),
        ({"email": "not-an-email", "role": "attendee"}, "Enter a valid email address."),
        ({"email": "", "role": "attendee"}, "This field is required."),
        ({"email": "organizer@example.test", "role": "attendee"}, "already on this event"),
    ],
)
def test_add_person_form_rejects(client, organizer, event, data, message):
    client.force_login(organizer)
    response = client.post(reverse("events:people", args=[event.pk]), data)
    assert any(message in error for error in field_errors(response, "email"))
    assert event.enrollments.count() == 1


def test_add_person_form_rejects_an_unknown_role(client, organizer, event, regular):
    client.force_login(organizer)
    response = client.post(
        reverse("events:people", args=[event.pk]), {"email": regular.email, "role": "king"}
    )
    assert "Select a valid choice" in field_errors(response, "role")[0]
    assert event.enrollment_of(regular) is None


def test_add_person_form_says_when_the_event_is_full(client, organizer, make_event, make_user):
    event = make_event(capacity=1)
    services.enroll(event, make_user(), actor=None)
    late = make_user()
    client.force_login(organizer)
    response = client.post(
        reverse("events:people", args=[event.pk]), {"email": late.email, "role": "attendee"}
    )
    assert field_errors(response, "email") == ["This event is full: all places (1) are taken."]
    assert event.enrollment_of(late) is None


def test_change_role_form_rejects_an_unknown_role(client, organizer, event, regular):
    services.enroll(event, regular, actor=regular)
    client.force_login(organizer)
    response = client.post(
        reverse("events:change_role", args=[event.pk, regular.pk]), {"role": "king"}, follow=True
    )
    assert "Choose one of the roles in the list." in response.content.decode()
    assert event.enrollment_of(regular).role == "attendee"


def test_enroll_in_a_full_event_shows_a_clear_message(client, make_event, make_user, regular):
    event = make_event(capacity=1)
    services.enroll(event, make_user(), actor=None)
    client.force_login(regular)
    response = client.post(reverse("events:enroll", args=[event.pk]), follow=True)
    assert "This event is full: all places (1) are taken." in response.content.decode()
    assert not Enrollment.objects.filter(event=event, user=regular).exists()


def test_profile_form_rejects_an_overlong_name(client, regular):
    client.force_login(regular)
    response = client.post(reverse("accounts:profile"), {"display_name": "x" * 151})
    assert "at most 150 characters" in field_errors(response, "display_name")[0]
    regular.refresh_from_db()
    assert regular.display_name == "Regular user 1"


def test_sign_in_form_rejects_a_wrong_password(client, regular):
    response = client.post(
        reverse("accounts:login"), {"username": regular.email, "password": "wrong"}
    )
    assert "That email and password do not match an active account." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_users_page_rejects_an_unknown_role(client, admin_user, regular):
    client.force_login(admin_user)
    response = client.post(
        reverse("accounts:change_role", args=[regular.pk]), {"role": "emperor"}, follow=True
    )
    assert "Choose one of the roles in the list." in response.content.decode()
    regular.refresh_from_db()
    assert regular.role == Role.REGULAR


def test_users_page_refuses_changing_your_own_role(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("accounts:change_role", args=[admin_user.pk]), {"role": "regular"}, follow=True
    )
    assert "You cannot change your own role" in response.content.decode()
    assert User.objects.get(pk=admin_user.pk).role == Role.ADMIN


def test_site_settings_form_saves_the_switch(client, admin_user):
    from convene.core.models import SiteSettings

    client.force_login(admin_user)
    client.post(reverse("core:site_settings"), {"regular_users_may_create_events": "on"})
    assert SiteSettings.load().regular_users_may_create_events


def test_past_events_are_not_in_the_upcoming_list(client, regular, make_event):
    start = timezone.now() - timedelta(days=1)
    make_event(title="Yesterday", start=start, end=start + timedelta(hours=1))
    client.force_login(regular)
    assert "Yesterday" not in client.get(reverse("events:list")).content.decode()
