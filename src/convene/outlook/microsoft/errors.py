"""What can go wrong talking to Microsoft, sorted by what Convene does about it.

The identity client and the Graph client raise only these, so the sync engine decides on kinds
of failure (retry later, ask the person to sign in again, record and show) and never on status
codes or message text.
"""

from __future__ import annotations


class MicrosoftError(Exception):
    """A call to Microsoft failed. ``code`` is Microsoft's error code when it sent one."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class Transient(MicrosoftError):
    """Worth retrying later: throttling, 5xx, timeouts, dropped connections."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class Throttled(Transient):
    """429: Microsoft asked us to slow down, usually saying for how long."""


class NotSent(Transient):
    """424 in an ordered JSON batch: Graph did not run this call because the one before it
    failed. Nothing happened to it; it goes out again as it is."""


class AuthorizationLost(MicrosoftError):
    """The authorization no longer works (revoked, expired, consent withdrawn).

    Only the person (or an admin) can fix it, so retrying is pointless until they do.
    """


class OrganizerLeft(AuthorizationLost):
    """The event's organizer no longer has an active Convene account: Convene stops acting as
    them, and the event waits for an admin to hand it over (``convene.outlook.moves.handover``)."""


class AccessDenied(MicrosoftError):
    """403: the app may not touch this mailbox (missing consent, application access policy)."""


class NotFound(MicrosoftError):
    """404: the event (or mailbox) is gone; for an event, usually deleted in Outlook."""


class Rejected(MicrosoftError):
    """Any other 4xx: our request is wrong, and sending it again will not help."""


class SyncStateExpired(MicrosoftError):
    """410 on a delta link: start a fresh full read."""
