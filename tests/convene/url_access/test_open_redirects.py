"""No open redirects: every place that honours a return URL keeps the visitor on Convene.

The places: signing in (the posted form, and the page when already signed in), signing out,
and connecting Outlook (``tests/convene/outlook/test_sign_in_problems.py``, which plays the
real sign-in with Microsoft's emulator). Enroll, unenroll and every other action return to a
fixed page of Convene and read no return URL. Django's sign-in and sign-out views and
``convene.outlook.web.views.safe_next`` decide the same way (``url_has_allowed_host_and_scheme``
against the request's own host, HTTPS required when the request is HTTPS).
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from convene.accounts.models import User
from url_access.hostile_urls import HOSTILE_NEXT, stays_on_convene

PASSWORD = "pw-for-tests"
ON_CONVENE = "/my-events/"


@pytest.fixture
def person(regular: User) -> User:
    return regular


def test_the_browser_reading_is_strict() -> None:
    # The judge of the tests below: each hostile URL, followed as such, would leave Convene.
    for hostile in HOSTILE_NEXT:
        if "%" not in hostile:
            assert not stays_on_convene(hostile), hostile
    assert stays_on_convene(ON_CONVENE)
    assert stays_on_convene(f"http://testserver{ON_CONVENE}")


@pytest.mark.parametrize("hostile", HOSTILE_NEXT)
def test_signing_in_returns_only_to_convene(client: Client, person: User, hostile: str) -> None:
    answer = client.post(
        reverse("accounts:login"), {"username": person.email, "password": PASSWORD, "next": hostile}
    )
    assert answer.status_code == 302
    assert stays_on_convene(answer["Location"]), answer["Location"]
    if "%" not in hostile:
        assert answer["Location"] == reverse("events:list")


@pytest.mark.parametrize("hostile", HOSTILE_NEXT)
def test_the_sign_in_page_does_not_carry_a_hostile_next(client: Client, hostile: str) -> None:
    page = client.get(reverse("accounts:login"), {"next": hostile})
    assert page.status_code == 200
    if "%" not in hostile:
        assert "evil.test" not in page.content.decode()


@pytest.mark.parametrize("hostile", HOSTILE_NEXT)
def test_an_already_signed_in_visitor_is_not_sent_away(
    client: Client, person: User, hostile: str
) -> None:
    client.force_login(person)
    answer = client.get(reverse("accounts:login"), {"next": hostile})
    assert answer.status_code == 302
    assert stays_on_convene(answer["Location"]), answer["Location"]


@pytest.mark.parametrize("hostile", HOSTILE_NEXT)
def test_signing_out_returns_only_to_convene(client: Client, person: User, hostile: str) -> None:
    client.force_login(person)
    answer = client.post(reverse("accounts:logout"), {"next": hostile})
    assert answer.status_code == 302
    assert stays_on_convene(answer["Location"]), answer["Location"]


def test_a_return_url_on_convene_is_honoured(client: Client, person: User) -> None:
    # Without this, the tests above would pass for a Convene that ignores "next" altogether.
    answer = client.post(
        reverse("accounts:login"),
        {"username": person.email, "password": PASSWORD, "next": ON_CONVENE},
    )
    assert answer["Location"] == ON_CONVENE
    assert client.get(reverse("accounts:login"), {"next": ON_CONVENE})["Location"] == ON_CONVENE
    assert client.post(reverse("accounts:logout"), {"next": ON_CONVENE})["Location"] == ON_CONVENE
