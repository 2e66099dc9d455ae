"""A series' sessions in Outlook: exceptions and cancelled occurrences of its master.

``push`` sends the master (one POST with its ``recurrence``, or one PATCH of what changed);
this module then brings each differing session to what Convene wants, one request each: a
PATCH of that occurrence (Outlook makes it an exception and sends one update per attendee) or
a ``cancel`` of it with the organizer's message (one cancellation per attendee).

What the link remembers, inside ``last_pushed`` beside the master's properties: ``sessions``
(per ISO date, what Outlook last accepted for that occurrence) and ``occurrences`` (per ISO
date, the occurrence's id). Occurrence ids are opaque in Graph; they are read once with
``GET /events/{master}/instances`` when a session first needs one, and forgotten when the
master's time or rule changes, because Outlook then drops every exception and cancellation
and the occurrences get new ids: Convene re-sends the sessions that still differ.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet

from convene.events.models import Event, EventStatus
from convene.outlook.microsoft import graph, mapping
from convene.outlook.microsoft.errors import MailboxGone, NotFound
from convene.outlook.microsoft.recurrence import occurrence_dates
from convene.outlook.outbound.snapshots import session_snapshot

JSON = dict[str, Any]
Log = Callable[[str, graph.Call, dict[str, Any]], None]
Keep = Callable[[JSON], None]

SESSIONS = "sessions"
OCCURRENCES = "occurrences"


def sync_sessions(
    event: Event,
    client: graph.GraphClient,
    snapshot: mapping.EventSnapshot,
    graph_id: str,
    previous: JSON,
    master_changes: frozenset[str],
    log: Log,
    keep: Keep,
) -> JSON:
    """Send what the series' sessions need; returns the ``sessions`` and ``occurrences`` to
    keep in ``last_pushed``. ``previous`` is ``last_pushed`` before this push;
    ``master_changes`` the master properties just sent (all of them after a create).
    ``keep`` saves what Outlook accepted so far, before the first session request and after
    each: when one fails, the retry sends only what is still missing (no second update of the
    master or of a session for anyone)."""
    reset = bool(master_changes & mapping.RESETS_EXCEPTIONS)
    pushed: dict[str, JSON] = {} if reset else dict(previous.get(SESSIONS) or {})
    occurrences: dict[str, str] = {} if reset else dict(previous.get(OCCURRENCES) or {})
    desired = mapping.session_payloads(snapshot)
    # A session Outlook shows differently from Convene (drift on an occurrence, noted by
    # ``inbound.sessions``) goes back to what the series says it is.
    for on in [on for on in pushed if on not in desired]:
        plain = session_snapshot(event, on)
        if plain is not None and not plain.is_cancelled:
            desired[on] = mapping.session_payload(snapshot, plain)
        else:
            del pushed[on]
    due = [on for on, payload in sorted(desired.items()) if pushed.get(on) != payload]
    if due:
        keep({SESSIONS: pushed, OCCURRENCES: occurrences})
    # A session cancelled in Convene that Outlook no longer has (deleted there, noted by
    # ``inbound.sessions``) needs no request.
    gone = {
        on for on in due if desired[on].get("isCancelled") and pushed.get(on, {}).get("isCancelled")
    }
    if not occurrences or any(on not in occurrences for on in due if on not in gone):
        # a new or reset master (no ids known), or a session whose id is not known yet
        occurrences = _read_occurrences(event, client, graph_id)
    for on in due:
        payload = desired[on]
        occurrence_id = occurrences.get(on)
        if on in gone:
            pushed[on] = payload
            continue
        if occurrence_id is None:
            continue  # Outlook has no such occurrence (e.g. gone already): nothing to change
        if payload.get("isCancelled"):
            call = graph.Call.cancel_event(occurrence_id, str(payload["comment"]))
            try:
                client.call(call)
            except NotFound as exc:
                if not exc.item_not_found or isinstance(exc, MailboxGone):
                    raise
                log("cancel session", call, {"session": on, "outcome": "already gone"})
            else:
                log("cancel session", call, {"session": on})
        else:
            changes = mapping.changed_properties(pushed.get(on, {}), payload)
            call = graph.Call.update_event(occurrence_id, changes)
            client.call(call)
            log("update session", call, {"session": on, "properties": sorted(changes)})
        pushed[on] = payload
        keep({SESSIONS: pushed, OCCURRENCES: occurrences})
    # a session brought back to the series' values is no longer an exception Convene made
    for on in [on for on in pushed if on not in mapping.session_payloads(snapshot)]:
        del pushed[on]
    return {SESSIONS: pushed, OCCURRENCES: occurrences}


def _read_occurrences(event: Event, client: graph.GraphClient, graph_id: str) -> dict[str, str]:
    """Every occurrence id of the series by its local date: one read (paged past 100)."""
    last_end = event.series_rule.last_end
    window_start = (event.start - timedelta(days=1)).isoformat()
    window_end = (last_end + timedelta(days=1)).isoformat()
    return occurrence_dates(client.instances(graph_id, window_start, window_end), event.timezone)


def linked_series() -> QuerySet[Event]:
    """Series that have (or are getting) an Outlook series and are not cancelled, with what
    ``convene.events.series.counts`` reads."""
    return (
        Event.objects.filter(calendar_link__isnull=False, series_rule__isnull=False)
        .exclude(status=EventStatus.CANCELLED)
        .select_related("series_rule")
        .prefetch_related("session_changes")
    )
