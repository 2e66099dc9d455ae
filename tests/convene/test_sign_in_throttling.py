"""Password guessing is limited per account and per address, with the time to wait shown; an
admin sees locked accounts and unlocks them, and the unlock is in the admin's history.

Issue 19: 50 wrong passwords for one account in 17.9 s all got the generic answer, and the
right one straight after signed in.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.admin.models import DELETION, LogEntry
from django.urls import reverse
from django.utils import timezone

from convene.accounts.models import Role

pytestmark = pytest.mark.django_db

SIGN_IN = reverse("accounts:login")
RIGHT = "pw-for-tests"


def sign_in(client, email, password, address="10.0.0.1"):
    return client.post(SIGN_IN, {"username": email, "password": password}, REMOTE_ADDR=address)


def fail(client, email, times, address="10.0.0.1"):
    for _ in range(times):
        response = sign_in(client, email, "wrong password", address)
        assert response.status_code in (200, 429)


def test_after_five_wrong_passwords_even_the_right_one_is_refused(client, regular):
    fail(client, regular.email, 5)

    response = sign_in(client, regular.email, RIGHT)

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    page = response.content.decode()
    assert "Too many failed sign-ins" in page
    assert "Try again in 15 minutes" in page
    assert int(response["Retry-After"]) > 14 * 60


def test_four_wrong_passwords_still_let_the_right_one_in(client, regular):
    fail(client, regular.email, 4)

    response = sign_in(client, regular.email, RIGHT)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(regular.pk)


def test_an_account_is_locked_from_every_address(client, regular):
    for number in range(5):
        fail(client, regular.email.upper(), 1, address=f"10.0.1.{number}")

    response = sign_in(client, regular.email, RIGHT, address="10.0.2.1")

    assert response.status_code == 429


def test_one_address_trying_many_accounts_is_locked(client, make_user):
    people = [make_user(Role.REGULAR) for _ in range(6)]
    for person in people[:5]:
        fail(client, person.email, 1, address="10.0.3.1")

    assert sign_in(client, people[5].email, RIGHT, address="10.0.3.1").status_code == 429
    assert sign_in(client, people[5].email, RIGHT, address="10.0.3.2").status_code == 302


def test_the_lock_ends_when_the_wait_is_over(client, regular):
    fail(client, regular.email, 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert sign_in(client, regular.email, RIGHT).status_code == 302


def test_an_admin_sees_the_locked_account_and_unlocking_it_is_recorded(client, regular, admin_user):
    fail(client, regular.email, 5)
    client.force_login(admin_user)

    listing = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert regular.email in listing.content.decode()
    attempts = list(AccessAttempt.objects.filter(username=regular.email))
    client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [a.pk for a in attempts],
            "post": "yes",
        },
    )

    assert not AccessAttempt.objects.exists()
    entry = LogEntry.objects.get(action_flag=DELETION)
    assert entry.user == admin_user
    client.logout()
    assert sign_in(client, regular.email, RIGHT).status_code == 302


def test_the_admin_sign_in_is_limited_too(client, admin_user):
    for _ in range(5):
        client.post(
            reverse("admin:login"),
            {"username": admin_user.email, "password": "wrong"},
            REMOTE_ADDR="10.0.4.1",
        )
    response = client.post(
        reverse("admin:login"),
        {"username": admin_user.email, "password": RIGHT},
        REMOTE_ADDR="10.0.4.1",
    )
    assert response.status_code == 429
