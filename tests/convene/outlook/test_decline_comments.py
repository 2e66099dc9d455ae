"""A decline's comment ("Sorry, I cannot make it") shown to the organizer: read from the answer
message in the mailbox the event lives in (the organizer's, with their delegated Mail.Read; or
the service mailbox, with the application permission Mail.Read), over real HTTPS against the
emulator, with MSAL, notifications to the webhook and a Huey worker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from convene.core.models import Notice
from convene.events import series
from convene.events.models import MissedSession
from convene.outlook.models import (
    AttendeeReply,
    LogKind,
    MailAccess,
    OutlookConnection,
    OutlookSettings,
    SyncLogEntry,
)

from .conftest import PUBLIC_URL, OutlookWorld, world_seed
from .test_replies_world import (
    ADA,
    ALAN,
    EDSGER,
    create_event,
    is_enrolled,
    respond,
    set_unenroll_on_decline,
)
from .test_series_replies import decline_occurrence, owner, subscribe
from .test_series_sync import create_series

COMMENT = "Sorry, I cannot make it <b>really</b> <script>alert(1)</script>"
ESCAPED = "Sorry, I cannot make it &lt;b&gt;really&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt;"


def show_comments(on: bool) -> None:
    OutlookSettings.objects.filter(pk=1).update(show_decline_comments=on)


def mail_requests(world: OutlookWorld) -> int:
    counted: dict[str, int] = world.stats()["requests"]["byOperation"]
    return counted.get("messages.list", 0)


@pytest.fixture(params=["organizer", "platform"])
def live(
    request: pytest.FixtureRequest, outlook: OutlookWorld, live_server: Any, settings: Any
) -> Iterator[OutlookWorld]:
    """Decline comments wanted, Convene registered with Mail.Read and reachable by the
    emulator's notifications, in each mode: Ada's own calendar (connected with the setting on,
    so asked for Mail.Read), or the service mailbox (the app consented in its tenant)."""
    from .test_platform import SERVICE, use_platform_calendar

    outlook.emulator.reset(world_seed(PUBLIC_URL, platform_consented=True, mail_read=True))
    show_comments(True)
    if request.param == "platform":
        use_platform_calendar()
        outlook.owner = SERVICE  # type: ignore[attr-defined]
    else:
        outlook.connect(ADA)
        outlook.owner = ADA  # type: ignore[attr-defined]
    settings.OUTLOOK = {**settings.OUTLOOK, "public_url": live_server.url}
    yield outlook
    # as ``test_replies_world.live``: no delivery may outlive the test
    outlook.emulator.control("POST", "/reset").raise_for_status()
    outlook.wait_idle(quiet=0.2, scheduled=False)


def test_the_comment_is_shown_beside_the_answer_and_in_the_notice(
    live: OutlookWorld, mailoutbox: list[Any]
) -> None:
    set_unenroll_on_decline(True)
    event = create_event(live, ALAN, EDSGER)
    subscribe(live)

    respond(live, ALAN, event, "decline", comment=COMMENT)

    live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)
    reply = live.wait_until(
        lambda: AttendeeReply.objects.filter(event=event, email=ALAN).exclude(comment="").first()
    )
    assert reply.comment == COMMENT  # plain text, kept as typed
    assert mail_requests(live) == 1  # one narrow request for one decline
    page = live.browser(ADA).get(event.get_absolute_url()).content.decode()
    panel = page[page.index("Answers in Outlook") :]
    assert ESCAPED in panel
    assert "<script>alert(1)" not in page and "<b>really</b>" not in page
    notice = Notice.objects.get(user=live.people[ADA])
    assert "Alan Turing declined" in notice.text and f"Their comment: “{COMMENT}”" in notice.text
    notices_page = live.browser(ADA).get("/notices/").content.decode()
    assert ESCAPED in notices_page and "<script>alert(1)" not in notices_page
    live.wait_until(lambda: any(ADA in m.to for m in mailoutbox), timeout=5)
    (mail,) = [m for m in mailoutbox if ADA in m.to]
    assert COMMENT in mail.body
    if owner(live) == ADA:
        connection = OutlookConnection.objects.get(user=live.people[ADA])
        assert connection.mail_access == MailAccess.GRANTED


def test_a_decline_without_a_comment_shows_none(live: OutlookWorld) -> None:
    event = create_event(live, EDSGER)
    subscribe(live)

    respond(live, EDSGER, event, "decline")

    live.wait_until(lambda: Notice.objects.filter(user=live.people[ADA]).exists(), timeout=10)
    assert AttendeeReply.objects.get(event=event, email=EDSGER).comment == ""
    assert "Their comment" not in Notice.objects.get(user=live.people[ADA]).text
    entry = SyncLogEntry.objects.get(kind=LogKind.REPLY, event=event)
    assert "could not be read" not in entry.message
    assert mail_requests(live) == 1


def test_a_session_decline_brings_its_comment_to_the_notice_and_the_session_list(
    live: OutlookWorld,
) -> None:
    event = create_series(live)
    live.wait_synced(event.pk)
    live.wait_idle()
    subscribe(live)
    third = series.sessions(event)[2].on

    decline_occurrence(live, ALAN, event, 2)  # with the comment "Dentist"

    live.wait_until(lambda: MissedSession.objects.exists(), timeout=10)
    notice = live.wait_until(lambda: Notice.objects.filter(user=live.people[ADA]).first())
    assert "will miss the session" in notice.text and "Their comment: “Dentist”" in notice.text
    entry = SyncLogEntry.objects.get(kind=LogKind.REPLY, event=event, status="session")
    assert entry.details["comment"] == "Dentist"
    assert entry.details["session"] == third.isoformat()
    assert MissedSession.objects.get().comment == "Dentist"
    page = live.browser(ADA).get(event.get_absolute_url()).content.decode()
    session = page[page.index(f'id="session-{third.isoformat()}"') :]
    missing = session[session.index("Will miss it:") : session.index("</div>")]
    assert "Alan Turing" in missing and "Dentist" in missing


# --- without the setting, or without the permission ---------------------------------------


@pytest.fixture
def organizer_live(
    outlook: OutlookWorld, live_server: Any, settings: Any
) -> Iterator[OutlookWorld]:
    """Ada connected in organizer mode, with the setting off, so without Mail.Read."""
    outlook.emulator.reset(world_seed(PUBLIC_URL, mail_read=True))
    outlook.connect(ADA)
    outlook.owner = ADA  # type: ignore[attr-defined]
    settings.OUTLOOK = {**settings.OUTLOOK, "public_url": live_server.url}
    yield outlook
    outlook.emulator.control("POST", "/reset").raise_for_status()
    outlook.wait_idle(quiet=0.2, scheduled=False)


def test_with_the_setting_off_no_mail_is_read(organizer_live: OutlookWorld) -> None:
    live = organizer_live
    set_unenroll_on_decline(True)
    event = create_event(live, ALAN)
    subscribe(live)

    respond(live, ALAN, event, "decline", comment=COMMENT)

    live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)
    live.wait_until(lambda: Notice.objects.filter(user=live.people[ADA]).exists(), timeout=5)
    assert AttendeeReply.objects.get(event=event, email=ALAN).comment == ""
    assert mail_requests(live) == 0
    assert "Their comment" not in Notice.objects.get(user=live.people[ADA]).text
    # and nobody is asked for mail access
    start = live.browser(ADA).get("/outlook/connect/")
    assert "Mail.Read" not in parse_qs(urlsplit(start["Location"]).query)["scope"][0]


def test_an_organizer_without_mail_access_gets_the_decline_and_is_asked_at_the_next_save(
    organizer_live: OutlookWorld, settings: Any
) -> None:
    live = organizer_live
    set_unenroll_on_decline(True)
    show_comments(True)  # after Ada connected: her authorization has no Mail.Read
    event = create_event(live, ALAN)
    subscribe(live)

    respond(live, ALAN, event, "decline", comment=COMMENT)

    # the decline, the unenrolling and the notice as always; only the comment is missing
    live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)
    entry = live.wait_until(
        lambda: SyncLogEntry.objects.filter(kind=LogKind.REPLY, event=event).first(), timeout=5
    )
    assert entry.status == "unenrolled"
    assert "Its comment could not be read" in entry.message
    assert AttendeeReply.objects.get(event=event, email=ALAN).comment == ""
    assert mail_requests(live) == 0  # Microsoft gave no mail token: no Graph request
    notice = Notice.objects.get(user=live.people[ADA])
    assert "Alan Turing declined" in notice.text and "Their comment" not in notice.text
    connection = OutlookConnection.objects.get(user=live.people[ADA])
    assert connection.mail_access == MailAccess.MISSING
    assert connection.status == "connected"  # the calendar keeps working

    # The next save of an event takes Ada through Microsoft's consent for Mail.Read.
    form = live.browser(ADA).get(f"/events/{event.pk}/edit/").content.decode()
    assert "allow Convene to read them in your mail" in form
    start = live.browser(ADA).get("/outlook/connect/", {"next": f"/events/{event.pk}/edit/"})
    asked = parse_qs(urlsplit(start["Location"]).query)["scope"][0].split()
    assert "Mail.Read" in asked
    # (signing in again needs the redirect URI the emulator has registered)
    settings.OUTLOOK = {**settings.OUTLOOK, "public_url": PUBLIC_URL}
    live.connect(ADA)
    connection.refresh_from_db()
    assert connection.mail_access == MailAccess.GRANTED
    form = live.browser(ADA).get(f"/events/{event.pk}/edit/").content.decode()
    assert "allow Convene to read them in your mail" not in form


def test_a_platform_without_the_mail_permission_gets_the_decline_without_comment(
    outlook: OutlookWorld, live_server: Any, settings: Any
) -> None:
    from .test_platform import use_platform_calendar

    live = outlook
    # consented, but the registration has no Mail.Read: Graph answers 403 to the read
    live.emulator.reset(world_seed(PUBLIC_URL, platform_consented=True))
    use_platform_calendar()
    show_comments(True)
    set_unenroll_on_decline(True)
    settings.OUTLOOK = {**settings.OUTLOOK, "public_url": live_server.url}
    live.owner = "events@convene-platform.test"  # type: ignore[attr-defined]
    try:
        event = create_event(live, ALAN, EDSGER)
        subscribe(live)

        respond(live, ALAN, event, "decline", comment=COMMENT)

        live.wait_until(lambda: not is_enrolled(event, ALAN), timeout=10)
        entry = live.wait_until(
            lambda: SyncLogEntry.objects.filter(kind=LogKind.REPLY, event=event).first()
        )
        assert entry.status == "unenrolled"
        assert "Its comment could not be read: 403 ErrorAccessDenied" in entry.message
        assert AttendeeReply.objects.get(event=event, email=ALAN).comment == ""
        assert mail_requests(live) == 1
        notice = Notice.objects.get(user=live.people[ADA])
        assert "Alan Turing declined" in notice.text and "Their comment" not in notice.text
        assert is_enrolled(event, EDSGER)
    finally:
        live.emulator.control("POST", "/reset").raise_for_status()
        live.wait_idle(quiet=0.2, scheduled=False)


def test_an_organizer_who_refuses_mail_access_keeps_the_calendar_and_is_not_asked_again(
    organizer_live: OutlookWorld, settings: Any
) -> None:
    live = organizer_live
    settings.OUTLOOK = {**settings.OUTLOOK, "public_url": PUBLIC_URL}
    show_comments(True)
    event = create_event(live, ALAN)
    edit = f"/events/{event.pk}/edit/"
    client = live.browser(ADA)

    start = client.get("/outlook/connect/", {"next": edit})
    back = live.emulator.sign_in(start["Location"], ADA, consent=False)
    finished = live.return_from_microsoft(client, back)

    assert finished.status_code == 302 and finished["Location"] == edit
    connection = OutlookConnection.objects.get(user=live.people[ADA])
    assert connection.mail_access == MailAccess.DECLINED
    assert connection.status == "connected"
    form = client.get(edit).content.decode()
    assert "allow Convene to read them in your mail" not in form
    assert (
        "Mail.Read"
        not in parse_qs(urlsplit(client.get("/outlook/connect/")["Location"]).query)["scope"][0]
    )
    # ... unless they ask for it themselves
    assert "Allow it (Mail.Read)" in client.get("/outlook/").content.decode()
    again = client.get("/outlook/connect/", {"scope": "mail"})
    assert "Mail.Read" in parse_qs(urlsplit(again["Location"]).query)["scope"][0]
