"""A create whose answer is lost: Convene finds the copy Outlook made (by its own extended
property) instead of posting a second one, even when Outlook forgot the transactionId."""

from __future__ import annotations

from convene.events import services
from convene.outlook.models import SyncLogEntry

from .conftest import OutlookWorld
from .test_connect_and_sync import ADA, ALAN, create_event, update

LOSE_THE_CREATE = {
    "method": "POST",
    "path": "/v1.0/me/events$",
    "action": "loseAnswer",
    "forgetTransactionId": True,
    "count": 1,
}


def test_a_create_whose_answer_was_lost_is_adopted_not_posted_again(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    outlook.emulator.control("POST", "/faults", LOSE_THE_CREATE).raise_for_status()

    event = create_event(outlook)
    link = outlook.wait_synced(event.pk, timeout=30)

    (copy,) = outlook.mailbox(ADA)
    assert link.graph_id == copy["id"]
    assert link.ical_uid == copy["iCalUId"]
    assert SyncLogEntry.objects.filter(action="adopt_lost_create", event=event).count() == 1
    creates = SyncLogEntry.objects.filter(action="create", event=event)
    assert creates.filter(status="ok").count() == 0, "no second create went out"


def test_an_adopted_copy_gets_only_what_changed_since(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    outlook.emulator.control("POST", "/faults", LOSE_THE_CREATE).raise_for_status()
    event = create_event(outlook)
    outlook.wait_until(
        lambda: SyncLogEntry.objects.filter(action="retry_later", event=event).exists()
    )
    update(event, title="Renamed while the answer was lost")
    services.enroll(event, outlook.people[ALAN], actor=None)

    outlook.wait_synced(event.pk, timeout=30)

    (copy,) = outlook.mailbox(ADA)
    assert copy["subject"] == "Renamed while the answer was lost"
    assert [a["emailAddress"]["address"] for a in copy["attendees"]] == [ALAN]
    [patch] = SyncLogEntry.objects.filter(action="update", event=event, status="ok")
    assert set(patch.details["properties"]) == {"subject", "attendees"}
    assert len(outlook.mailbox(ALAN)) == 1
