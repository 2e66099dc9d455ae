"""A Teams meeting survives Convene rewriting its body (issue 17), over real HTTP against the
emulator, in both modes.

Outlook adds the meeting's join block to the body it stores; a body written without it
disables the online meeting (event-update.md: get the body first, preserve the meeting blob).
So Convene reads the body before it rewrites it and replaces only its own part.
"""

from __future__ import annotations

from typing import Any

from tests.world import ADA, ALAN

from convene.events import series
from convene.events.models import Event
from convene.outlook.models import CalendarLink, OnlineMeeting
from convene.outlook.outbound import batches, push

from .conftest import OutlookWorld, teams_event, teams_series
from .test_replies_drift import drift_entries, edit_in_outlook
from .test_replies_world import live, notifications, organizer_copy, subscribe
from .test_series_sync import mode, owner, series_copy
from .test_teams_meetings import update

__all__ = ["live", "mode"]


# Ada's event with Alan, with a description of its own: the body Convene writes and must keep.
DESCRIPTION = "Parsing, then pizza."


def copy_in(world: OutlookWorld, email: str, event: Event) -> dict[str, Any]:
    """The event's copy in that person's calendar (a series: its master)."""
    if series.is_series(event):
        return series_copy(world, email)
    (found,) = [e for e in world.mailbox(email) if not e.get("isCancelled")]
    return found


def join_url_of(world: OutlookWorld, event: Event, mode: str) -> str:
    join_url = str(copy_in(world, owner(mode), event)["onlineMeeting"]["joinUrl"])
    assert join_url
    return join_url


def assert_meeting_kept(
    world: OutlookWorld, event: Event, mode: str, join_url: str, text: str
) -> None:
    for email in (owner(mode), ALAN):
        copy = copy_in(world, email, event)
        assert copy["isOnlineMeeting"] is True, email
        assert (copy["onlineMeeting"] or {}).get("joinUrl") == join_url, email
        content = copy["body"]["content"]
        assert text in content, email
        assert content.count("Microsoft Teams meeting") == 1, email
    meeting = OnlineMeeting.objects.get(event=event)
    assert meeting.is_ready and meeting.join_url == join_url
    page = world.browser(ALAN).get(event.get_absolute_url())
    assert join_url.encode() in page.content, "the event page still shows the join link"


def events_read(world: OutlookWorld) -> int:
    return int(world.stats()["requests"]["byOperation"].get("events.get", 0))


def test_a_changed_description_keeps_the_teams_meeting(outlook: OutlookWorld, mode: str) -> None:
    notifications(outlook, False)  # only the push reads the copy: its reads can be counted
    event = teams_event(outlook, attendees=[ALAN], description=DESCRIPTION)
    outlook.wait_synced(event.pk)
    join_url = join_url_of(outlook, event, mode)
    reads = events_read(outlook)

    update(event, description="Parsing, then pizza and a quiz.")
    outlook.wait_synced(event.pk)

    assert_meeting_kept(outlook, event, mode, join_url, "Parsing, then pizza and a quiz.")
    assert events_read(outlook) - reads == 1, "the body is read once before it is rewritten"

    # A change that leaves the body alone reads nothing first.
    reads = events_read(outlook)
    update(event, title="Compilers night, part 2")
    outlook.wait_synced(event.pk)
    assert events_read(outlook) == reads
    assert copy_in(outlook, ALAN, event)["onlineMeeting"]["joinUrl"] == join_url


def test_a_series_description_change_keeps_the_teams_meeting(
    outlook: OutlookWorld, mode: str
) -> None:
    event = teams_series(outlook, 4, attendees=[ALAN], description="Bring sketches.")
    outlook.wait_synced(event.pk)
    join_url = join_url_of(outlook, event, mode)

    update(event, description="Bring sketches and a laptop.")
    outlook.wait_synced(event.pk)

    assert_meeting_kept(outlook, event, mode, join_url, "Bring sketches and a laptop.")


def _ignore(event_id: int, delay: float) -> None:
    pass


def test_a_batched_description_change_keeps_the_teams_meeting(
    outlook_without_worker: OutlookWorld,
) -> None:
    world = outlook_without_worker
    world.connect(ADA)
    notifications(world, False)
    event = teams_event(world, attendees=[ALAN], description=DESCRIPTION)
    push.sync_event(event.pk, _ignore)
    join_url = join_url_of(world, event, "organizer")

    update(event, description="Parsing, then pizza and a quiz.")
    batches.sync_events([event.pk], _ignore)

    assert CalendarLink.objects.get(event=event).state == "synced"
    assert_meeting_kept(world, event, "organizer", join_url, "Parsing, then pizza and a quiz.")


def test_a_body_edited_in_outlook_is_repaired_without_losing_the_teams_meeting(
    live: OutlookWorld,
) -> None:
    event = teams_event(live, attendees=[ALAN], description=DESCRIPTION)
    live.wait_synced(event.pk)
    join_url = join_url_of(live, event, "organizer")
    link = CalendarLink.objects.get(event=event)
    subscribe(live)
    content = organizer_copy(live, event)["body"]["content"]

    edited = content.replace("Parsing, then pizza.", "Pizza only, said Outlook.")
    edit_in_outlook(live, link.graph_id, {"body": {"contentType": "html", "content": edited}})

    live.wait_until(lambda: drift_entries(event.pk), timeout=10)
    live.wait_until(
        lambda: "Parsing, then pizza." in organizer_copy(live, event)["body"]["content"],
        timeout=10,
    )
    live.wait_synced(event.pk)
    assert_meeting_kept(live, event, "organizer", join_url, "Parsing, then pizza.")
    assert "Pizza only" not in organizer_copy(live, event)["body"]["content"]
