"""Every state change in convene.events.services: what it does, what it refuses, what it
announces."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from convene.accounts.models import Role
from convene.events import services
from convene.events.changes import ChangeKind
from convene.events.errors import (
    AlreadyEnrolled,
    EventCancelled,
    EventFull,
    EventOver,
    InvalidEvent,
    NotAllowed,
    NotEnrolled,
    UnknownPerson,
)
from convene.events.models import Enrollment, EnrollmentRole, Event, EventStatus

pytestmark = pytest.mark.django_db


def roles_on(event: Event) -> dict[str, str]:
    return dict(event.enrollments.values_list("user__email", "role"))


# create_event


def test_create_event_makes_the_creator_an_organizer(organizer, details, changes):
    event = services.create_event(details(), creator=organizer)
    assert roles_on(event) == {organizer.email: EnrollmentRole.ORGANIZER}
    assert event.created_by == organizer
    assert event.status == EventStatus.SCHEDULED
    assert [c.kind for c in changes.recorded] == [ChangeKind.CREATED]
    assert changes.recorded[0].affected_user_ids == {organizer.pk}


def test_create_event_refuses_a_regular_user_by_default(regular, details):
    with pytest.raises(NotAllowed):
        services.create_event(details(), creator=regular)
    assert not Event.objects.exists()


def test_create_event_lets_a_regular_user_when_the_site_allows(
    regular, details, regulars_may_create
):
    event = services.create_event(details(), creator=regular)
    assert event.created_by == regular


def test_create_event_refuses_an_end_before_the_start(organizer, details):
    start = details().start
    with pytest.raises(InvalidEvent) as refusal:
        services.create_event(details(start=start, end=start), creator=organizer)
    assert refusal.value.field == "end"
    assert not Event.objects.exists()


def test_create_event_refuses_an_unknown_time_zone(organizer, details):
    with pytest.raises(InvalidEvent) as refusal:
        services.create_event(details(timezone="Mars/Olympus_Mons"), creator=organizer)
    assert refusal.value.field == "timezone"


def test_create_event_refuses_a_blank_title(organizer, details):
    with pytest.raises(InvalidEvent):
        services.create_event(details(title="   "), creator=organizer)


# update_event


def test_update_event_saves_and_announces_only_the_changed_fields(event, organizer, changes):
    new = services.EventDetails.of(event)
    new = services.EventDetails(**{**new.__dict__, "title": "Renamed", "location": "Hamburg"})
    changed = services.update_event(event, new, actor=organizer)
    assert changed == {"title", "location"}
    event.refresh_from_db()
    assert (event.title, event.location) == ("Renamed", "Hamburg")
    assert changes.recorded[-1].kind == ChangeKind.UPDATED
    assert changes.recorded[-1].changed_fields == {"title", "location"}


def test_update_event_with_no_changes_announces_nothing(event, organizer, changes):
    assert services.update_event(event, services.EventDetails.of(event), actor=organizer) == set()
    assert changes.recorded == []


def test_update_event_refuses_an_organizer_of_another_event(event, other_organizer):
    with pytest.raises(NotAllowed):
        services.update_event(event, services.EventDetails.of(event), actor=other_organizer)


def test_update_event_refuses_capacity_below_the_enrolled_attendees(event, organizer, make_user):
    services.enroll(event, make_user(), actor=None)
    services.enroll(event, make_user(), actor=None)
    smaller = services.EventDetails(**{**services.EventDetails.of(event).__dict__, "capacity": 1})
    with pytest.raises(InvalidEvent) as refusal:
        services.update_event(event, smaller, actor=organizer)
    assert refusal.value.field == "capacity"
    event.refresh_from_db()
    assert event.capacity is None


def test_update_event_refuses_a_cancelled_event(event, organizer):
    services.cancel_event(event, actor=organizer)
    with pytest.raises(EventCancelled):
        services.update_event(event, services.EventDetails.of(event), actor=organizer)


# cancel_event


def test_cancel_event_records_the_reason_and_tells_everyone_on_it(
    event, organizer, regular, changes
):
    services.enroll(event, regular, actor=regular)
    services.cancel_event(event, actor=organizer, reason="  Venue flooded  ")
    event.refresh_from_db()
    assert event.status == EventStatus.CANCELLED
    assert event.cancellation_reason == "Venue flooded"
    change = changes.recorded[-1]
    assert change.kind == ChangeKind.CANCELLED
    assert change.reason == "Venue flooded"
    assert change.affected_user_ids == {organizer.pk, regular.pk}


def test_cancel_event_twice_is_refused(event, organizer):
    services.cancel_event(event, actor=organizer)
    with pytest.raises(EventCancelled):
        services.cancel_event(event, actor=organizer)


def test_cancel_event_refuses_someone_who_does_not_manage_it(event, regular):
    with pytest.raises(NotAllowed):
        services.cancel_event(event, actor=regular)
    event.refresh_from_db()
    assert event.status == EventStatus.SCHEDULED


# enroll


def test_enroll_adds_an_attendee(event, regular, changes):
    enrollment = services.enroll(event, regular, actor=regular)
    assert enrollment.role == EnrollmentRole.ATTENDEE
    assert changes.recorded[-1].kind == ChangeKind.ENROLLED
    assert changes.recorded[-1].affected_user_ids == {regular.pk}
    assert changes.recorded[-1].actor_id == regular.pk


def test_enroll_twice_is_refused(event, regular):
    services.enroll(event, regular, actor=regular)
    with pytest.raises(AlreadyEnrolled, match="You are already on this event as attendee"):
        services.enroll(event, regular, actor=regular)


def test_enroll_in_a_full_event_is_refused(make_event, make_user):
    event = make_event(capacity=1)
    services.enroll(event, make_user(), actor=None)
    late = make_user()
    with pytest.raises(EventFull, match="full"):
        services.enroll(event, late, actor=late)
    assert event.attendee_count() == 1


def test_capacity_counts_attendees_only(make_event, make_user, organizer):
    event = make_event(capacity=1)
    services.add_person(event, make_user(), EnrollmentRole.PRESENTER, actor=organizer)
    services.add_person(event, make_user(), EnrollmentRole.ORGANIZER, actor=organizer)
    services.enroll(event, make_user(), actor=None)
    assert event.is_full()
    assert event.enrollments.count() == 4


def test_enroll_in_a_cancelled_event_is_refused(event, organizer, regular):
    services.cancel_event(event, actor=organizer)
    with pytest.raises(EventCancelled):
        services.enroll(event, regular, actor=regular)


def test_enrolling_someone_else_needs_a_manager(event, regular, make_user):
    with pytest.raises(NotAllowed):
        services.enroll(event, make_user(), actor=regular)


# add_person, add_person_by_email


def test_add_person_by_email_ignores_case_and_sets_the_role(event, organizer, regular):
    enrollment = services.add_person_by_email(
        event, " REGULAR@Example.test ", EnrollmentRole.PRESENTER, actor=organizer
    )
    assert (enrollment.user, enrollment.role) == (regular, EnrollmentRole.PRESENTER)


def test_add_person_by_email_refuses_an_unknown_address(event, organizer):
    with pytest.raises(UnknownPerson, match=r"nobody@example\.test"):
        services.add_person_by_email(
            event, "nobody@example.test", EnrollmentRole.ATTENDEE, actor=organizer
        )


def test_add_person_by_email_refuses_a_deactivated_account(event, organizer, make_user):
    make_user(email="gone@example.test", is_active=False)
    with pytest.raises(UnknownPerson):
        services.add_person_by_email(
            event, "gone@example.test", EnrollmentRole.ATTENDEE, actor=organizer
        )


def test_add_person_refuses_someone_who_does_not_manage_the_event(event, other_organizer, regular):
    with pytest.raises(NotAllowed):
        services.add_person(event, regular, EnrollmentRole.ATTENDEE, actor=other_organizer)


def test_add_person_names_the_role_someone_already_has(event, organizer, regular):
    services.add_person(event, regular, EnrollmentRole.PRESENTER, actor=organizer)
    with pytest.raises(AlreadyEnrolled, match="already on this event as presenter"):
        services.add_person(event, regular, EnrollmentRole.ATTENDEE, actor=organizer)


def test_a_co_organizer_may_manage_people(event, organizer, make_user):
    co_organizer = make_user(Role.REGULAR)
    services.add_person(event, co_organizer, EnrollmentRole.ORGANIZER, actor=organizer)
    services.add_person(event, make_user(), EnrollmentRole.ATTENDEE, actor=co_organizer)
    assert event.attendee_count() == 1


# unenroll


def test_unenroll_removes_and_carries_the_reason(event, regular, changes):
    services.enroll(event, regular, actor=regular)
    services.unenroll(event, regular, actor=None, reason="Declined in Outlook")
    assert event.enrollment_of(regular) is None
    change = changes.recorded[-1]
    assert (change.kind, change.reason, change.actor_id) == (
        ChangeKind.UNENROLLED,
        "Declined in Outlook",
        None,
    )


def test_unenroll_someone_not_on_the_event_is_refused(event, regular):
    with pytest.raises(NotEnrolled):
        services.unenroll(event, regular, actor=regular)


def test_unenroll_refuses_to_remove_the_creator(event, organizer, admin_user):
    with pytest.raises(NotAllowed, match="creator"):
        services.unenroll(event, organizer, actor=admin_user)


def test_removing_someone_else_needs_a_manager(event, regular, make_user):
    other = make_user()
    services.enroll(event, other, actor=other)
    with pytest.raises(NotAllowed):
        services.unenroll(event, other, actor=regular)
    assert event.enrollment_of(other) is not None


def test_an_organizer_may_remove_an_attendee(event, organizer, regular):
    services.enroll(event, regular, actor=regular)
    services.unenroll(event, regular, actor=organizer, reason="Removed")
    assert not Enrollment.objects.filter(event=event, user=regular).exists()


# change_role


def test_change_role_updates_and_announces(event, organizer, regular, changes):
    services.enroll(event, regular, actor=regular)
    services.change_role(event, regular, EnrollmentRole.PRESENTER, actor=organizer)
    assert event.enrollment_of(regular).role == EnrollmentRole.PRESENTER
    assert changes.recorded[-1].kind == ChangeKind.ROLE_CHANGED
    assert changes.recorded[-1].affected_user_ids == {regular.pk}


def test_change_role_to_the_same_role_announces_nothing(event, organizer, regular, changes):
    services.enroll(event, regular, actor=regular)
    changes.recorded.clear()
    services.change_role(event, regular, EnrollmentRole.ATTENDEE, actor=organizer)
    assert changes.recorded == []


def test_change_role_keeps_the_creator_an_organizer(event, organizer):
    with pytest.raises(NotAllowed):
        services.change_role(event, organizer, EnrollmentRole.ATTENDEE, actor=organizer)


def test_change_role_to_attendee_respects_capacity(make_event, organizer, make_user):
    event = make_event(capacity=1)
    services.enroll(event, make_user(), actor=None)
    presenter = make_user()
    services.add_person(event, presenter, EnrollmentRole.PRESENTER, actor=organizer)
    with pytest.raises(EventFull):
        services.change_role(event, presenter, EnrollmentRole.ATTENDEE, actor=organizer)


def test_change_role_of_someone_not_on_the_event_is_refused(event, organizer, regular):
    with pytest.raises(NotEnrolled):
        services.change_role(event, regular, EnrollmentRole.PRESENTER, actor=organizer)


def test_change_role_refuses_someone_who_does_not_manage_the_event(event, regular, make_user):
    other = make_user()
    services.enroll(event, other, actor=other)
    with pytest.raises(NotAllowed):
        services.change_role(event, other, EnrollmentRole.PRESENTER, actor=regular)


def test_upcoming_hides_ended_and_cancelled_events(make_event, organizer):
    past_start = timezone.now() - timedelta(days=2)
    make_event(title="Past", start=past_start, end=past_start + timedelta(hours=1))
    cancelled = make_event(title="Cancelled")
    services.cancel_event(cancelled, actor=organizer)
    make_event(title="Upcoming")
    assert [e.title for e in Event.objects.upcoming()] == ["Upcoming"]


def test_a_person_may_not_create_an_event_in_the_past(organizer, details):
    start = timezone.now() - timedelta(hours=1)
    with pytest.raises(InvalidEvent, match="in the past") as refusal:
        services.create_event(details(start=start), creator=organizer)
    assert refusal.value.field == "start"
    assert not Event.objects.exists()


def test_a_person_may_not_move_an_event_into_the_past(organizer, event, details):
    start = timezone.now() - timedelta(days=1)
    with pytest.raises(InvalidEvent, match="in the past"):
        services.update_event(event, details(start=start), actor=organizer)
    event.refresh_from_db()
    assert event.start > timezone.now()


def test_an_event_under_way_can_still_be_corrected_without_moving_it(organizer, make_event):
    start = timezone.now() - timedelta(minutes=30)
    under_way = make_event(start=start, end=start + timedelta(hours=2))
    changed = services.update_event(
        under_way, replace(services.EventDetails.of(under_way), title="Fixed"), actor=organizer
    )
    assert changed == {"title"}


def test_enrolling_in_an_event_that_is_over_is_refused(regular, make_event):
    start = timezone.now() - timedelta(days=1)
    over = make_event(start=start, end=start + timedelta(hours=1))
    with pytest.raises(EventOver):
        services.enroll(over, regular, actor=regular)
    assert over.enrollment_of(regular) is None


def test_inviting_someone_without_an_account_creates_it_as_invited_and_puts_them_on(
    organizer, event, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enrollment = services.invite_person(
            event,
            "New.Person@Example.test",
            EnrollmentRole.PRESENTER,
            actor=organizer,
            site_url="https://convene.example.test/",
        )
    invited = enrollment.user
    assert invited.email == "new.person@example.test"
    assert invited.is_invited and invited.is_active and not invited.has_usable_password()
    assert enrollment.role == EnrollmentRole.PRESENTER
    [mail] = mailoutbox
    assert mail.to == ["new.person@example.test"]
    assert "invited you to “Team offsite”" in mail.body
    assert "https://convene.example.test/accounts/set-password/" in mail.body


def test_inviting_an_address_that_has_an_account_is_refused(organizer, event, regular):
    with pytest.raises(UnknownPerson, match="already has a Convene account"):
        services.invite_person(
            event, regular.email, EnrollmentRole.ATTENDEE, actor=organizer, site_url="http://x/"
        )
    assert event.enrollment_of(regular) is None
