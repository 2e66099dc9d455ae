"""calendarView/delta: rounds of pages over a mailbox's change journal.

Every change to a mailbox takes the next number in its journal (``Event.seq``, and
``Mailbox.removed`` for deleted events). A round returns what changed after the round's
``since`` number up to the number current when the round began, in journal order, a page at a
time; its last page carries a deltaLink whose ``since`` is that number. Tokens are opaque to
clients (signed JSON), expire after ``TOKEN_LIFETIME`` by the emulator clock, and die with a
reset.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from m365_emulator.errors import GraphError
from m365_emulator.graph import series
from m365_emulator.graph.model import Event

if TYPE_CHECKING:
    from m365_emulator.graph.store import GraphStore, Mailbox

TOKEN_LIFETIME = timedelta(days=7)


@dataclass
class DeltaState:
    mailbox_id: str
    start: datetime
    end: datetime
    since: int  # changes after this journal number belong to the round
    upto: int  # ... up to this one (the journal's end when the round began)
    after: int  # the last journal number already returned in this round
    # A series master's change yields each of its occurrences at the master's journal number:
    # how many of those at ``after`` were returned (ALL: every one).
    within: int = 10**9


@dataclass
class DeltaPage:
    items: list[Event | str]  # an event to return, or the id of a removed one
    state: DeltaState
    done: bool  # True: last page of the round (give a deltaLink)


def encode(store: GraphStore, state: DeltaState) -> str:
    body = {
        "m": state.mailbox_id,
        "s": state.start.isoformat(),
        "e": state.end.isoformat(),
        "since": state.since,
        "upto": state.upto,
        "after": state.after,
        "w": state.within,
        "g": store.generation,
        "t": store.now().timestamp(),
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    signature = hmac.new(store.delta_secret, raw, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(raw + signature).decode().rstrip("=")


def decode(store: GraphStore, token: str, mailbox_id: str) -> DeltaState:
    """The round a token names, or the error Graph answers for a token it cannot use.

    Graph answers a token it cannot read with 400 ``InvalidDeltaToken`` (seen from real tenants,
    microsoftgraph/microsoft-graph-docs#6599) and a token whose sync state is gone (server side
    state lost, or expired) with 410 ``SyncStateNotFound`` / ``syncStateNotFound``
    (microsoftgraph/microsoft-graph-docs#2350; concepts/errors.md). Clients must restart on
    either, whatever the status.
    """
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        raw, signature = packed[:-12], packed[-12:]
        expected = hmac.new(store.delta_secret, raw, hashlib.sha256).digest()[:12]
        body: dict[str, Any] = json.loads(raw) if hmac.compare_digest(signature, expected) else {}
    except ValueError:
        body = {}
    if not body or body.get("m", mailbox_id) != mailbox_id:
        raise GraphError(
            400, "InvalidDeltaToken", f"The value '{token}' of parameter '$deltaToken' is invalid."
        )
    if body.get("g") != store.generation:
        # Issued before a reset: the emulator's own "server restart" lost the sync state.
        raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.")
    issued = datetime.fromtimestamp(float(body["t"]), tz=store.now().tzinfo)
    if store.now() - issued > TOKEN_LIFETIME:
        raise GraphError(
            410,
            "syncStateNotFound",
            "The delta token is expired and data must be synchronized again.",
        )
    return DeltaState(
        mailbox_id=mailbox_id,
        start=datetime.fromisoformat(body["s"]),
        end=datetime.fromisoformat(body["e"]),
        since=int(body["since"]),
        upto=int(body["upto"]),
        after=int(body["after"]),
        within=int(body.get("w", 10**9)),
    )


def start_round(box: Mailbox, start: datetime, end: datetime, since: int = 0) -> DeltaState:
    return DeltaState(box.user_id, start, end, since=since, upto=box.seq, after=since)


def next_page(box: Mailbox, state: DeltaState, page_size: int) -> DeltaPage:
    """The next page of a round (under the store lock)."""
    initial = state.since == 0
    changes: list[tuple[int, int, Event | str]] = []
    for event in box.events.values():
        if not state.after - 1 < event.seq <= state.upto:
            continue
        if event.type == "seriesMaster":
            # The series shows as its occurrences in the window, as in calendarView.
            shown = series.instances(list(box.events.values()), event, state.start, state.end)
            occurrences = [e for e in shown if e.type == "occurrence"]
            changes.extend((event.seq, index, item) for index, item in enumerate(occurrences))
            continue
        in_window = event.start < state.end and event.end > state.start
        if in_window:
            changes.append((event.seq, 0, event))
        elif not initial:
            # Graph reports changes outside the window as removals: the client drops them.
            changes.append((event.seq, 0, event.id))
    if not initial:
        changes.extend(
            (seq, 0, event_id)
            for event_id, seq in box.removed.items()
            if state.after <= seq <= state.upto
        )
    changes = [c for c in changes if (c[0], c[1]) > (state.after, state.within - 1)]
    changes.sort(key=lambda change: (change[0], change[1]))
    page = changes[:page_size]
    done = len(changes) <= page_size
    last, within = (page[-1][0], page[-1][1] + 1) if page else (state.after, state.within)
    next_state = DeltaState(
        state.mailbox_id, state.start, state.end, state.since, state.upto, last, within
    )
    if done:
        next_state = DeltaState(
            state.mailbox_id, state.start, state.end, state.upto, state.upto, state.upto
        )
    return DeltaPage([item for _, _, item in page], next_state, done)
