"""How the events app tells others what changed, without knowing who listens.

Every service in ``services.py`` describes its change as one ``EventChange`` and announces it
twice:

- ``event_change_recorded`` is sent inside the service's transaction. A receiver that writes to
  the database (e.g. bumping a sync version) commits or rolls back together with the change; a
  receiver that raises aborts the change.
- ``event_change_committed`` is sent once the transaction has committed (never after a
  rollback). This is where to enqueue background work. A failing receiver is logged and does not
  affect the change, which is already saved.

Receivers take ``(sender, change, **kwargs)``; ``sender`` is the ``Event`` class.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.dispatch import Signal

from convene.events.models import Event

logger = logging.getLogger(__name__)

event_change_recorded = Signal()
event_change_committed = Signal()


class ChangeKind(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    CANCELLED = "cancelled"
    ENROLLED = "enrolled"
    UNENROLLED = "unenrolled"
    ROLE_CHANGED = "role_changed"
    # The event's creator (its main organizer) is someone else now, e.g. after a handover.
    CREATOR_CHANGED = "creator_changed"
    # Series (``convene.events.series``): ``session`` names the session by its local date.
    SERIES_PATTERN_CHANGED = "series_pattern_changed"
    SESSION_CHANGED = "session_changed"
    SESSION_CANCELLED = "session_cancelled"
    # someone enrolled in the series will miss (or will attend again) one session
    SESSION_ATTENDANCE = "session_attendance"


@dataclass(frozen=True)
class EventChange:
    event_id: int
    kind: ChangeKind
    # Names of Event fields whose value changed (for CREATED: every field that was set).
    changed_fields: frozenset[str] = field(default_factory=frozenset)
    # People whose enrollment was added, removed or changed role.
    affected_user_ids: frozenset[int] = field(default_factory=frozenset)
    # Who did it; None for the system (e.g. an import or a background job).
    actor_id: int | None = None
    # Why, in words a person can read (e.g. "Declined in Outlook"); may be empty.
    reason: str = ""
    # The one session of a series this change is about, by its local date under the rule.
    session: date | None = None


def announce(change: EventChange) -> None:
    """Send ``change`` now and again after commit. Call it inside the service's transaction."""
    event_change_recorded.send(sender=Event, change=change)
    transaction.on_commit(lambda: _send_committed(change))


def _send_committed(change: EventChange) -> None:
    for receiver, result in event_change_committed.send_robust(sender=Event, change=change):
        if isinstance(result, Exception):
            logger.error(
                "Receiver %r failed on committed %s of event %s",
                receiver,
                change.kind,
                change.event_id,
                exc_info=result,
            )
