"""Platform calendar mode against the emulator: two tenants (the customer's people, the
platform's service mailbox), app-only tokens through MSAL, the admin's Test connection and
admin consent, and every change reaching everyone from the service mailbox."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from tests.world import PLATFORM_ADMIN, PLATFORM_DOMAIN, SERVICE_MAILBOX

from convene.accounts.models import Role, User
from convene.events import services
from convene.events.models import EnrollmentRole, Event
from convene.outlook import emulator_setup
from convene.outlook.microsoft import identity
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import (
    CalendarLink,
    LinkState,
    LogKind,
    Mode,
    OutlookConnection,
    OutlookSettings,
    SyncLogEntry,
)

from .conftest import CLIENT_ID, PASSWORD, PUBLIC_URL, OutlookWorld, world_seed
from .test_connect_and_sync import ADA, ALAN, BARBARA, EDSGER, GRACE, create_event, update

PLATFORM = PLATFORM_DOMAIN
SERVICE = SERVICE_MAILBOX
ADMIN = "admin@contoso.test"


def platform_seed(*, consented: bool) -> dict[str, Any]:
    """The test world, with or without an administrator's consent in the platform's tenant."""
    return world_seed(PUBLIC_URL, platform_consented=consented)


def use_platform_calendar() -> None:
    OutlookSettings.objects.filter(pk=1).update(mode=Mode.PLATFORM, service_mailbox=SERVICE)


@pytest.fixture
def platform(outlook: OutlookWorld) -> OutlookWorld:
    """Platform mode on, the app consented in the platform's tenant."""
    outlook.emulator.reset(platform_seed(consented=True))
    use_platform_calendar()
    return outlook


@pytest.fixture
def unconsented(outlook: OutlookWorld) -> OutlookWorld:
    """The platform's tenant exists, but no administrator has consented to Convene there."""
    outlook.emulator.reset(platform_seed(consented=False))
    return outlook


def run_test_connection(admin: Client, **fields: str) -> str:
    response = admin.post(
        "/outlook/admin/test-connection/",
        {"enabled": "on", "mode": "platform", "service_mailbox": SERVICE, **fields},
    )
    assert response.status_code == 200
    return response.content.decode()


def operations(outlook: OutlookWorld) -> dict[str, int]:
    counted: dict[str, int] = outlook.stats()["requests"]["byOperation"]
    return counted


# --- Test connection ----------------------------------------------------------------------


def test_test_connection_proves_reading_and_writing_the_service_calendar(
    platform: OutlookWorld,
) -> None:
    page = run_test_connection(platform.browser(ADMIN))

    assert "Connection works" in page
    assert '<form method="post" action="/outlook/admin/"' in page, "Save still saves"
    assert "can read the calendar" in page
    assert "can write to it" in page
    seen = operations(platform)
    assert seen.get("calendar.get") == 1
    assert seen.get("events.create") == 1
    assert seen.get("events.delete") == 1
    assert platform.mailbox(SERVICE) == [], "the test event was deleted again"
    entry = SyncLogEntry.objects.get(action="test_connection")
    assert entry.status == "ok" and entry.mailbox == SERVICE


def test_test_connection_without_admin_consent_offers_the_consent_button(
    unconsented: OutlookWorld,
) -> None:
    page = run_test_connection(unconsented.browser(ADMIN))

    assert f"No admin consent in tenant {PLATFORM}" in page
    assert "AADSTS700016" in page
    assert f"Grant admin consent in {PLATFORM}" in page
    assert operations(unconsented).get("calendar.get") is None


def test_in_the_development_world_the_platform_tenant_has_not_consented_yet(
    outlook: OutlookWorld, settings: Any
) -> None:
    """``make run`` registers Convene in the platform's tenant, as an admin registering the app
    there would; its application permission is granted only by admin consent, as in Entra
    (the dev seed used to grant it beforehand, so Test connection worked with no consent)."""
    people = [emulator_setup.Mailbox(ADMIN, "Contoso Admin", is_admin=True)]
    outlook.emulator.reset(
        emulator_setup.seed(people, password=PASSWORD, client_secret="dev", public_url=PUBLIC_URL)
    )
    settings.OUTLOOK = {
        **settings.OUTLOOK,
        "client_id": emulator_setup.DEV_CLIENT_ID,
        "client_secret": "dev",
    }
    page = run_test_connection(outlook.browser(ADMIN))

    assert "Connection works" not in page
    assert f"Grant admin consent in {PLATFORM}" in page
    assert operations(outlook).get("events.create") is None


