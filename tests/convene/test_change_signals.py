"""The two announcements: recorded inside the transaction, committed only after commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from convene.core.models import SiteSettings
from convene.events import services
from convene.events.changes import (
    ChangeKind,
    EventChange,
    event_change_committed,
    event_change_recorded,
)
from convene.events.errors import EventFull
from convene.events.models import Event


@pytest.mark.django_db
def test_committed_signal_fires_after_commit(
    organizer, details, changes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event = services.create_event(details(), creator=organizer)
        assert changes.committed == []
    assert changes.committed == [
        EventChange(
            event_id=event.pk,
            kind=ChangeKind.CREATED,
            changed_fields=changes.recorded[0].changed_fields,
            affected_user_ids=frozenset({organizer.pk}),
            actor_id=organizer.pk,
        )
    ]


@pytest.mark.django_db
def test_committed_signal_does_not_fire_when_the_transaction_rolls_back(
    organizer, details, changes, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.create_event(details(), creator=organizer)
        raise RuntimeError("something later in the same transaction failed")
    assert callbacks == []
    assert changes.committed == []
    assert len(changes.recorded) == 1
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_work_done_by_a_recorded_receiver_rolls_back_with_the_change(organizer, details):
    def write_in_same_transaction(sender: object, change: EventChange, **kwargs: object) -> None:
        site = SiteSettings.load()
        site.regular_users_may_create_events = True
        site.save()

    event_change_recorded.connect(write_in_same_transaction)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.create_event(details(), creator=organizer)
            raise RuntimeError("roll back")
    finally:
        event_change_recorded.disconnect(write_in_same_transaction)
    assert not SiteSettings.load().regular_users_may_create_events


@pytest.mark.django_db
def test_a_failing_recorded_receiver_aborts_the_change(organizer, details):
    def refuse(sender: object, change: EventChange, **kwargs: object) -> None:
        raise RuntimeError("cannot record")

    event_change_recorded.connect(refuse)
    try:
        with pytest.raises(RuntimeError):
            services.create_event(details(), creator=organizer)
    finally:
        event_change_recorded.disconnect(refuse)
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_a_failing_committed_receiver_does_not_undo_the_change(
    organizer, details, django_capture_on_commit_callbacks, caplog
):
    def explode(sender: object, change: EventChange, **kwargs: object) -> None:
        raise RuntimeError("queue is down")

    event_change_committed.connect(explode)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.create_event(details(), creator=organizer)
    finally:
        event_change_committed.disconnect(explode)
    assert Event.objects.count() == 1
    assert "queue is down" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_committed_signal_fires_on_a_real_commit(organizer, regular, details, changes):
    event = services.create_event(details(), creator=organizer)
    services.enroll(event, regular, actor=regular)
    assert [c.kind for c in changes.committed] == [ChangeKind.CREATED, ChangeKind.ENROLLED]
    assert changes.committed == changes.recorded


@pytest.mark.django_db(transaction=True)
def test_a_refused_change_announces_nothing(organizer, regular, make_user, details, changes):
    event = services.create_event(details(capacity=1), creator=organizer)
    services.enroll(event, regular, actor=regular)
    changes.recorded.clear()
    changes.committed.clear()
    with pytest.raises(EventFull):
        services.enroll(event, make_user(), actor=None)
    assert changes.recorded == changes.committed == []
