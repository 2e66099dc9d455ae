"""One changed event that cannot be handled never fails the others read in the same batch.

Issue 19: a title with a line break ("Line1\\r\\nBcc: ...") made the organizer's email raise
BadHeaderError inside the worker's batch; the task crashed, and another event's decline in the
same batch waited for its claim to expire (178 s instead of 2 s).
"""

from __future__ import annotations

from typing import Any

from convene.core.models import Notice
from convene.events.models import Event
from convene.outlook import tasks
from convene.outlook.inbound import noted_changes as inbox
from convene.outlook.inbound import reconcile as inbound
from convene.outlook.models import CalendarLink, NotedChange, SyncLogEntry

from .conftest import OutlookWorld
from .test_replies_world import (
    ADA,
    ALAN,
    EDSGER,
    create_event,
    is_enrolled,
    live,
    notifications,
    respond,
)

__all__ = ["live"]

CRAFTED_TITLE = "Line1\r\nBcc: evil@example.com"


def _nothing_queued(mailbox: str, delay: float) -> None:
    pass


def test_a_crafted_title_does_not_fail_the_other_declines_of_its_batch(
    live: OutlookWorld, mailoutbox: list[Any]
) -> None:
    notifications(live, False)  # the test decides what one batch holds
    first, second = create_event(live, ALAN), create_event(live, EDSGER)
    links = sorted(
        CalendarLink.objects.filter(event__in=[first, second]), key=lambda link: link.graph_id
    )
    # The event read first carries the title an old row (from before titles were checked)
    # could still hold.
    crafted = links[0].event
    Event.objects.filter(pk=crafted.pk).update(title=CRAFTED_TITLE)
    respond(live, ALAN, first, "decline")
    respond(live, EDSGER, second, "decline")
    inbox.note(ADA, [link.graph_id for link in links], _nothing_queued)

    reconciled = inbox.reconcile_noted(ADA, tasks.enqueue_sync, _nothing_queued)

    assert reconciled == 2
    assert not is_enrolled(first, ALAN)
    assert not is_enrolled(second, EDSGER)
    assert not NotedChange.objects.filter(mailbox=ADA).exists()
    assert Notice.objects.filter(user=live.people[ADA]).count() == 2
    assert all("\n" not in mail.subject and "\r" not in mail.subject for mail in mailoutbox)
    assert all("evil@example.com" not in mail.recipients() for mail in mailoutbox)
    assert len(mailoutbox) == 2


def test_an_event_that_fails_to_reconcile_releases_the_others_of_its_batch(
    live: OutlookWorld, monkeypatch: Any
) -> None:
    notifications(live, False)
    first, second = create_event(live, ALAN), create_event(live, EDSGER)
    links = sorted(
        CalendarLink.objects.filter(event__in=[first, second]), key=lambda link: link.graph_id
    )
    broken = links[0].event_id
    real_apply = inbound.apply_replies

    def apply_or_fail(event: Event, *args: Any) -> None:
        if event.pk == broken:
            raise RuntimeError("a bug in handling this one event")
        real_apply(event, *args)

    monkeypatch.setattr(inbound, "apply_replies", apply_or_fail)
    respond(live, ALAN, first, "decline")
    respond(live, EDSGER, second, "decline")
    inbox.note(ADA, [link.graph_id for link in links], _nothing_queued)

    inbox.reconcile_noted(ADA, tasks.enqueue_sync, _nothing_queued)

    healthy = links[1].event
    assert not healthy.enrollments.filter(role="attendee").exists()
    assert not NotedChange.objects.filter(mailbox=ADA).exists()
    assert SyncLogEntry.objects.filter(action="read_failed", status="RuntimeError").exists()
