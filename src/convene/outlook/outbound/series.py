"""A series' sessions in Outlook: exceptions and cancelled occurrences of its master.

``push`` sends the master (one POST with its ``recurrence``, or one PATCH of what changed);
this module then brings each differing session to what Convene wants, one request each: a
PATCH of that occurrence (Outlook makes it an exception and sends one update per attendee) or
a ``cancel`` of it with the organizer's message (one cancellation per attendee).

What the link remembers, inside ``last_pushed`` beside the master's properties: ``sessions``
(per ISO date, what Outlook last accepted for that occurrence), ``occurrences`` (per ISO date,
the occurrence's id) and ``occurrences_from`` (when Outlook last got the master's time or rule:
only ids read after that belong to the series as it is now).

Occurrence ids are opaque in Graph and no answer to a write carries them. They are forgotten
when the master is created or its time or rule changes (Outlook then drops every exception and
cancellation and the occurrences get new ids; Convene re-sends the sessions that still differ),
and learned without a request of their own: the calendarView delta and the notification reads
see the series' occurrences (``inbound.sessions.remember_occurrences``). A push reads them
(``GET /events/{master}/instances``, one page) only when a session it must send has no id known
yet, so creating or moving a series is one request, and so is every session change once the
ids are known.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from convene.events import series as events_series
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
# When Outlook last got the master's time or rule (ISO instant): an occurrence id read by a
# request sent before then may be one of the occurrences that change replaced.
OCCURRENCES_FROM = "occurrences_from"


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
    """Send what the series' sessions need; returns the ``sessions``, ``occurrences`` and
    ``occurrences_from`` to keep in ``last_pushed``. ``previous`` is ``last_pushed`` before
    this push; ``master_changes`` the master properties just sent (all of them after a create).
    ``keep`` saves what Outlook accepted so far, before the first session request and after
    each: when one fails, the retry sends only what is still missing (no second update of the
    master or of a session for anyone)."""
    reset = bool(master_changes & mapping.RESETS_EXCEPTIONS)
    pushed: dict[str, JSON] = {} if reset else dict(previous.get(SESSIONS) or {})
    occurrences: dict[str, str] = {} if reset else dict(previous.get(OCCURRENCES) or {})
    # The master's new time or rule was answered just now: ids read from here on are its own.
    since = timezone.now().isoformat() if reset else str(previous.get(OCCURRENCES_FROM) or "")
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

    def progress() -> JSON:
        return {SESSIONS: pushed, OCCURRENCES: occurrences, OCCURRENCES_FROM: since}

    if due:
        keep(progress())
    # A session cancelled in Convene that Outlook no longer has (deleted there, noted by
    # ``inbound.sessions``) needs no request.
    gone = {
        on for on in due if desired[on].get("isCancelled") and pushed.get(on, {}).get("isCancelled")
    }
    if any(on not in occurrences for on in due if on not in gone):
        # A session whose occurrence id no delta or notification read has shown yet (a
        # series created or moved a moment ago): one read gives them all.
        occurrences = read_occurrences(event, client, graph_id)
        keep(progress())
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
        keep(progress())
    # a session brought back to the series' values is no longer an exception Convene made
    for on in [on for on in pushed if on not in mapping.session_payloads(snapshot)]:
        del pushed[on]
    return progress()


def read_occurrences(event: Event, client: graph.GraphClient, graph_id: str) -> dict[str, str]:
    """Every occurrence id of the series by its local date: one read (paged past 100)."""
    last_end = event.series_rule.last_end
    window_start = (event.start - timedelta(days=1)).isoformat()
    window_end = (last_end + timedelta(days=1)).isoformat()
    return occurrence_dates(client.instances(graph_id, window_start, window_end), event.timezone)


def current_since(last_pushed: JSON, asked_at: datetime) -> bool:
    """Whether a read sent at ``asked_at`` shows the series' occurrences as they are now
    (sent after Outlook answered the master's last change of time or rule)."""
    since = str(last_pushed.get(OCCURRENCES_FROM) or "")
    return not since or asked_at > datetime.fromisoformat(since)


def unknown_sessions(event: Event, last_pushed: JSON) -> list[str]:
    """The sessions (ISO dates) Outlook should still show whose occurrence id the link does
    not know: upcoming, not cancelled in Convene nor gone from Outlook already."""
    known = last_pushed.get(OCCURRENCES) or {}
    pushed = last_pushed.get(SESSIONS) or {}
    return [
        session.on.isoformat()
        for session in events_series.sessions(event)
        if not session.is_cancelled
        and not session.is_past
        and session.on.isoformat() not in known
        and not (pushed.get(session.on.isoformat()) or {}).get("isCancelled")
    ]


def linked_series() -> QuerySet[Event]:
    """Series that have (or are getting) an Outlook series and are not cancelled, with what
    ``convene.events.series.counts`` reads."""
    return (
        Event.objects.filter(calendar_link__isnull=False, series_rule__isnull=False)
        .exclude(status=EventStatus.CANCELLED)
        .select_related("series_rule")
        .prefetch_related("session_changes")
    )
