"""An organization that does not let users approve apps: Microsoft's "Need admin approval"
page, the way back to Convene, and the organization's admin approving organizer calendars
(delegated permissions only) through the link Convene gives."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from tests.world import CUSTOMER as DOMAIN

from convene.outlook.models import Mode, OutlookConnection, OutlookSettings

from .conftest import ADA, ADMIN, PASSWORD, Shot, World

pytestmark = pytest.mark.e2e


def users_may_not_consent(world: World) -> None:
    tenant = world.emulator.backend.tenant(DOMAIN)
    assert tenant is not None
    tenant.user_consent = False


def sign_in_at_microsoft(page: Page, email: str) -> None:
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email or username").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_organizer_in_a_tenant_needing_admin_approval_gets_the_admin_link_and_message(
    page: Page, world: World, sign_in: Callable[[Page, str], None], shot: Shot
) -> None:
    users_may_not_consent(world)
    OutlookSettings.objects.update_or_create(
        pk=1, defaults={"enabled": True, "mode": Mode.ORGANIZER}
    )
    sign_in(page, ADA)
    page.goto(f"{world.url}/outlook/connect/?next=/")

    sign_in_at_microsoft(page, ADA)
    expect(page.get_by_role("heading", name="Need admin approval")).to_be_visible()
    shot(page, "microsoft-need-admin-approval")
    page.get_by_role("button", name="Return to the application without granting consent").click()

    expect(
        page.get_by_role("heading", name="Microsoft did not give Convene access to your calendar")
    ).to_be_visible()
    message = page.get_by_label("Message to send your IT administrator")
    expect(message).to_contain_text("no application permission")
    link = page.get_by_role("link", name="Link for your administrator")
    expect(message).to_contain_text(str(link.get_attribute("href")))
    shot(page, "convene-needs-admin-approval", docs=True)
    assert not OutlookConnection.objects.exists()

    # The organization's admin opens the link from the message.
    link.click()
    sign_in_at_microsoft(page, ADMIN)
    expect(page.get_by_role("heading", name="Permissions requested")).to_be_visible()
    expect(page.get_by_text("Calendars.ReadWrite (on behalf of signed-in users)")).to_be_visible()
    expect(page.get_by_text("(application, all mailboxes)")).to_have_count(0)
    page.get_by_role("button", name="Accept").click()
    expect(
        page.get_by_role("heading", name="Convene is enabled for your organization")
    ).to_be_visible()

    # Now the organizer connects without being asked anything (Microsoft remembers her
    # sign-in from the first attempt).
    page.goto(f"{world.url}/outlook/connect/?next=/")
    expect(page.get_by_text(f"Outlook connected as {ADA}.")).to_be_visible()
