"""Every property the emulator returns exists in Microsoft's CSDL with the right JSON type.

The JSON comes from real calls over HTTPS (events as organizer and attendee, calendars, meeting
messages, subscriptions, change and lifecycle notifications); the schema is the committed
subset of graph-v1.0-Prod.csdl (src/m365_emulator/graph/schema/).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

import pytest

from m365_emulator.graph.schema import enum_members, properties_of, schema
from m365_emulator.graph.testkit import WebhookReceiver, event_body, webhook_receiver
from m365_emulator.testing import EmulatorHandle, seed_with_delegated_scopes

SERVICE = "events@convene-platform.test"
ADA = "ada@contoso.test"
EXT_ID = "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name ConveneEventId"
_DATETIME_OFFSET = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})$"
)


def conformance_errors(type_name: str, value: Any, where: str = "$") -> list[str]:
    """Differences between ``value`` and the CSDL type ``type_name`` (empty when it conforms)."""
    if not isinstance(value, dict):
        return [f"{where}: expected an object of {type_name}"]
    odata_type = value.get("@odata.type")
    if isinstance(odata_type, str) and odata_type.lower().startswith("#microsoft.graph."):
        derived = odata_type.split(".")[-1]
        derived = next((t for t in schema()["types"] if t.lower() == derived.lower()), derived)
        if derived not in schema()["types"]:
            return [f"{where}: unknown @odata.type {odata_type}"]
        type_name = derived
    props = properties_of(type_name)
    # Event and message are open types in the CSDL, but Outlook sends only declared
    # properties; only pure property bags (resourceData) may carry undeclared ones.
    entry = schema()["types"][type_name]
    open_type = entry.get("openType", False) and not entry["properties"]
    errors: list[str] = []
    for key, item in value.items():
        if key.startswith("@") or "@odata." in key:
            continue  # instance annotations (@odata.etag, @odata.context, @removed, ...)
        prop = props.get(key)
        if prop is None:
            if not open_type:
                errors.append(f"{where}.{key}: no such property on {type_name}")
            continue
        errors += _check(prop["type"], item, prop.get("nullable", True), f"{where}.{key}")
    return errors


def _check(type_name: str, value: Any, nullable: bool, where: str) -> list[str]:
    if value is None:
        return [] if nullable else [f"{where}: null where {type_name} is not nullable"]
    if type_name.startswith("Collection("):
        if not isinstance(value, list):
            return [f"{where}: expected an array of {type_name}"]
        inner = type_name[len("Collection(") : -1]
        return [
            e for i, item in enumerate(value) for e in _check(inner, item, False, f"{where}[{i}]")
        ]
    simple = {
        "Edm.String": lambda v: isinstance(v, str),
        "Edm.Boolean": lambda v: isinstance(v, bool),
        "Edm.Int32": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Edm.Double": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "Edm.DateTimeOffset": lambda v: isinstance(v, str) and bool(_DATETIME_OFFSET.match(v)),
        "Edm.Guid": lambda v: isinstance(v, str) and _is_guid(v),
        "Edm.Date": lambda v: isinstance(v, str) and bool(re.match(r"^\d{4}-\d{2}-\d{2}$", v)),
        # workingHours' times, as Graph writes them: 08:00:00.0000000
        "Edm.TimeOfDay": lambda v: (
            isinstance(v, str) and bool(re.match(r"^\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?$", v))
        ),
    }
    if type_name in simple:
        return [] if simple[type_name](value) else [f"{where}: {value!r} is not {type_name}"]
    short = type_name.removeprefix("graph.")
    members = enum_members(short)
    if members is not None:
        return [] if value in members else [f"{where}: {value!r} is not a member of {short}"]
    return conformance_errors(short, value, where)


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def world(emulator: EmulatorHandle, hook: WebhookReceiver) -> dict[str, Any]:
    """Real answers of the emulator, by kind."""
    # Reading messages needs a mail permission, as in Graph.
    emulator.reset(seed_with_delegated_scopes("Mail.Read"))
    app = emulator.app_token()
    expiry = (emulator.backend.clock.now() + timedelta(hours=1)).astimezone(UTC)
    subscription = emulator.graph(
        "POST",
        "/subscriptions",
        app,
        json={
            "changeType": "created,updated,deleted",
            "notificationUrl": hook.url,
            "lifecycleNotificationUrl": hook.url,
            "resource": f"users/{SERVICE}/events",
            "expirationDateTime": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "clientState": "state",
        },
    ).json()
    body = event_body(
        attendees=(ADA, "outsider@elsewhere.test"),
        body={"contentType": "html", "content": "<p>Agenda</p>"},
        location={"displayName": "Room 1", "address": {"city": "Berlin"}},
        isOnlineMeeting=True,
        onlineMeetingProvider="teamsForBusiness",
        categories=["Convene"],
        transactionId="tx-1",
        singleValueExtendedProperties=[{"id": EXT_ID, "value": "42"}],
    )
    organizer = emulator.graph("POST", f"/users/{SERVICE}/events", app, json=body).json()
    ada = emulator.token_for(ADA)
    copy = emulator.graph("GET", "/me/events", ada).json()["value"][0]
    emulator.graph("POST", f"/me/events/{copy['id']}/accept", ada, json={"comment": "yes"})
    expanded = emulator.graph(
        "GET",
        f"/users/{SERVICE}/events/{organizer['id']}"
        f"?$expand=singleValueExtendedProperties($filter=id eq '{EXT_ID}')",
        app,
    ).json()
    emulator.graph("POST", f"/users/{SERVICE}/events/{organizer['id']}/cancel", app, json={})
    emulator.control(
        "POST", f"/subscriptions/{subscription['id']}/lifecycle", {"lifecycleEvent": "missed"}
    )
    window = "startDateTime=2030-01-01T00:00:00Z&endDateTime=2031-01-01T00:00:00Z"
    delta = emulator.graph("GET", f"/me/calendarView/delta?{window}", ada).json()["value"]
    notifications = hook.wait_for(4)
    return {
        "event": [
            organizer,
            expanded,
            copy,
            *delta,
            *emulator.control("GET", f"/mailboxes/{ADA}/events").json()["value"],
        ],
        "calendar": emulator.graph("GET", "/me/calendars", ada).json()["value"],
        "eventMessage": [
            *emulator.graph(
                "GET", "/me/messages", emulator.token_for(ADA, ("Calendars.ReadWrite", "Mail.Read"))
            ).json()["value"],
            *emulator.control("GET", f"/mailboxes/{SERVICE}/messages").json()["value"],
        ],
        "subscription": [
            subscription,
            *emulator.graph("GET", "/subscriptions", app).json()["value"],
        ],
        "changeNotificationCollection": [{"value": [n]} for n in notifications],
    }


@pytest.mark.parametrize(
    "kind", ["event", "calendar", "eventMessage", "subscription", "changeNotificationCollection"]
)
def test_returned_json_matches_the_csdl(world: dict[str, Any], kind: str) -> None:
    samples = world[kind]
    assert samples, f"no {kind} returned"
    errors = [e for sample in samples for e in conformance_errors(kind, sample)]
    assert errors == []


def test_samples_cover_what_matters(world: dict[str, Any]) -> None:
    organizer, expanded = world["event"][0], world["event"][1]
    assert organizer["onlineMeeting"]["joinUrl"]
    assert expanded["singleValueExtendedProperties"]
    kinds = {m["meetingMessageType"] for m in world["eventMessage"]}
    assert {"meetingRequest", "meetingAccepted"} <= kinds
    notifications = [c["value"][0] for c in world["changeNotificationCollection"]]
    assert any("lifecycleEvent" in n for n in notifications)
    assert any(n.get("changeType") == "deleted" for n in notifications)


def test_the_checker_catches_mistakes() -> None:
    bad = {
        "subject": 3,
        "showAs": "asleep",
        "colour": "red",
        "attendees": [{"status": {"response": "maybe"}, "emailAddress": {"address": "a@b"}}],
    }
    errors = conformance_errors("event", bad)
    assert len(errors) == 4


def test_subset_notes_its_source() -> None:
    assert "f54f11b6" in schema()["source"]
    assert "MIT" in schema()["source"]


def test_series_json_matches_the_csdl(emulator: EmulatorHandle) -> None:
    """Masters, occurrences, exceptions and their meeting messages, as returned over HTTPS."""
    emulator.reset(seed_with_delegated_scopes("Mail.Read"))  # messages need a mail permission
    app = emulator.app_token()
    rule = {
        "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["monday"]},
        "range": {"type": "numbered", "startDate": "2030-03-04", "numberOfOccurrences": 3},
    }
    events = f"/users/{SERVICE}/events"
    master = emulator.graph(
        "POST", events, app, json=event_body(attendees=(ADA,), recurrence=rule)
    ).json()
    window = "startDateTime=2030-01-01T00:00:00Z&endDateTime=2031-01-01T00:00:00Z"
    first, second, _ = emulator.graph(
        "GET", f"{events}/{master['id']}/instances?{window}", app
    ).json()["value"]
    exception = emulator.graph(
        "PATCH", f"{events}/{first['id']}", app, json={"subject": "Changed"}
    ).json()
    emulator.graph("DELETE", f"{events}/{second['id']}", app)
    selected = emulator.graph(
        "GET", f"{events}/{master['id']}?$select=cancelledOccurrences,recurrence", app
    ).json()
    ada = emulator.token_for(ADA)
    samples = [
        master,
        first,
        exception,
        selected,
        *emulator.graph("GET", f"/me/calendarView?{window}", ada).json()["value"],
    ]
    assert {s.get("type") for s in samples} >= {"seriesMaster", "occurrence", "exception"}
    assert selected["cancelledOccurrences"]
    errors = [e for sample in samples for e in conformance_errors("event", sample)]
    mail = emulator.token_for(ADA, ("Calendars.ReadWrite", "Mail.Read"))
    messages = emulator.graph("GET", "/me/messages", mail).json()["value"]
    errors += [e for m in messages for e in conformance_errors("eventMessage", m)]
    assert errors == []
