"""`manage.py load_demo_data`."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from convene.accounts.models import Role, User
from convene.events.demo import DEMO_PASSWORD
from convene.events.models import Enrollment, Event

pytestmark = pytest.mark.django_db


def test_demo_data_loads_people_of_every_role_and_a_dozen_upcoming_events(capsys):
    call_command("load_demo_data")
    assert User.objects.get(email="admin@convene.test").role == Role.ADMIN
    assert set(User.objects.filter(role=Role.ORGANIZER).values_list("email", flat=True)) == {
        "ada@contoso.test",
        "grace@contoso.test",
    }
    assert User.objects.filter(role=Role.REGULAR).count() >= 4
    assert Event.objects.upcoming().count() == 12
    assert len({e.timezone for e in Event.objects.all()}) >= 5
    assert Enrollment.objects.filter(role="attendee").exists()
    assert "(password for everyone: convene-demo)" in capsys.readouterr().out


def test_demo_data_twice_changes_nothing():
    call_command("load_demo_data")
    counts = (User.objects.count(), Event.objects.count(), Enrollment.objects.count())
    call_command("load_demo_data")
    assert (User.objects.count(), Event.objects.count(), Enrollment.objects.count()) == counts


def test_demo_people_sign_in_with_the_demo_password():
    call_command("load_demo_data")
    request = RequestFactory().post("/accounts/sign-in/")
    assert authenticate(request, username="ada@contoso.test", password=DEMO_PASSWORD) is not None
