"""People, roles and signing in."""

from __future__ import annotations

import pytest
from django.db import IntegrityError
from django.urls import reverse

from convene.accounts.models import Role, User
from convene.accounts.services import RoleChangeRefused, set_role

pytestmark = pytest.mark.django_db


def test_emails_are_stored_in_lower_case(make_user):
    assert make_user(email="Ada@Contoso.TEST").email == "ada@contoso.test"


def test_an_email_is_unique_whatever_its_case(make_user):
    make_user(email="ada@contoso.test")
    with pytest.raises(IntegrityError):
        make_user(email="ADA@contoso.test")


def test_sign_in_with_email_in_any_case(client, make_user):
    make_user(email="ada@contoso.test")
    response = client.post(
        reverse("accounts:login"), {"username": "ADA@Contoso.test", "password": "pw-for-tests"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("events:list")


def test_sign_out_is_a_post(client, regular):
    client.force_login(regular)
    assert client.get(reverse("accounts:logout")).status_code == 405
    client.post(reverse("accounts:logout"))
    assert "_auth_user_id" not in client.session


def test_only_admins_are_staff_and_superusers(make_user):
    admin, organizer = make_user(Role.ADMIN), make_user(Role.ORGANIZER)
    assert admin.is_staff and admin.is_superuser and admin.has_perm("events.view_event")
    assert not (organizer.is_staff or organizer.is_superuser or organizer.has_perm("x.y"))


def test_a_deactivated_admin_loses_admin_rights(make_user):
    assert not make_user(Role.ADMIN, is_active=False).is_staff


def test_createsuperuser_makes_an_admin():
    user = User.objects.create_superuser("root@example.test", "pw", display_name="Root")
    assert user.role == Role.ADMIN


def test_set_role_by_an_admin(admin_user, regular):
    set_role(regular, Role.ORGANIZER, actor=admin_user)
    regular.refresh_from_db()
    assert regular.role == Role.ORGANIZER


def test_set_role_refuses_non_admins(organizer, regular):
    with pytest.raises(RoleChangeRefused):
        set_role(regular, Role.ADMIN, actor=organizer)


def test_set_role_refuses_your_own(admin_user):
    with pytest.raises(RoleChangeRefused):
        set_role(admin_user, Role.REGULAR, actor=admin_user)


def test_users_page_changes_a_role(client, admin_user, regular):
    client.force_login(admin_user)
    response = client.post(
        reverse("accounts:change_role", args=[regular.pk]), {"role": "organizer"}, follow=True
    )
    assert f"{regular.name} is now Organizer." in response.content.decode()
    regular.refresh_from_db()
    assert regular.role == Role.ORGANIZER


def test_users_page_deactivates_and_reactivates_someone(client, admin_user, regular):
    client.force_login(admin_user)
    url = reverse("accounts:change_active", args=[regular.pk])

    page = client.post(url, {"active": "0"}, follow=True).content.decode()

    assert f"{regular.name} is deactivated" in page
    regular.refresh_from_db()
    assert not regular.is_active
    client.post(url, {"active": "1"})
    regular.refresh_from_db()
    assert regular.is_active


def test_nobody_deactivates_themselves_and_nonsense_changes_nothing(client, admin_user, regular):
    client.force_login(admin_user)
    own = client.post(
        reverse("accounts:change_active", args=[admin_user.pk]), {"active": "0"}, follow=True
    )
    nonsense = client.post(
        reverse("accounts:change_active", args=[regular.pk]), {"active": "maybe"}, follow=True
    )

    assert "You cannot deactivate yourself" in own.content.decode()
    assert "Choose to deactivate or reactivate" in nonsense.content.decode()
    admin_user.refresh_from_db()
    regular.refresh_from_db()
    assert admin_user.is_active and regular.is_active


def test_users_page_lists_and_searches_people(client, admin_user, make_user):
    make_user(email="grace@contoso.test", display_name="Grace Hopper")
    make_user(email="alan@contoso.test", display_name="Alan Turing")
    client.force_login(admin_user)
    page = client.get(reverse("accounts:users"), {"q": "hopper"}).content.decode()
    assert "grace@contoso.test" in page
    assert "alan@contoso.test" not in page


def test_django_admin_lists_users_for_admins(client, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 200
    assert client.get(reverse("admin:accounts_user_add")).status_code == 200


def test_django_admin_shows_events_read_only(client, admin_user, event):
    client.force_login(admin_user)
    assert client.get(reverse("admin:events_event_change", args=[event.pk])).status_code == 200
    assert client.get(reverse("admin:events_event_add")).status_code == 403


def test_profile_saves_the_display_name(client, regular):
    client.force_login(regular)
    client.post(reverse("accounts:profile"), {"display_name": "Barbara"})
    regular.refresh_from_db()
    assert regular.display_name == "Barbara"


def test_django_admin_refuses_an_email_differing_only_in_case(client, admin_user, regular):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": regular.email.upper(),
            "display_name": "Copy",
            "role": "regular",
            "password1": "a-long-enough-password-1",
            "password2": "a-long-enough-password-1",
        },
    )
    assert response.status_code == 200
    assert "User with this Email address already exists." in response.content.decode()
    assert User.objects.count() == 2
