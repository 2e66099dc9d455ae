"""calendarView/delta: rounds, paging, @removed, expired and invalid tokens."""

from __future__ import annotations

from typing import Any

import pytest

from m365_emulator.graph.testkit import event_body
from m365_emulator.testing import EmulatorHandle

WINDOW = "startDateTime=2030-03-01T00:00:00Z&endDateTime=2030-04-01T00:00:00Z"


@pytest.fixture
def ada(emulator: EmulatorHandle) -> str:
    return emulator.token_for("ada@contoso.test")


def sync(
    emulator: EmulatorHandle, token: str, url: str, page_size: int | None = None
) -> tuple[list[dict[str, Any]], str, int]:
    """Follow nextLinks to the deltaLink; return (items, deltaLink, pages)."""
    headers = {"Authorization": f"Bearer {token}"}
    if page_size:
        headers["Prefer"] = f"odata.maxpagesize={page_size}"
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        response = emulator.http.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["value"]
        pages += 1
        if "@odata.deltaLink" in body:
            return items, body["@odata.deltaLink"], pages
        url = body["@odata.nextLink"]


def create(emulator: EmulatorHandle, token: str, subject: str, day: str = "04") -> str:
    body = event_body(
        subject=subject, start=f"2030-03-{day}T10:00:00", end=f"2030-03-{day}T11:00:00"
    )
    return str(emulator.graph("POST", "/me/events", token, json=body).json()["id"])


def test_initial_round_pages_with_maxpagesize(emulator: EmulatorHandle, ada: str) -> None:
    for index in range(5):
        create(emulator, ada, f"E{index}")
    emulator.graph(
        "POST",
        "/me/events",
        ada,
        json=event_body(subject="later", start="2030-06-01T10:00:00", end="2030-06-01T11:00:00"),
    )
    items, delta_link, pages = sync(
        emulator, ada, f"{emulator.graph_url}/me/calendarView/delta?{WINDOW}", page_size=2
    )
    assert pages == 3
    assert sorted(i["subject"] for i in items) == ["E0", "E1", "E2", "E3", "E4"]
    assert "$deltatoken=" in delta_link


def test_next_round_returns_changes_and_removals(emulator: EmulatorHandle, ada: str) -> None:
    keep = create(emulator, ada, "keep")
    gone = create(emulator, ada, "gone")
    moved = create(emulator, ada, "moved")
    _, delta_link, _ = sync(emulator, ada, f"{emulator.graph_url}/me/calendarView/delta?{WINDOW}")
    emulator.graph("PATCH", f"/me/events/{keep}", ada, json={"subject": "kept"})
    emulator.graph("DELETE", f"/me/events/{gone}", ada)
    out_of_window = {"dateTime": "2031-01-01T10:00:00", "timeZone": "UTC"}
    emulator.graph(
        "PATCH",
        f"/me/events/{moved}",
        ada,
        json={"start": out_of_window, "end": {**out_of_window, "dateTime": "2031-01-01T11:00:00"}},
    )
    fresh = create(emulator, ada, "fresh")
    items, next_link, _ = sync(emulator, ada, delta_link)
    by_id = {item["id"]: item for item in items}
    assert by_id[keep]["subject"] == "kept"
    assert by_id[fresh]["subject"] == "fresh"
    assert by_id[gone]["@removed"] == {"reason": "deleted"}
    assert by_id[moved]["@removed"] == {"reason": "deleted"}
    assert sync(emulator, ada, next_link)[0] == []


def test_changes_made_during_a_round_come_in_the_next(emulator: EmulatorHandle, ada: str) -> None:
    for index in range(3):
        create(emulator, ada, f"E{index}")
    headers = {"Authorization": f"Bearer {ada}", "Prefer": "odata.maxpagesize=1"}
    first = emulator.http.get(
        f"{emulator.graph_url}/me/calendarView/delta?{WINDOW}", headers=headers
    ).json()
    late = create(emulator, ada, "late")
    items, delta_link, _ = sync(emulator, ada, first["@odata.nextLink"])
    assert late not in {i["id"] for i in items}
    assert [i["id"] for i in sync(emulator, ada, delta_link)[0]] == [late]


def test_expired_delta_token_is_gone(emulator: EmulatorHandle, ada: str) -> None:
    _, delta_link, _ = sync(emulator, ada, f"{emulator.graph_url}/me/calendarView/delta?{WINDOW}")
    emulator.advance_clock(8 * 24 * 3600)
    response = emulator.http.get(
        delta_link, headers={"Authorization": f"Bearer {emulator.token_for('ada@contoso.test')}"}
    )
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "syncStateNotFound"


def test_unreadable_delta_token_is_invalid(emulator: EmulatorHandle, ada: str) -> None:
    url = f"{emulator.graph_url}/me/calendarView/delta?$deltatoken=bm90LWEtdG9rZW4"
    response = emulator.http.get(url, headers={"Authorization": f"Bearer {ada}"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidDeltaToken"


def test_delta_token_of_another_mailbox_is_invalid(emulator: EmulatorHandle, ada: str) -> None:
    _, delta_link, _ = sync(emulator, ada, f"{emulator.graph_url}/me/calendarView/delta?{WINDOW}")
    token = delta_link.split("$deltatoken=")[1]
    grace = emulator.token_for("grace@contoso.test")
    url = f"{emulator.graph_url}/me/calendarView/delta?$deltatoken={token}"
    response = emulator.http.get(url, headers={"Authorization": f"Bearer {grace}"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidDeltaToken"


def test_delta_token_dies_with_a_reset(emulator: EmulatorHandle, ada: str) -> None:
    _, delta_link, _ = sync(emulator, ada, f"{emulator.graph_url}/me/calendarView/delta?{WINDOW}")
    emulator.reset()
    fresh = emulator.token_for("ada@contoso.test")
    response = emulator.http.get(delta_link, headers={"Authorization": f"Bearer {fresh}"})
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "SyncStateNotFound"


def test_delta_needs_a_window(emulator: EmulatorHandle, ada: str) -> None:
    assert emulator.graph("GET", "/me/calendarView/delta", ada).status_code == 400


def test_sdk_style_delta_path_with_parentheses(emulator: EmulatorHandle, ada: str) -> None:
    create(emulator, ada, "x")
    response = emulator.graph("GET", f"/me/calendarView/delta()?{WINDOW}", ada)
    assert response.status_code == 200
    assert len(response.json()["value"]) == 1


def test_delta_items_carry_the_event_odata_type(emulator: EmulatorHandle, ada: str) -> None:
    create(emulator, ada, "Typed")
    items, _link, _pages = sync(
        emulator, ada, f"{emulator.graph_url}/me/calendarView/delta?{WINDOW}"
    )
    assert [item["@odata.type"] for item in items] == ["#microsoft.graph.event"]
