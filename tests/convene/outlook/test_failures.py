"""Failures are states: throttling and outages converge, lost authorization parks and resumes."""

from __future__ import annotations

from django.core import mail

from convene.core.models import Notice
from convene.events import services
from convene.outlook.models import (
    CalendarLink,
    ConnectionStatus,
    LinkState,
    OutlookConnection,
    SyncLogEntry,
)

from .conftest import OutlookWorld
from .test_connect_and_sync import ADA, ALAN, EDSGER, create_event, update


def test_throttling_with_retry_after_and_server_errors_still_converge(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    outlook.emulator.control(
        "POST",
        "/faults",
        {
            "rules": [
                {
                    "method": "POST",
                    "path": "/v1.0/me/events$",
                    "status": 429,
                    "headers": {"Retry-After": "1"},
                    "count": 1,
                },
                {"method": "PATCH", "path": "/v1.0/me/events/", "status": 503, "count": 1},
                {"method": "PATCH", "path": "/v1.0/me/events/", "status": 500, "count": 1},
            ]
        },
    ).raise_for_status()
    event = create_event(outlook)
    services.enroll(event, outlook.people[ALAN], actor=None)
    outlook.wait_synced(event.pk, timeout=30)
    update(event, title="After the storm")

    link = outlook.wait_synced(event.pk, timeout=30)

    (copy,) = outlook.mailbox(ADA)
    assert copy["subject"] == "After the storm"
    assert [a["emailAddress"]["address"] for a in copy["attendees"]] == [ALAN]
    assert link.attempts == 0
    fired = {
        rule["status"]: rule["fired"]
        for rule in outlook.emulator.control("GET", "/faults").json()["rules"]
    }
    assert fired == {429: 1, 503: 1, 500: 1}
    retries = SyncLogEntry.objects.filter(action="retry_later", event=event)
    assert retries.count() == 3


def test_a_revoked_authorization_parks_events_tells_once_and_resumes_on_reconnect(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    first = create_event(outlook)
    outlook.wait_synced(first.pk)
    # Ada's admin revokes her sessions, access tokens included (as continuous access does);
    # token times have one-second resolution, so revoke a moment after the last one issued.
    outlook.emulator.advance_clock(2)
    outlook.emulator.control(
        "POST", f"/users/{ADA}/revoke", {"accessTokens": True}
    ).raise_for_status()
    mail.outbox.clear()

    update(first, title="Changed while revoked")
    second = create_event(outlook)
    services.enroll(second, outlook.people[EDSGER], actor=None)

    def parked() -> bool:
        states = set(CalendarLink.objects.values_list("state", flat=True))
        return states == {LinkState.WAITING_AUTHORIZATION}

    outlook.wait_until(parked)
    connection = OutlookConnection.objects.get(user=outlook.people[ADA])
    assert connection.status == ConnectionStatus.NEEDS_AUTHORIZATION
    assert len(mail.outbox) == 1, "told once, not once per event"
    assert "reconnect" in mail.outbox[0].body.lower()
    requests_when_parked = outlook.stats()["requests"]["total"]
    outlook.wait_idle()
    assert outlook.stats()["requests"]["total"] == requests_when_parked, "nothing loops"
    page = outlook.browser(ADA).get("/outlook/")
    assert b"Reconnect Outlook" in page.content

    outlook.connect(ADA)

    outlook.wait_synced(first.pk)
    outlook.wait_synced(second.pk)
    titles = sorted(e["subject"] for e in outlook.mailbox(ADA))
    assert titles == ["Changed while revoked", "Compilers night"]


def test_rotated_refresh_tokens_are_stored(outlook: OutlookWorld) -> None:
    # Entra keeps a used refresh token valid; this rule makes the emulator spend it, so only a
    # client that stores the rotated one keeps working.
    outlook.emulator.control(
        "POST", "/faults", {"endpoint": "token", "action": "revokeOnUse"}
    ).raise_for_status()
    outlook.connect(ADA)
    event = create_event(outlook)
    outlook.wait_synced(event.pk)
    before = OutlookConnection.objects.get(user=outlook.people[ADA]).encrypted_token_cache
    # Access tokens expire (after at most 90 minutes); the next sync must refresh.
    outlook.emulator.advance_clock(2 * 3600)

    update(event, title="After an hour")
    outlook.wait_synced(event.pk)
    after = OutlookConnection.objects.get(user=outlook.people[ADA]).encrypted_token_cache
    assert after != before

    outlook.emulator.advance_clock(2 * 3600)
    update(event, title="Two hours later")
    outlook.wait_synced(event.pk)
    (copy,) = outlook.mailbox(ADA)
    assert copy["subject"] == "Two hours later"
    assert OutlookConnection.objects.get(user=outlook.people[ADA]).status == "connected"


def test_an_expired_refresh_token_parks_once_and_reconnecting_resumes(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    outlook.wait_synced(event.pk)
    mail.outbox.clear()
    outlook.emulator.advance_clock(91 * 24 * 3600)  # past the 90-day refresh token lifetime

    update(event, title="Changed after three months")

    outlook.wait_until(
        lambda: CalendarLink.objects.filter(state=LinkState.WAITING_AUTHORIZATION).exists()
    )
    connection = OutlookConnection.objects.get(user=outlook.people[ADA])
    assert connection.status == ConnectionStatus.NEEDS_AUTHORIZATION
    assert "AADSTS700082" in connection.last_error
    assert len(mail.outbox) == 1

    outlook.connect(ADA)

    outlook.wait_synced(event.pk)
    (copy,) = outlook.mailbox(ADA)
    assert copy["subject"] == "Changed after three months"


def test_a_server_error_from_the_token_endpoint_is_retried_like_any_outage(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    outlook.wait_synced(event.pk)
    outlook.emulator.advance_clock(2 * 3600)  # the access token expired: the sync must refresh
    outlook.emulator.control(
        "POST", "/faults", {"rules": [{"endpoint": "token", "status": 503, "count": 1}]}
    ).raise_for_status()

    update(event, title="After the outage")

    outlook.wait_synced(event.pk, timeout=30)
    assert outlook.mailbox(ADA)[0]["subject"] == "After the outage"
    retried = SyncLogEntry.objects.filter(action="retry_later")
    assert any("sign-in service" in entry.message for entry in retried)
    assert OutlookConnection.objects.get(user=outlook.people[ADA]).status == "connected"


def test_a_push_that_finds_the_copy_deleted_in_outlook_tells_the_organizer_once(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    link = outlook.wait_synced(event.pk)
    outlook.emulator.control(
        "DELETE", f"/mailboxes/{ADA}/events/{link.graph_id}"
    ).raise_for_status()

    update(event, location="Room 2")  # its PATCH finds nothing to change
    outlook.wait_until(
        lambda: CalendarLink.objects.get(pk=link.pk).state == LinkState.DELETED_IN_OUTLOOK
    )
    update(event, location="Room 3")  # not pushed again: the organizer decides
    outlook.wait_idle()

    # The same as when a notification or a delta read finds it gone: logged, organizer told.
    (notice,) = Notice.objects.filter(user=outlook.people[ADA])
    assert "was deleted from Outlook" in notice.text
    assert SyncLogEntry.objects.filter(action="deleted_in_outlook", event=event).count() == 1
    assert outlook.mailbox(ADA) == []


def test_graph_refusing_a_fresh_token_too_marks_the_connection_and_tells_once(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    outlook.wait_synced(event.pk)
    mail.outbox.clear()
    # Graph answers 401 to the token and to the fresh one asked for after it.
    outlook.emulator.control(
        "POST",
        "/faults",
        {"method": "PATCH", "path": "/v1.0/me/events/", "status": 401, "count": 2},
    ).raise_for_status()

    update(event, title="Refused twice")
    outlook.wait_until(
        lambda: CalendarLink.objects.filter(state=LinkState.WAITING_AUTHORIZATION).exists()
    )

    connection = OutlookConnection.objects.get(user=outlook.people[ADA])
    assert connection.status == ConnectionStatus.NEEDS_AUTHORIZATION
    assert "InvalidAuthenticationToken" in connection.last_error
    assert [m.to for m in mail.outbox] == [[ADA]]
