"""Every URL of Convene for every kind of visitor, from the apps' tables (``*_table.py``): who
gets the page (200), who is sent on (302/303), who is sent to sign in (LOGIN), who is refused
(403), what is missing (404) or asked the wrong way (405). A refused request changes nothing.

The resolver walk makes the table complete: a URL added without a row fails here, so no URL
ships without someone deciding who may use it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from convene.core.models import SiteSettings
from url_access.matrix import (
    HIDDEN,
    LOGIN,
    SHOWN,
    VISITORS,
    Case,
    World,
    all_cases,
    build_world,
    changed_tables,
    database_state,
    named_routes,
)


@pytest.fixture
def world(make_user: Any) -> World:
    return build_world(make_user)


def visit_as(client: Client, world: World, visitor: str) -> None:
    if visitor == "regular_when_allowed":
        SiteSettings.objects.update_or_create(
            pk=1, defaults={"regular_users_may_create_events": True}
        )
    if visitor != "anonymous":
        client.force_login(world.people[visitor])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "visitor", "expected"),
    [
        pytest.param(case, visitor, expected, id=f"{case.name} as {visitor}")
        for case in all_cases()
        for visitor, expected in zip(VISITORS, case.expected, strict=True)
    ],
)
def test_access(client: Client, world: World, case: Case, visitor: str, expected: str | int):
    visit_as(client, world, visitor)
    before = database_state()
    response = case.send(client, world)
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    elif expected in (SHOWN, HIDDEN):
        assert response.status_code == 200
        assert (case.marker in response.content.decode()) == (expected == SHOWN)
    else:
        assert response.status_code == expected
        if expected in (302, 303) and visitor != "anonymous":
            assert not response["Location"].startswith(reverse("accounts:login"))
    refused = expected == LOGIN or (isinstance(expected, int) and expected >= 400)
    if refused:
        assert changed_tables(before, database_state()) == []


def test_every_url_of_convene_has_rows_in_the_table() -> None:
    names, unnamed = named_routes()
    assert unnamed == [], "name every URL pattern so the access table can list it"
    covered = {case.route for case in all_cases()}
    assert sorted(names.keys() - covered) == [], "URLs nobody has decided access for"
    assert sorted(covered - names.keys() - {"admin:index"}) == [], "rows for URLs that do not exist"


def test_every_table_row_is_for_every_visitor() -> None:
    for case in all_cases():
        assert len(case.expected) == len(VISITORS), case.name