def test_test_connection_names_a_mailbox_that_does_not_exist(platform: OutlookWorld) -> None:
    page = run_test_connection(
        platform.browser(ADMIN), service_mailbox=f"nobody@{PLATFORM}", platform_tenant=PLATFORM
    )

    assert f"Mailbox nobody@{PLATFORM} not found" in page
    assert "ErrorInvalidUser" in page


def test_test_connection_recognises_an_application_access_policy(
    platform: OutlookWorld,
) -> None:
    service = platform.emulator.backend.user(SERVICE)
    assert service is not None
    tenant_id = service.tenant_id
    platform.emulator.control(
        "POST",
        f"/apps/{CLIENT_ID}/access-policy",
        {"tenantId": tenant_id, "allowedMailboxes": [PLATFORM_ADMIN]},
    ).raise_for_status()

    page = run_test_connection(platform.browser(ADMIN))

    assert "An application access policy keeps Convene out of this mailbox" in page
    assert "Access to OData is disabled." in page


def test_test_connection_advice_for_a_plain_access_denied_covers_rbac_for_applications(
    outlook: OutlookWorld,
) -> None:
    # Consented, but no role reaches the mailbox: Exchange answers a plain "Access is
    # denied", as it does for a mailbox outside an RBAC for Applications scope.
    seed = platform_seed(consented=True)
    seed["tenants"][0]["apps"][0]["applicationPermissions"] = []
    outlook.emulator.reset(seed)

    page = run_test_connection(outlook.browser(ADMIN))

    assert "Convene is not allowed into this mailbox" in page
    assert "Test-ServicePrincipalAuthorization -Resource " + SERVICE in page
    assert "Do not also add an Entra application permission" in page
    assert "application access policy" not in page


def test_test_connection_recognises_a_wrong_client_secret(
    platform: OutlookWorld, settings: Any
) -> None:
    settings.OUTLOOK = {**settings.OUTLOOK, "client_secret": "not-the-secret"}

    page = run_test_connection(platform.browser(ADMIN))

    assert "Microsoft refused Convene&#x27;s client secret or certificate" in page
    assert "AADSTS7000215" in page


def test_test_connection_says_when_microsoft_is_unreachable(
    platform: OutlookWorld, settings: Any
) -> None:
    settings.OUTLOOK = {**settings.OUTLOOK, "authority_host": "https://127.0.0.1:9"}

    page = run_test_connection(platform.browser(ADMIN))

    assert "Microsoft could not be reached" in page


def test_test_connection_is_for_admins_only(platform: OutlookWorld) -> None:
    response = platform.browser(ADA).post(
        "/outlook/admin/test-connection/", {"service_mailbox": SERVICE}
    )
    assert response.status_code == 403


# --- admin consent ------------------------------------------------------------------------


def start_consent(client: Client) -> str:
    response = client.post(
        "/outlook/admin/consent/", {"service_mailbox": SERVICE, "platform_tenant": ""}
    )
    assert response.status_code == 302
    return str(response["Location"])


def test_admin_consent_from_the_settings_page_lets_the_test_pass(
    unconsented: OutlookWorld,
) -> None:
    admin = unconsented.browser(ADMIN)
    to_microsoft = start_consent(admin)
    assert f"/{PLATFORM}/v2.0/adminconsent?" in to_microsoft
    state = parse_qs(urlsplit(to_microsoft).query)["state"][0]

    back = unconsented.emulator.sign_in(to_microsoft, PLATFORM_ADMIN)

    parts = urlsplit(back)
    assert parts.path == "/outlook/admin-consent/"
    assert parse_qs(parts.query)["state"] == [state]
    landed = admin.get(parts.path, parse_qs(parts.query))
    assert landed.status_code == 302 and landed["Location"] == "/outlook/admin/"
    settings_page = admin.get("/outlook/admin/").content.decode()
    assert f"Admin consent granted in tenant {PLATFORM}" in settings_page
    # What the admin had typed (not saved yet) is on the form again, and stays there (a
    # reload, another visit) until the settings are saved; nothing was saved meanwhile.
    assert f'name="service_mailbox" value="{SERVICE}"' in settings_page
    assert OutlookSettings.load().service_mailbox == ""
    assert f'value="{SERVICE}"' in admin.get("/outlook/admin/").content.decode()
    assert "Connection works" in run_test_connection(admin)
    entry = SyncLogEntry.objects.get(action="platform_admin_consent")
    assert entry.status == "granted"


