"""CSRF on every form: a POST without the token is refused (403) and changes nothing, for every
URL the resolver knows, by someone allowed to post there. Only the URLs Microsoft calls are
exempt, and exactly those. A GET changes nothing anywhere (405, a page, or a redirect).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from convene.core import notices
from url_access.matrix import (
    LOGIN,
    VISITORS,
    Case,
    World,
    all_cases,
    build_world,
    changed_tables,
    database_state,
    named_routes,
)

# Called by Microsoft, which cannot hold Convene's CSRF token. The webhooks accept only
# notifications carrying a subscription's secret clientState (tests/convene/outlook/test_webhook*);
# the sign-in answer is only sealed and handed back, and counts only in the session that started
# the sign-in, with its single-use state (tests/convene/outlook/test_sign_in_problems.py).
EXEMPT = {"outlook:webhook", "outlook:webhook_lifecycle", "outlook:callback"}

# Reading notices is what marks them read: the only GET that writes, and only the reader's rows.
GET_MAY_CHANGE = {"core:notices": ["core.Notice"]}
# Not for people at all: only Prometheus, with its token (operations_table).
FOR_MACHINES = {"operations:metrics"}

ADMIN = VISITORS.index("admin")
CSRF_FAILURE = "CSRF verification failed"


def case_for(route: str) -> Case:
    """The table's most telling POST for a URL (one the admin may make), else any of its rows."""
    rows = [case for case in all_cases() if case.route == route]
    posts = [
        case
        for case in rows
        if case.method == "post" and not str(case.expected[ADMIN]).startswith("4")
    ]
    return (posts or rows)[0]


@pytest.fixture
def world(make_user: Any) -> World:
    return build_world(make_user)


def test_only_the_urls_microsoft_calls_are_exempt() -> None:
    routes, _ = named_routes()
    exempt = {
        name for name, pattern in routes.items() if getattr(pattern.callback, "csrf_exempt", False)
    }
    assert exempt == EXEMPT


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(EXEMPT))
def test_the_exempt_urls_refuse_what_they_cannot_verify(world: World, route: str) -> None:
    # Without a token they get past the CSRF check, and still change nothing: a forged
    # notification is refused for its clientState, a sign-in answer for its unsigned state.
    case = case_for(route)
    before = database_state()
    answer = case.send(Client(enforce_csrf_checks=True), world)
    assert CSRF_FAILURE not in answer.content.decode()
    assert answer.status_code in (400, 403)
    assert changed_tables(before, database_state()) == []


def admin_with_csrf_cookie(world: World) -> Client:
    """An admin's browser with a CSRF cookie (as any visitor's has): the forger lacks only the
    token, which is the secret the cookie-carrying browser cannot be made to send."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.people["admin"])
    client.get(reverse("accounts:profile"))
    assert client.cookies.get("csrftoken")
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(named_routes()[0].keys() - EXEMPT))
def test_a_post_without_the_token_is_refused_and_changes_nothing(world: World, route: str) -> None:
    client = admin_with_csrf_cookie(world)
    case = case_for(route)
    before = database_state()
    forged = client.post(case.url(world), case.data)
    assert forged.status_code == 403
    assert CSRF_FAILURE in forged.content.decode()
    assert changed_tables(before, database_state()) == []
    # The same request with the token gets past the check: it was the token that was missing.
    token = client.cookies["csrftoken"].value
    genuine = client.post(case.url(world), case.data, headers={"X-CSRFToken": token})
    assert CSRF_FAILURE not in genuine.content.decode()
    if case.method == "post":
        expected = case.expected[ADMIN]
        assert genuine.status_code == (302 if expected == LOGIN else expected)


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(named_routes()[0]))
def test_a_get_changes_nothing(world: World, route: str) -> None:
    client = Client()
    client.force_login(world.people["admin"])
    notices.notify(world.people["admin"], "Something happened to one of your events.")
    case = case_for(route)
    before = database_state()
    response = client.get(case.url(world))
    # A page (a form, a confirmation, a refusal to read) or a redirect; or the GET is refused.
    assert response.status_code in (200, 302, 400, 405) or (
        route in FOR_MACHINES and response.status_code == 403
    )
    assert changed_tables(before, database_state()) == GET_MAY_CHANGE.get(route, [])
