"""Least privilege: organizer calendars never ask a customer's admin for an application
permission, and the platform calendar works from a registration of its own."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from convene.outlook.microsoft import identity
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import OutlookSettings

from .conftest import CLIENT_ID, PASSWORD, PUBLIC_URL, OutlookWorld, world_seed
from .test_connect_and_sync import create_event
from .test_platform import PLATFORM, SERVICE, platform_seed, use_platform_calendar

STRICT = "strict.test"
STRICT_ADMIN = f"boss@{STRICT}"
PLATFORM_CLIENT_ID = "8a6c4e20-1f3b-4d5a-9c7e-2b4d6f8a0c13"
PLATFORM_SECRET = "convene-platform-secret"


def organizer_consent_link() -> str:
    registration = AppRegistration.from_settings()
    return identity.admin_consent_page(
        registration, "organizations", registration.absolute("/outlook/admin-consent/"), "s"
    )


def test_organizer_admin_consent_link_names_the_delegated_scopes(outlook: OutlookWorld) -> None:
    [scope] = parse_qs(urlsplit(organizer_consent_link()).query)["scope"]

    assert ".default" not in scope
    assert set(scope.split()) == {
        "https://graph.microsoft.com/Calendars.ReadWrite",
        "https://graph.microsoft.com/User.Read",
        "offline_access",
        "openid",
        "profile",
    }


def test_an_admin_approving_organizer_calendars_grants_no_application_permission(
    outlook: OutlookWorld,
) -> None:
    seed = world_seed(PUBLIC_URL)
    seed["tenants"].append(
        {
            "domain": STRICT,
            "userConsent": False,
            "users": [
                {"userPrincipalName": STRICT_ADMIN, "password": PASSWORD, "isAdmin": True},
                {"userPrincipalName": f"olga@{STRICT}", "password": PASSWORD},
            ],
        }
    )
    outlook.emulator.reset(seed)

    answer = outlook.emulator.sign_in(organizer_consent_link(), STRICT_ADMIN)

    strict = outlook.emulator.backend.tenant(STRICT)
    assert strict is not None
    assert parse_qs(urlsplit(answer).query)["admin_consent"] == ["True"]
    # Olga may now sign in without being asked ...
    signed_in = outlook.emulator.sign_in(
        identity.start_sign_in(
            AppRegistration.from_settings(),
            {},
            user_id=1,
            redirect_uri=f"{PUBLIC_URL}/outlook/callback/",
            return_to="/",
        ),
        f"olga@{STRICT}",
    )
    assert "code" in parse_qs(urlsplit(signed_in).query)
    # ... but Convene got no read/write access to every calendar of the organization.
    assert not outlook.emulator.backend.is_admin_consented(CLIENT_ID, strict.id)
    token = outlook.emulator.app_token(strict.id)
    refused = outlook.emulator.graph("GET", f"/users/olga@{STRICT}/events", token)
    assert refused.status_code == 403


def separate_registrations_seed() -> dict[str, Any]:
    """The organizer registration with delegated permissions only; the platform registration,
    in the platform's tenant, with the application permission (consented there)."""
    seed = platform_seed(consented=False)
    (organizer_app,) = seed["tenants"][0]["apps"]
    organizer_app["applicationPermissions"] = []
    platform_tenant = seed["tenants"][-1]
    platform_tenant["apps"] = [
        {
            "clientId": PLATFORM_CLIENT_ID,
            "clientSecret": PLATFORM_SECRET,
            "displayName": "Convene platform",
            "redirectUris": [f"{PUBLIC_URL}/outlook/admin-consent/"],
            "delegatedScopes": [],
            "applicationPermissions": ["Calendars.ReadWrite"],
        }
    ]
    platform_tenant["consentedApps"] = [PLATFORM_CLIENT_ID]
    return seed


def test_platform_calendar_uses_its_own_registration(outlook: OutlookWorld, settings: Any) -> None:
    outlook.emulator.reset(separate_registrations_seed())
    settings.OUTLOOK = {
        **settings.OUTLOOK,
        "platform_client_id": PLATFORM_CLIENT_ID,
        "platform_client_secret": PLATFORM_SECRET,
    }
    use_platform_calendar()

    event = create_event(outlook)

    outlook.wait_synced(event.pk)
    assert [e["subject"] for e in outlook.mailbox(SERVICE)] == ["Compilers night"]


def test_platform_admin_consent_asks_the_platform_registration_for_default(
    outlook: OutlookWorld, settings: Any
) -> None:
    outlook.emulator.reset(separate_registrations_seed())
    settings.OUTLOOK = {
        **settings.OUTLOOK,
        "platform_client_id": PLATFORM_CLIENT_ID,
        "platform_client_secret": PLATFORM_SECRET,
    }
    OutlookSettings.objects.filter(pk=1).update(service_mailbox=SERVICE)

    response = outlook.browser("admin@contoso.test").post(
        "/outlook/admin/consent/", {"service_mailbox": SERVICE, "platform_tenant": ""}
    )

    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["client_id"] == [PLATFORM_CLIENT_ID]
    assert query["scope"] == ["https://graph.microsoft.com/.default"]
    assert f"/{PLATFORM}/v2.0/adminconsent" in response["Location"]
