"""Every time zone Convene's event form offers reaches Outlook as a zone Graph takes, and comes
back as the same instant (through the emulator, which refuses zones Graph does not document)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from convene.events.timezones import zone_names
from convene.outlook.microsoft import mapping
from convene.outlook.microsoft.errors import MicrosoftError
from convene.outlook.microsoft.graph import GraphClient
from m365_emulator.testing import ca_context

from .conftest import OutlookWorld

# Start in the northern winter, end in the northern summer: one event sees both sides of DST.
START = datetime(2031, 1, 15, 9, 30, tzinfo=UTC)
END = datetime(2031, 7, 15, 17, 45, tzinfo=UTC)


def snapshot(zone: str) -> mapping.EventSnapshot:
    return mapping.EventSnapshot(
        event_id=1,
        title=f"In {zone}",
        description="",
        start=START,
        end=END,
        timezone=zone,
        location="",
        teams_meeting=False,
        is_cancelled=False,
        url="https://convene.example/events/1/",
        organizer_name="Ada",
        owner_email="ada@contoso.test",
        people=(),
    )


def test_every_zone_the_event_form_offers_is_accepted_and_read_back_to_the_same_instant(
    outlook_without_worker: OutlookWorld,
) -> None:
    emulator = outlook_without_worker.emulator
    # 1,100 requests one after another: Exchange's simulated service time would only add a
    # minute, and this test is about zone names, not timing.
    emulator.control("POST", "/graph/settings", {"processingMs": 0}).raise_for_status()
    token = emulator.token_for("ada@contoso.test")
    # Every zone an event may carry: the form offers the canonical ones, events saved earlier
    # (or through the services) may be in any IANA zone.
    zones = list(zone_names())
    assert len(zones) > 500
    with httpx.Client(verify=ca_context(str(emulator.ca_path)), timeout=30) as http:
        graph = GraphClient(base_url=emulator.graph_url, token=lambda fresh: token, http=http)
        refused, moved = [], []
        for zone in zones:
            sent = mapping.event_payload(snapshot(zone))
            try:
                created = graph.create_event(sent)
            except MicrosoftError as error:
                refused.append(f"{zone}: {error}")
                continue
            read = graph.get_event(created["id"], select=("start", "end"))
            instants = [
                datetime.fromisoformat(read[name]["dateTime"][:26]).replace(tzinfo=UTC)
                for name in ("start", "end")
            ]
            times = {"start": sent["start"], "end": sent["end"]}
            if instants != [START, END] or mapping.drifted_properties(times, read):
                moved.append(f"{zone}: sent {sent['start']} / {sent['end']}, read {read}")
    assert refused == []
    assert moved == []
