"""Whose answer is it: Outlook's address for a person, matched without regard to case and
through the Microsoft account they connected (an alias of their Convene email)."""

from __future__ import annotations

import pytest

from convene.accounts.models import Role, User
from convene.outlook.answers import people_by_address
from convene.outlook.models import OutlookConnection

pytestmark = pytest.mark.django_db


def test_an_address_in_another_case_is_the_same_person() -> None:
    alan = User.objects.create_user("alan@contoso.test", "x", role=Role.REGULAR)

    assert people_by_address(["ALAN@Contoso.test"]) == {"alan@contoso.test": alan}


def test_the_connected_microsoft_account_is_a_known_alias() -> None:
    grace = User.objects.create_user("grace@contoso.test", "x", role=Role.ORGANIZER)
    OutlookConnection.objects.create(
        user=grace,
        account_username="Grace.Hopper@Contoso.test",
        home_account_id="oid.tid",
        encrypted_token_cache="-",
    )

    assert people_by_address(["grace.hopper@contoso.test"]) == {"grace.hopper@contoso.test": grace}


def test_an_unknown_address_or_a_non_smtp_entry_is_nobody() -> None:
    User.objects.create_user("alan@contoso.test", "x", role=Role.REGULAR)

    assert people_by_address(["barbara@fabrikam.test", "/o=ExchangeLabs/cn=Recipients"]) == {}
