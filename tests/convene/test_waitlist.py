"""The waitlist (convene.events.waitlist): joining, order, places freed by every path, the
claim window, hand promotion, and what each refuses (changing nothing)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from convene.accounts.models import Role, User
from convene.core.models import Notice, SiteSettings
from convene.events import series, services, waitlist
from convene.events.changes import ChangeKind
from convene.events.errors import (
    AlreadyEnrolled,
    EventFull,
    InvalidEvent,
    NotAllowed,
    WaitlistError,
)
from convene.events.models import (
    EnrollmentRole,
    Event,
    WaitlistEntry,
    WaitlistPromotion,
)
from convene.events.recurrence import Frequency, Rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def full_event(make_event: Any, make_user: Any) -> Event:
    """Capacity 2, both places taken, waitlist on."""
    event: Event = make_event(capacity=2, waitlist_enabled=True)
    for _ in range(2):
        services.enroll(event, make_user(), actor=None)
    return event


def waiting_emails(event: Event) -> list[str]:
    return [e.user.email for e in waitlist.waiting(event)]


def attendees(event: Event) -> set[str]:
    return set(
        event.enrollments.filter(role=EnrollmentRole.ATTENDEE).values_list("user__email", flat=True)
    )


def claim_window(hours: int) -> None:
    site = SiteSettings.load()
    site.waitlist_claim_hours = hours
    site.save()


def first_attendee(event: Event) -> User:
    return event.enrollments.filter(role=EnrollmentRole.ATTENDEE).first().user  # type: ignore[union-attr]


# joining and leaving


def test_people_join_a_full_event_in_order_and_see_their_position(full_event, make_user):
    first, second = make_user(), make_user()
    one = waitlist.join(full_event, first, actor=first)
    two = waitlist.join(full_event, second, actor=second)
    assert (waitlist.position(one), waitlist.position(two)) == (1, 2)
    assert waiting_emails(full_event) == [first.email, second.email]
    # Waiting is not attending: the event's attendees (and so Outlook's) are unchanged.
    assert first.email not in attendees(full_event)


def test_joining_an_event_with_places_free_is_refused(make_event, make_user):
    event = make_event(capacity=3, waitlist_enabled=True)
    person = make_user()
    with pytest.raises(WaitlistError, match="places free: enroll instead"):
        waitlist.join(event, person, actor=person)
    assert not WaitlistEntry.objects.exists()


def test_joining_without_a_waitlist_is_refused(make_event, make_user):
    event = make_event(capacity=1)
    services.enroll(event, make_user(), actor=None)
    person = make_user()
    with pytest.raises(WaitlistError, match="no waitlist"):
        waitlist.join(event, person, actor=person)
    assert not WaitlistEntry.objects.exists()


def test_joining_twice_or_while_enrolled_is_refused(full_event, make_user):
    person = make_user()
    waitlist.join(full_event, person, actor=person)
    with pytest.raises(WaitlistError, match="already on the waitlist \\(number 1\\)"):
        waitlist.join(full_event, person, actor=person)
    with pytest.raises(AlreadyEnrolled):
        attendee = first_attendee(full_event)
        waitlist.join(full_event, attendee, actor=attendee)
    assert WaitlistEntry.objects.count() == 1


def test_nobody_puts_someone_else_on_the_waitlist_but_a_manager(full_event, make_user):
    person, stranger = make_user(), make_user()
    with pytest.raises(NotAllowed):
        waitlist.join(full_event, person, actor=stranger)
    assert not WaitlistEntry.objects.exists()


def test_leaving_moves_the_next_person_up(full_event, make_user):
    first, second = make_user(), make_user()
    waitlist.join(full_event, first, actor=first)
    entry = waitlist.join(full_event, second, actor=second)
    waitlist.leave(full_event, first, actor=first)
    assert waitlist.position(entry) == 1
    with pytest.raises(WaitlistError, match="not on the waitlist"):
        waitlist.leave(full_event, first, actor=first)


# places freed


def test_unenrolling_gives_the_place_to_the_first_person_waiting_at_once(
    full_event, make_user, changes, mailoutbox, django_capture_on_commit_callbacks
):
    first, second = make_user(), make_user()
    waitlist.join(full_event, first, actor=first)
    waitlist.join(full_event, second, actor=second)
    leaver = first_attendee(full_event)

    with django_capture_on_commit_callbacks(execute=True):
        services.unenroll(full_event, leaver, actor=leaver)

    assert first.email in attendees(full_event) and leaver.email not in attendees(full_event)
    assert len(attendees(full_event)) == 2
    assert waiting_emails(full_event) == [second.email]
    kinds = [(c.kind, c.affected_user_ids) for c in changes.committed]
    assert (ChangeKind.ENROLLED, frozenset({first.pk})) in kinds
    assert WaitlistPromotion.objects.get().how == WaitlistPromotion.How.AUTOMATIC
    notice = Notice.objects.get(user=first)
    assert "You have a place" in notice.text and full_event.title in notice.text
    assert [m.to for m in mailoutbox] == [[first.email]]
    assert "You have a place" in mailoutbox[0].subject


def test_removal_by_an_organizer_frees_the_place_too(full_event, make_user, organizer):
    person = make_user()
    waitlist.join(full_event, person, actor=person)
    services.unenroll(full_event, first_attendee(full_event), actor=organizer)
    assert person.email in attendees(full_event)


def test_an_attendee_becoming_presenter_frees_a_place(full_event, make_user, organizer):
    person = make_user()
    waitlist.join(full_event, person, actor=person)
    services.change_role(
        full_event, first_attendee(full_event), EnrollmentRole.PRESENTER, actor=organizer
    )
    assert person.email in attendees(full_event)


def test_raising_the_capacity_fills_every_new_place_in_order(full_event, make_user, organizer):
    people = [make_user() for _ in range(3)]
    for person in people:
        waitlist.join(full_event, person, actor=person)
    details = services.EventDetails(**{**vars(services.EventDetails.of(full_event)), "capacity": 4})
    services.update_event(full_event, details, actor=organizer)
    assert {people[0].email, people[1].email} <= attendees(full_event)
    assert waiting_emails(full_event) == [people[2].email]
    assert len(attendees(full_event)) == 4


def test_raising_the_capacity_of_a_series_fills_it(make_user, organizer, details):
    event = series.create_series(
        details(capacity=1, waitlist_enabled=True),
        Rule(frequency=Frequency.DAILY, count=4),
        creator=organizer,
    )
    services.enroll(event, make_user(), actor=None)
    person = make_user()
    waitlist.join(event, person, actor=person)
    series.update_series(
        event,
        services.EventDetails(**{**vars(services.EventDetails.of(event)), "capacity": 2}),
        series.rule_of(event),
        actor=organizer,
    )
    assert person.email in attendees(event)


def test_a_waitlist_needs_a_capacity(organizer, details):
    with pytest.raises(InvalidEvent, match="needs a capacity") as refusal:
        services.create_event(details(waitlist_enabled=True), creator=organizer)
    assert refusal.value.field == "waitlist_enabled"
    assert not Event.objects.exists()


def test_someone_added_by_an_organizer_stops_waiting(full_event, make_user, organizer):
    person = make_user()
    waitlist.join(full_event, person, actor=person)
    services.add_person(full_event, person, EnrollmentRole.PRESENTER, actor=organizer)
    assert waiting_emails(full_event) == []


def test_a_cancelled_event_closes_its_waitlist_and_tells_who_waited(
    full_event, make_user, organizer
):
    person = make_user()
    waitlist.join(full_event, person, actor=person)
    services.cancel_event(full_event, actor=organizer)
    assert waiting_emails(full_event) == []
    assert person.email not in attendees(full_event)
    assert "was cancelled, so its waitlist is closed" in Notice.objects.get(user=person).text


# the claim window


def test_with_a_claim_window_the_place_is_offered_and_held(full_event, make_user, mailoutbox):
    claim_window(24)
    first, second = make_user(), make_user()
    waitlist.join(full_event, first, actor=first)
    waitlist.join(full_event, second, actor=second)
    services.unenroll(full_event, first_attendee(full_event), actor=None)

    entry = waitlist.entry_of(full_event, first)
    assert entry is not None and waitlist.has_open_offer(entry)
    assert first.email not in attendees(full_event)
    # The held place is taken: nobody else may enroll into it.
    assert full_event.is_full()
    with pytest.raises(EventFull):
        services.enroll(full_event, make_user(), actor=None)
    assert "Claim it" in Notice.objects.get(user=first).text

    waitlist.claim(full_event, first, actor=first)
    assert first.email in attendees(full_event)
    assert WaitlistPromotion.objects.get().how == WaitlistPromotion.How.CLAIMED
    assert waiting_emails(full_event) == [second.email]


def test_claiming_before_an_offer_or_someone_elses_is_refused(full_event, make_user):
    claim_window(24)
    person, other = make_user(), make_user()
    waitlist.join(full_event, person, actor=person)
    with pytest.raises(WaitlistError, match="No place has been offered yet"):
        waitlist.claim(full_event, person, actor=person)
    with pytest.raises(NotAllowed):
        waitlist.claim(full_event, person, actor=other)
    assert person.email not in attendees(full_event)


def test_an_unclaimed_offer_expires_and_goes_to_the_next_person(full_event, make_user, mailoutbox):
    claim_window(2)
    first, second = make_user(), make_user()
    waitlist.join(full_event, first, actor=first)
    waitlist.join(full_event, second, actor=second)
    services.unenroll(full_event, first_attendee(full_event), actor=None)

    assert waitlist.expire_offers() == 0  # not yet
    later = timezone.now() + timedelta(hours=2, seconds=1)
    with pytest.raises(WaitlistError, match="offer ended"):
        WaitlistEntry.objects.filter(user=first).update(offered_until=timezone.now())
        waitlist.claim(full_event, first, actor=first)
    assert waitlist.expire_offers(later) == 1

    assert waiting_emails(full_event) == [second.email]
    offer = waitlist.entry_of(full_event, second)
    assert offer is not None and offer.offered_until is not None
    assert "not claimed" in Notice.objects.filter(user=first).first().text  # type: ignore[union-attr]
    assert first.email not in attendees(full_event)


def test_capacity_cannot_drop_below_the_places_offered(full_event, make_user, organizer):
    claim_window(24)
    person = make_user()
    waitlist.join(full_event, person, actor=person)
    services.unenroll(full_event, first_attendee(full_event), actor=None)
    details = services.EventDetails(**{**vars(services.EventDetails.of(full_event)), "capacity": 1})
    with pytest.raises(InvalidEvent, match="places offered from the waitlist"):
        services.update_event(full_event, details, actor=organizer)


# organizers


def test_organizers_reorder_the_waitlist(full_event, make_user, organizer):
    people = [make_user() for _ in range(3)]
    for person in people:
        waitlist.join(full_event, person, actor=person)
    assert waitlist.move(full_event, people[2], "up", actor=organizer) == 2
    assert waiting_emails(full_event) == [people[0].email, people[2].email, people[1].email]
    assert waitlist.move(full_event, people[0], "down", actor=organizer) == 2
    assert waiting_emails(full_event) == [people[2].email, people[0].email, people[1].email]
    with pytest.raises(WaitlistError, match="already first"):
        waitlist.move(full_event, people[2], "up", actor=organizer)
    # The next freed place follows the new order.
    services.unenroll(full_event, first_attendee(full_event), actor=None)
    assert people[2].email in attendees(full_event)


def test_only_managers_reorder_or_promote(full_event, make_user):
    person, stranger = make_user(), make_user()
    waitlist.join(full_event, person, actor=person)
    with pytest.raises(NotAllowed):
        waitlist.move(full_event, person, "down", actor=stranger)
    with pytest.raises(NotAllowed):
        waitlist.promote(full_event, person, actor=stranger)
    assert waiting_emails(full_event) == [person.email]


def test_hand_promotion_of_a_full_event_adds_a_place(full_event, make_user, organizer):
    first, second = make_user(), make_user()
    waitlist.join(full_event, first, actor=first)
    waitlist.join(full_event, second, actor=second)

    promotion = waitlist.promote(full_event, second, actor=organizer)

    full_event.refresh_from_db()
    assert promotion.capacity_raised_to == 3 == full_event.capacity
    assert second.email in attendees(full_event) and len(attendees(full_event)) == 3
    # The raised capacity did not also give the first person a place.
    assert waiting_emails(full_event) == [first.email]
    assert WaitlistPromotion.objects.get().how == WaitlistPromotion.How.BY_HAND
    with pytest.raises(WaitlistError, match="not on the waitlist"):
        waitlist.promote(full_event, second, actor=organizer)


def test_hand_promotion_into_an_offered_place_keeps_the_capacity(full_event, make_user, organizer):
    claim_window(24)
    person = make_user()
    waitlist.join(full_event, person, actor=person)
    services.unenroll(full_event, first_attendee(full_event), actor=None)
    promotion = waitlist.promote(full_event, person, actor=organizer)
    assert promotion.capacity_raised_to is None
    full_event.refresh_from_db()
    assert full_event.capacity == 2 and len(attendees(full_event)) == 2


def test_an_organizer_removing_someone_tells_them(full_event, make_user, organizer):
    person = make_user(Role.REGULAR)
    waitlist.join(full_event, person, actor=person)
    waitlist.leave(full_event, person, actor=organizer)
    assert waiting_emails(full_event) == []
    assert "took you off the waitlist" in Notice.objects.get(user=person).text


def test_metrics_count_people_waiting_offers_and_promotions(full_event, make_user, organizer):
    from convene.events import waitlist_metrics

    people = [make_user() for _ in range(3)]
    for person in people:
        waitlist.join(full_event, person, actor=person)
    waitlist.promote(full_event, people[2], actor=organizer)
    claim_window(24)
    services.unenroll(full_event, first_attendee(full_event), actor=None)

    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in waitlist_metrics.collect()
        for sample in family.samples
    }
    assert samples[("convene_waitlist_people_waiting", ())] == 2
    assert samples[("convene_waitlist_offers_open", ())] == 1
    assert samples[("convene_waitlist_promotions_total", (("how", "by_hand"),))] == 1
    assert samples[("convene_waitlist_promotions_total", (("how", "automatic"),))] == 0