def test_a_declined_admin_consent_is_shown_on_the_settings_page(
    unconsented: OutlookWorld,
) -> None:
    admin = unconsented.browser(ADMIN)
    back = unconsented.emulator.sign_in(start_consent(admin), PLATFORM_ADMIN, consent=False)
    parts = urlsplit(back)

    admin.get(parts.path, parse_qs(parts.query))

    page = admin.get("/outlook/admin/").content.decode()
    assert "Admin consent was not granted" in page
    assert "AADSTS65004" in page


def test_an_admin_consent_answer_with_a_forged_state_is_refused(
    unconsented: OutlookWorld,
) -> None:
    admin = unconsented.browser(ADMIN)
    parts = urlsplit(unconsented.emulator.sign_in(start_consent(admin), PLATFORM_ADMIN))
    query = {**parse_qs(parts.query), "state": ["platform.forged"]}

    response = admin.get(parts.path, query)

    assert response.status_code == 400
    assert not SyncLogEntry.objects.filter(action="platform_admin_consent").exists()


def test_an_admin_consent_answer_from_another_session_is_refused(
    unconsented: OutlookWorld,
) -> None:
    parts = urlsplit(
        unconsented.emulator.sign_in(start_consent(unconsented.browser(ADMIN)), PLATFORM_ADMIN)
    )
    other_admin = Client()
    other_admin.force_login(
        User.objects.create_user("root@contoso.test", PASSWORD, role=Role.ADMIN)
    )

    response = other_admin.get(parts.path, parse_qs(parts.query))

    assert response.status_code == 400
    assert not SyncLogEntry.objects.filter(action="platform_admin_consent").exists()


def test_an_admin_consent_answer_is_used_once(unconsented: OutlookWorld) -> None:
    admin = unconsented.browser(ADMIN)
    parts = urlsplit(unconsented.emulator.sign_in(start_consent(admin), PLATFORM_ADMIN))
    assert admin.get(parts.path, parse_qs(parts.query)).status_code == 302

    replayed = admin.get(parts.path, parse_qs(parts.query))

    assert replayed.status_code == 400


# --- the settings page --------------------------------------------------------------------


def test_the_platform_mode_needs_a_service_mailbox(outlook: OutlookWorld) -> None:
    admin = outlook.browser(ADMIN)

    refused = admin.post("/outlook/admin/", {"enabled": "on", "mode": "platform"})

    assert refused.status_code == 200
    assert b"The platform calendar needs a service mailbox." in refused.content
    assert OutlookSettings.load().mode == Mode.ORGANIZER


def test_switching_with_no_event_in_outlook_just_switches(outlook: OutlookWorld) -> None:
    admin = outlook.browser(ADMIN)
    page = admin.get("/outlook/admin/")
    assert re.search(rb'id="mode-platform" value="platform"\s*aria-describedby', page.content)

    saved = admin.post(
        "/outlook/admin/",
        {
            "enabled": "on",
            "mode": "platform",
            "service_mailbox": SERVICE.upper(),
            "unenroll_on_decline": "on",
        },
    )

    assert saved.status_code == 302 and saved["Location"] == "/outlook/admin/"
    outlook_settings = OutlookSettings.load()
    assert (outlook_settings.mode, outlook_settings.service_mailbox) == (Mode.PLATFORM, SERVICE)
    logged = set(
        SyncLogEntry.objects.filter(kind=LogKind.SETTINGS).values_list("message", flat=True)
    )
    assert logged == {"Mode: organizer → platform", f"Service mailbox: — → {SERVICE}"}


# --- syncing from the service mailbox -----------------------------------------------------


def test_an_event_lands_in_the_service_calendar_and_with_everyone_in_both_tenants(
    platform: OutlookWorld,
) -> None:
    event = create_event(platform)
    services.add_person(event, platform.people[GRACE], EnrollmentRole.ORGANIZER, actor=None)
    services.enroll(event, platform.people[ALAN], actor=None)
    services.enroll(event, platform.people[BARBARA], actor=None)

    link = platform.wait_synced(event.pk)

    assert (link.mode, link.owner_mailbox) == (Mode.PLATFORM, SERVICE)
    (copy,) = platform.mailbox(SERVICE)
    assert {a["emailAddress"]["address"] for a in copy["attendees"]} == {ADA, GRACE, ALAN, BARBARA}
    assert "Organized by Ada Lovelace" in copy["body"]["content"]
    for email in (ADA, GRACE, ALAN, BARBARA):
        (invitation,) = platform.mailbox(email)
        assert invitation["iCalUId"] == link.ical_uid
        assert invitation["organizer"]["emailAddress"]["address"] == SERVICE
    assert not OutlookConnection.objects.exists(), "nobody had to sign in"
    assert platform.stats()["requests"]["byMailbox"].get(SERVICE)


