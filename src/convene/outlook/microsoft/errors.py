"""What can go wrong talking to Microsoft, sorted by what Convene does about it.

The identity client and the Graph client raise only these, so the sync engine decides on kinds
of failure (retry later, ask the person to sign in again, record and show) and never on status
codes or message text.
"""

from __future__ import annotations

# Microsoft's error codes (``error.code``) that decide what a failure means; compared without
# regard to case, since Graph spells some both ways (``SyncStateNotFound``/``syncStateNotFound``).
# The event itself is not in the mailbox (deleted, or never there).
ITEM_NOT_FOUND_CODES = frozenset({"erroritemnotfound", "itemnotfound"})
# The whole mailbox is unreachable, not the event: no Exchange Online licence any more, a
# disabled, soft-deleted or on-premises mailbox, or a user that no longer exists.
MAILBOX_GONE_CODES = frozenset({"mailboxnotenabledforrestapi", "errorinvaliduser"})
# A delta token Graph will not continue from: documented as "40X-series" errors with codes such
# as syncStateNotFound / resyncRequired; 400 InvalidDeltaToken is seen from real tenants.
SYNC_STATE_CODES = frozenset(
    {"syncstatenotfound", "resyncrequired", "invaliddeltatoken", "syncstateinvalid"}
)

# Exchange's sending limits for the mailbox (docs/emulator.md says what each answer looks like):
# the mailbox sent to as many recipients as it may in 24 hours (Graph's
# ``ErrorExceededMessageLimit``, Exchange's ``SubmissionQuotaExceeded``), or one message names
# more recipients than one message may.
SENDING_QUOTA_CODES = frozenset({"errorexceededmessagelimit", "errorsubmissionquotaexceeded"})
RECIPIENT_LIMIT_CODES = frozenset({"errorrecipientlimitexceeded"})


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


class CopyChanged(Transient):
    """412: the write named a version of the event (``If-Match``) that is no longer Outlook's:
    someone answered or edited it since Convene last read it. Nothing was written; read the
    copy again, then send."""


class SendingLimitReached(Transient):
    """The mailbox may send to nobody more until its 24 hours of sending move on: the request
    itself is fine and goes out unchanged later (``retry_after``: when Microsoft said, if it
    did). Waiting, not failing: it counts as no attempt."""


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
    """404: something is not there. Only ``ErrorItemNotFound`` says the event is (deleted in
    Outlook); see ``MailboxGone`` for the mailbox itself."""

    @property
    def item_not_found(self) -> bool:
        return self.code.lower() in ITEM_NOT_FOUND_CODES


class MailboxGone(NotFound):
    """404 about the mailbox, not the event (``MailboxNotEnabledForRESTAPI``,
    ``ErrorInvalidUser``): every event in it fails the same way until an admin restores it."""


class Rejected(MicrosoftError):
    """Any other 4xx: our request is wrong, and sending it again will not help."""


class TooManyRecipients(Rejected):
    """One meeting message would name more recipients than the mailbox may send one message
    to: sending it again will not help, fewer people per copy will."""


class SyncStateExpired(MicrosoftError):
    """A delta link Graph will not continue from (410, or a sync-state error code with any
    status): start a fresh full read."""
