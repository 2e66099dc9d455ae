"""Every page of the access table carries Content-Security-Policy and Permissions-Policy, and
every answer to a signed-in person says ``Cache-Control: no-store`` (issue 19: none did)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from convene.core.headers import CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY
from url_access.matrix import VISITORS, Case, World, all_cases, build_world

from .test_permission_matrix import visit_as


@pytest.fixture
def world(make_user: Any) -> World:
    return build_world(make_user)


def cases_for(visitors: tuple[str, ...]) -> list[Any]:
    return [
        pytest.param(case, visitor, id=f"{case.name} as {visitor}")
        for case in all_cases()
        for visitor in visitors
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "visitor"), cases_for((VISITORS[0], VISITORS[-1])))
def test_every_page_has_a_content_security_policy(
    client: Client, world: World, case: Case, visitor: str
) -> None:
    visit_as(client, world, visitor)
    response = case.send(client, world)
    policy = response["Content-Security-Policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "visitor"), cases_for(VISITORS[1:]))
def test_nothing_a_signed_in_person_gets_is_stored_by_caches(
    client: Client, world: World, case: Case, visitor: str
) -> None:
    visit_as(client, world, visitor)
    response = case.send(client, world)
    assert "no-store" in response["Cache-Control"]
