"""Optimistic concurrency on events (``If-Match``): a write that names an older version of the
event (its etag, ``W/"<changeKey>"``) is refused with 412 and changes nothing, alone or inside
a JSON batch; the current etag, or ``*``, lets it through; no header, no check."""

from __future__ import annotations

from typing import Any

import pytest

from m365_emulator.graph.testkit import event_body
from m365_emulator.testing import EmulatorHandle

ADA = "ada@contoso.test"


@pytest.fixture
def ada(emulator: EmulatorHandle) -> str:
    return emulator.token_for(ADA)


def create(emulator: EmulatorHandle, token: str) -> dict[str, Any]:
    response = emulator.graph("POST", "/me/events", token, json=event_body(subject="Kick-off"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def renamed(emulator: EmulatorHandle, token: str, event: dict[str, Any]) -> dict[str, Any]:
    """Someone else changes the event: its changeKey moves on."""
    path = f"/me/events/{event['id']}"
    response = emulator.graph("PATCH", path, token, json={"subject": "Renamed elsewhere"})
    assert response.status_code == 200
    return dict(response.json())


def test_a_patch_naming_an_older_version_is_refused_and_changes_nothing(
    emulator: EmulatorHandle, ada: str
) -> None:
    event = create(emulator, ada)
    renamed(emulator, ada, event)
    path = f"/me/events/{event['id']}"

    refused = emulator.graph(
        "PATCH", path, ada, json={"subject": "Mine"}, headers={"If-Match": event["@odata.etag"]}
    )

    assert refused.status_code == 412
    assert refused.json()["error"]["code"] == "ErrorIrresolvableConflict"
    assert emulator.graph("GET", path, ada).json()["subject"] == "Renamed elsewhere"


def test_a_patch_naming_the_current_version_or_any_goes_through(
    emulator: EmulatorHandle, ada: str
) -> None:
    event = renamed(emulator, ada, create(emulator, ada))
    path = f"/me/events/{event['id']}"

    current = emulator.graph(
        "PATCH", path, ada, json={"subject": "Mine"}, headers={"If-Match": event["@odata.etag"]}
    )
    any_version = emulator.graph(
        "PATCH", path, ada, json={"subject": "Anyway"}, headers={"If-Match": "*"}
    )

    assert current.status_code == 200
    assert any_version.status_code == 200
    assert any_version.json()["subject"] == "Anyway"


def test_cancel_and_delete_naming_an_older_version_are_refused(
    emulator: EmulatorHandle, ada: str
) -> None:
    event = create(emulator, ada)
    renamed(emulator, ada, event)
    path = f"/me/events/{event['id']}"
    stale = {"If-Match": event["@odata.etag"]}

    cancel = emulator.graph("POST", f"{path}/cancel", ada, json={"comment": "x"}, headers=stale)
    delete = emulator.graph("DELETE", path, ada, headers=stale)

    assert (cancel.status_code, delete.status_code) == (412, 412)
    assert emulator.graph("GET", path, ada).status_code == 200


def test_a_batched_patch_naming_an_older_version_is_refused_on_its_own(
    emulator: EmulatorHandle, ada: str
) -> None:
    event = create(emulator, ada)
    current = renamed(emulator, ada, event)
    url = f"/me/events/{event['id']}"

    def patch(number: str, etag: str, subject: str) -> dict[str, Any]:
        return {
            "id": number,
            "method": "PATCH",
            "url": url,
            "headers": {"Content-Type": "application/json", "If-Match": etag},
            "body": {"subject": subject},
        }

    response = emulator.graph(
        "POST", "/$batch", ada, json={"requests": [patch("1", event["@odata.etag"], "Stale")]}
    )
    answers = {a["id"]: a for a in response.json()["responses"]}
    assert answers["1"]["status"] == 412
    assert answers["1"]["body"]["error"]["code"] == "ErrorIrresolvableConflict"

    fresh = emulator.graph(
        "POST", "/$batch", ada, json={"requests": [patch("2", current["@odata.etag"], "Fresh")]}
    )
    assert fresh.json()["responses"][0]["status"] == 200
    assert emulator.graph("GET", url, ada).json()["subject"] == "Fresh"
