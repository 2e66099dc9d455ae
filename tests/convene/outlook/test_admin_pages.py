"""The admin's Outlook page, the sync dashboard, the organizer's page and who may open them."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from convene.accounts.models import Role, User
from convene.core.models import SiteSettings
from convene.outlook.models import (
    CalendarLink,
    LinkState,
    LogKind,
    OutlookSettings,
    SyncLogEntry,
)

from .conftest import OutlookWorld
from .test_connect_and_sync import ADA, create_event

CONFIGURED = {
    "client_id": "3d1f6a52-8c3e-4a8b-9d21-5b7e0c4f9a10",
    "client_secret": "secret",
    "client_certificate_path": "",
    "authority_host": "https://login.example.test",
    "tenant": "organizations",
    "graph_url": "https://graph.example.test/v1.0",
    "ca_bundle": None,
    "public_url": "http://testserver",
}
UNCONFIGURED = {**CONFIGURED, "client_id": "", "client_secret": ""}


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin(make_user: Any) -> User:
    user: User = make_user(Role.ADMIN)
    return user


@pytest.mark.parametrize(
    ("url", "method"),
    [
        ("/outlook/admin/", "get"),
        ("/outlook/admin/", "post"),
        ("/outlook/admin/sync/", "get"),
        ("/outlook/admin/sync/1/retry/", "post"),
    ],
)
@pytest.mark.parametrize("role", [Role.REGULAR, Role.ORGANIZER])
def test_admin_pages_are_for_admins_only(make_user: Any, url: str, method: str, role: Role) -> None:
    response = getattr(signed_in(make_user(role)), method)(url)
    assert response.status_code == 403


@pytest.mark.parametrize(
    "url", ["/outlook/admin/", "/outlook/admin/sync/", "/outlook/", "/outlook/connect/"]
)
def test_anonymous_people_are_sent_to_sign_in(db: None, url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/sign-in/")


def test_regular_users_may_not_connect_unless_allowed(make_user: Any, settings: Any) -> None:
    settings.OUTLOOK = CONFIGURED
    regular = make_user(Role.REGULAR)
    assert signed_in(regular).get("/outlook/connect/").status_code == 403


def test_the_menu_leads_to_the_outlook_page(admin: User) -> None:
    page = signed_in(admin).get("/")
    assert b'href="/outlook/admin/"' in page.content
    assert b"Microsoft Outlook" in page.content


def test_switching_on_without_an_app_registration_says_what_is_missing(
    admin: User, settings: Any
) -> None:
    settings.OUTLOOK = UNCONFIGURED
    client = signed_in(admin)

    response = client.post("/outlook/admin/", {"enabled": "on", "mode": "organizer"})

    assert response.status_code == 200
    assert b"OUTLOOK_CLIENT_ID is not set" in response.content
    assert not OutlookSettings.load().enabled
    assert not SyncLogEntry.objects.exists()


def test_every_setting_change_is_in_the_audit_log(admin: User, settings: Any) -> None:
    settings.OUTLOOK = CONFIGURED
    client = signed_in(admin)

    response = client.post(
        "/outlook/admin/",
        {
            "enabled": "on",
            "mode": "organizer",
            "regular_users_may_create_events": "on",
            "unenroll_on_decline": "",
        },
    )

    assert response.status_code == 302
    outlook = OutlookSettings.load()
    assert outlook.enabled and not outlook.unenroll_on_decline
    assert SiteSettings.load().regular_users_may_create_events
    logged = set(
        SyncLogEntry.objects.filter(kind=LogKind.SETTINGS, user=admin).values_list(
            "message", flat=True
        )
    )
    assert logged == {
        "Outlook sync: off → on",
        "Unenroll people who decline in Outlook: on → off",
        "Regular users may create events: off → on",
    }


def test_switching_on_brings_every_upcoming_event_into_outlook(outlook: OutlookWorld) -> None:
    OutlookSettings.objects.update(enabled=False)
    event = create_event(outlook)
    assert not CalendarLink.objects.exists()
    outlook.connect(ADA)
    admin = outlook.people["admin@contoso.test"]

    signed_in(admin).post("/outlook/admin/", {"enabled": "on", "mode": "organizer"})

    outlook.wait_synced(event.pk)
    assert [e["subject"] for e in outlook.mailbox(ADA)] == [event.title]


def test_the_dashboard_shows_states_failures_and_retries_them(outlook: OutlookWorld) -> None:
    event = create_event(outlook)  # Ada never connected: waiting for her authorization
    outlook.wait_until(
        lambda: CalendarLink.objects.filter(state=LinkState.WAITING_AUTHORIZATION).exists()
    )
    CalendarLink.objects.update(
        state=LinkState.FAILING, last_error="400 Boom", next_attempt_at=None
    )
    admin = signed_in(outlook.people["admin@contoso.test"])

    page = admin.get("/outlook/admin/sync/")

    assert b"400 Boom" in page.content
    assert b"Retry now" in page.content
    outlook.connect(ADA)
    link = CalendarLink.objects.get(event=event)
    response = admin.post(f"/outlook/admin/sync/{link.pk}/retry/")
    assert response.status_code == 302
    outlook.wait_synced(event.pk)
    filtered = admin.get("/outlook/admin/sync/", {"kind": "decision", "event": str(event.pk)})
    assert b"manual_retry" in filtered.content


def test_the_organizer_sees_their_events_sync_state(outlook: OutlookWorld) -> None:
    event = create_event(outlook)
    outlook.wait_until(
        lambda: CalendarLink.objects.filter(state=LinkState.WAITING_AUTHORIZATION).exists()
    )
    ada = outlook.browser(ADA)
    page = ada.get("/outlook/")
    assert b"Waiting for authorization" in page.content
    assert b"Connect Outlook" in page.content
    detail = ada.get(f"/events/{event.pk}/")
    assert b"Waiting for authorization" in detail.content

    outlook.connect(ADA)
    outlook.wait_synced(event.pk)

    assert b"Synced to Outlook" in ada.get(f"/events/{event.pk}/").content
    assert (
        b"connected as <strong>ada@contoso.test</strong>" in ada.get("/accounts/profile/").content
    )
    attendee_view = outlook.browser("alan@contoso.test").get(f"/events/{event.pk}/")
    assert b"Synced to Outlook" not in attendee_view.content


def test_status_and_resync_commands(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    event = create_event(outlook)
    outlook.wait_synced(event.pk)
    out = StringIO()

    call_command("outlook", "status", stdout=out)

    assert "Outlook sync: on" in out.getvalue()
    assert "Synced" in out.getvalue()
    out = StringIO()
    call_command("outlook", "resync", "--all", stdout=out)
    assert "1 events queued" in out.getvalue()
    outlook.wait_synced(event.pk)
    assert len(outlook.mailbox(ADA)) == 1