def test_every_change_reaches_everyone_from_the_service_mailbox(platform: OutlookWorld) -> None:
    event = create_event(platform)
    services.enroll(event, platform.people[ALAN], actor=None)
    services.enroll(event, platform.people[BARBARA], actor=None)
    platform.wait_synced(event.pk)

    before = {email: platform.mailbox(email)[0]["start"] for email in (SERVICE, ADA, BARBARA)}

    update(event, title="Renamed", location="Room 202")
    update(event, start=event.start + timedelta(hours=2), end=event.end + timedelta(hours=2))
    services.enroll(event, platform.people[EDSGER], actor=None)
    services.unenroll(event, platform.people[ALAN], actor=None)
    platform.wait_synced(event.pk)

    for email in (SERVICE, ADA, BARBARA, EDSGER):
        (copy,) = platform.mailbox(email)
        assert copy["subject"] == "Renamed", email
        assert copy["location"]["displayName"] == "Room 202", email
        assert copy["start"] != before.get(email, copy["start"]) or email == EDSGER, email
    (removed,) = platform.mailbox(ALAN)
    assert removed["isCancelled"] is True

    services.cancel_event(event, actor=None, reason="Room flooded")
    platform.wait_synced(event.pk)
    for email in (ADA, BARBARA, EDSGER):
        (copy,) = platform.mailbox(email)
        assert copy["isCancelled"] is True, email


def test_missing_consent_is_a_failure_for_the_admin_not_a_sign_in_for_anyone(
    unconsented: OutlookWorld,
) -> None:
    use_platform_calendar()
    event = create_event(unconsented)

    def failing() -> CalendarLink | None:
        return CalendarLink.objects.filter(
            event=event, state=LinkState.FAILING, next_attempt_at__isnull=True
        ).first()

    link = unconsented.wait_until(failing)

    assert "AADSTS700016" in link.last_error
    assert not OutlookConnection.objects.exists()
    dashboard = unconsented.browser(ADMIN).get("/outlook/admin/sync/").content.decode()
    assert "AADSTS700016" in dashboard
    assert event.title in dashboard


def test_the_event_form_asks_nobody_to_sign_in(platform: OutlookWorld) -> None:
    response = platform.browser(ADA).post(
        "/events/new/",
        {
            "title": "No sign-in needed",
            "description": "",
            "start": "2031-05-01T18:00",
            "end": "2031-05-01T19:00",
            "timezone": "Europe/Berlin",
            "location": "",
            "capacity": "",
        },
    )

    assert response.status_code == 302
    assert not response["Location"].startswith("/outlook/connect/")
    event = Event.objects.get(title="No sign-in needed")
    platform.wait_synced(event.pk)
    (copy,) = platform.mailbox(SERVICE)
    assert copy["subject"] == "No sign-in needed"


def test_events_that_failed_for_want_of_consent_sync_once_it_is_granted(
    unconsented: OutlookWorld,
) -> None:
    use_platform_calendar()
    event = create_event(unconsented)
    unconsented.wait_until(
        lambda: CalendarLink.objects.filter(event=event, state=LinkState.FAILING).exists()
    )
    admin = unconsented.browser(ADMIN)
    parts = urlsplit(unconsented.emulator.sign_in(start_consent(admin), PLATFORM_ADMIN))

    admin.get(parts.path, parse_qs(parts.query))

    unconsented.wait_synced(event.pk)
    (copy,) = unconsented.mailbox(SERVICE)
    assert copy["subject"] == event.title


def test_threads_that_need_a_token_at_once_ask_microsoft_for_one(platform: OutlookWorld) -> None:
    """A backfill starts on several worker threads together: one token request, not one per
    thread (each slow token request held up the first batches)."""
    service = platform.emulator.backend.user(SERVICE)
    assert service is not None
    # Slow token answers, so every thread asks while the first request is still out.
    platform.emulator.control(
        "POST", "/faults", {"rules": [{"endpoint": "token", "action": "delay", "delayMs": 400}]}
    ).raise_for_status()
    tokens = identity.AppTokens(AppRegistration.from_settings().for_platform(), http_cache={})
    with ThreadPoolExecutor(6) as threads:
        got = list(threads.map(lambda _: tokens.token(service.tenant_id), range(6)))

    assert len(set(got)) == 1
    (rule,) = platform.emulator.control("GET", "/faults").json()["rules"]
    assert rule["matched"] == 1
