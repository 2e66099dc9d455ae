"""Hostile bodies cost the webhook little and never reach a 500 (issue 19: 100,000 nested
brackets raised RecursionError; a forged batch of 1,000 items cost 1,000 database lookups)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from convene.outlook.models import Subscription

from .test_webhook import SECRET, change, noted, post, queued, subscription

__all__ = ["queued", "subscription"]


@pytest.mark.parametrize("depth", [100_000, 5_000, 1_500])
def test_deeply_nested_json_is_refused_without_a_500(
    subscription: Subscription, queued: list[Any], depth: int
) -> None:
    response = post("[" * depth + "]" * depth)

    assert response.status_code == 400
    assert queued == [] and noted() == []


def test_nesting_inside_a_notification_is_refused_without_a_500(
    subscription: Subscription, queued: list[Any]
) -> None:
    nested = "[" * 3000 + "]" * 3000
    body = '{"value": [' + json.dumps(change())[:-1] + f', "extra": {nested}' + "}]}"

    assert post(body).status_code == 400
    assert noted() == []


def test_a_forged_batch_of_a_thousand_guesses_is_refused_without_a_query(
    subscription: Subscription, queued: list[Any]
) -> None:
    forged = [change(client_state=f"guess-{n}") for n in range(1000)]

    with CaptureQueriesContext(connection) as queries:
        response = post({"value": forged})

    assert response.status_code == 403
    assert len(queries) == 0
    assert queued == [] and noted() == []


def test_a_forged_batch_of_a_thousand_items_costs_one_query(
    subscription: Subscription, queued: list[Any]
) -> None:
    forged = [change(subscription_id=f"sub-{n}", client_state="guess") for n in range(1000)]

    with CaptureQueriesContext(connection) as queries:
        response = post({"value": forged})

    assert response.status_code == 403
    assert len(queries) == 1
    assert queued == [] and noted() == []


def test_a_genuine_batch_looks_its_subscription_up_once(
    subscription: Subscription, queued: list[Any]
) -> None:
    genuine = [
        change(resourceData={"id": f"AAMkEvent{n}"}, resource=f"Users/x/Events/AAMkEvent{n}")
        for n in range(50)
    ]

    with CaptureQueriesContext(connection) as queries:
        response = post({"value": genuine})

    assert response.status_code == 202
    lookups = [q for q in queries if "outlook_subscription" in q["sql"]]
    assert len(lookups) <= 2  # the check, and at most one write of when Graph was last heard
    assert len(noted()) == 50


def test_claims_that_are_not_strings_are_refused_without_a_500(
    subscription: Subscription, queued: list[Any]
) -> None:
    odd = [
        change(subscription_id=["sub-1"]),  # type: ignore[arg-type]
        change(client_state={"a": SECRET}),  # type: ignore[arg-type]
        change(subscription_id=None),  # type: ignore[arg-type]
    ]
    assert post({"value": odd}).status_code == 403
