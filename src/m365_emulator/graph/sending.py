"""Exchange Online's sending limits for one mailbox: the meeting messages it sends count.

Exchange limits what one mailbox may send, whatever sends it (Outlook, SMTP, an app through
Graph), and a meeting's invitations, updates and cancellations are messages like any other:

- recipients per message: 500 (every address on the message counts once);
- recipients per day: 10,000, over a rolling 24 hours ("until the number of recipients that
  were sent messages in the past 24 hours drops below the limit");
- messages per minute: 30; a mailbox that submits faster through anything but SMTP has its
  excess queued by Exchange and carried over to the next minutes, not refused.

Exchange itself accepts the item and refuses the *message* afterwards, with a non-delivery
report to the sender. The emulator refuses the Graph request instead, before changing anything,
so a client sees the refusal where it can act on it and nothing is half-sent (docs/emulator.md
says why). Each mailbox's limits can be changed (``POST /_emulator/mailboxes/{upn}/sending``)
so a test reaches them with a handful of people. Every count runs on the emulator's clock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from m365_emulator.errors import GraphError

if TYPE_CHECKING:
    from m365_emulator.backend import Backend

DAY_SECONDS = 24 * 3600
MINUTE_SECONDS = 60

# The non-delivery reports Exchange sends for each limit (Microsoft's troubleshooting pages).
RECIPIENT_LIMIT_NDR = "550 5.5.3 RESOLVER.ADR.RecipLimit; too many recipients"
DAILY_LIMIT_NDR = "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException"


@dataclass(frozen=True)
class SendingLimits:
    recipients_per_message: int = 500
    recipients_per_day: int = 10_000
    messages_per_minute: int = 30

    def to_json(self) -> dict[str, int]:
        return {
            "recipientsPerMessage": self.recipients_per_message,
            "recipientsPerDay": self.recipients_per_day,
            "messagesPerMinute": self.messages_per_minute,
        }


JSON_NAMES = {
    "recipientsPerMessage": "recipients_per_message",
    "recipientsPerDay": "recipients_per_day",
    "messagesPerMinute": "messages_per_minute",
}


def limits_from_json(body: dict[str, Any], base: SendingLimits) -> SendingLimits:
    """``base`` with the limits ``body`` names (JSON names); refuses anything else."""
    unknown = set(body) - set(JSON_NAMES)
    if unknown:
        raise GraphError(400, "BadRequest", f"Unknown sending limits: {', '.join(sorted(unknown))}")
    changes: dict[str, int] = {}
    for name, value in body.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise GraphError(400, "BadRequest", f"{name} must be an integer >= 1")
        changes[JSON_NAMES[name]] = value
    return replace(base, **changes)


@dataclass
class _Ledger:
    """What one mailbox sent: (timestamp, recipients) per message, oldest first."""

    sent: deque[tuple[float, int]]
    deferred_messages: int = 0


class Sending:
    """Every mailbox's sending limits and what it sent. Callers hold the backend's lock."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._limits: dict[str, SendingLimits] = {}
        self._ledgers: dict[str, _Ledger] = {}

    def reset(self) -> None:
        with self.backend.lock:
            self._limits.clear()
            self._ledgers.clear()

    def limits_of(self, user_id: str) -> SendingLimits:
        """The mailbox's limits: set by the control API, else seeded, else the defaults."""
        with self.backend.lock:
            found = self._limits.get(user_id)
            if found is not None:
                return found
            user = self.backend.users.get(user_id)
            if user is not None and user.sending_limits:
                return limits_from_json(user.sending_limits, self.defaults())
            return self.defaults()

    def defaults(self) -> SendingLimits:
        config = self.backend.config
        return SendingLimits(
            recipients_per_message=config.sending_recipients_per_message,
            recipients_per_day=config.sending_recipients_per_day,
            messages_per_minute=config.sending_messages_per_minute,
        )

    def set_limits(self, user_id: str, limits: SendingLimits) -> None:
        with self.backend.lock:
            self._limits[user_id] = limits

    def usage(self, user_id: str) -> dict[str, Any]:
        """What the mailbox sent in the last 24 hours, against its limits."""
        with self.backend.lock:
            now = self.backend.clock.timestamp()
            ledger = self._ledger(user_id, now)
            limits = self.limits_of(user_id)
            recipients = sum(count for _, count in ledger.sent)
            return {
                "limits": limits.to_json(),
                "recipientsLast24Hours": recipients,
                "messagesLast24Hours": len(ledger.sent),
                "messagesLastMinute": sum(1 for at, _ in ledger.sent if now - at < MINUTE_SECONDS),
                "deferredMessages": ledger.deferred_messages,
            }

    def submit(self, user_id: str, messages: list[int]) -> None:
        """The mailbox sends these messages (recipients of each): refused as a whole, with
        nothing counted, when one is over a limit; counted otherwise."""
        messages = [count for count in messages if count > 0]
        if not messages or not self.backend.config.sending_limits:
            return
        with self.backend.lock:
            now = self.backend.clock.timestamp()
            limits = self.limits_of(user_id)
            ledger = self._ledger(user_id, now)
            for count in messages:
                if count > limits.recipients_per_message:
                    raise GraphError(
                        400,
                        "ErrorRecipientLimitExceeded",
                        "This message wasn't delivered to anyone because there are too many "
                        f"recipients. The limit is {limits.recipients_per_message}. This message "
                        f"has {count} recipients. ({RECIPIENT_LIMIT_NDR})",
                    )
            used = sum(count for _, count in ledger.sent)
            wanted = sum(messages)
            if used + wanted > limits.recipients_per_day:
                wait = self._wait(ledger, used + wanted - limits.recipients_per_day, now)
                raise GraphError(
                    403,
                    "ErrorExceededMessageLimit",
                    "Cannot send mail. Daily Message/Recipient limit exceeded: the mailbox sent "
                    f"to {used} recipients in the last 24 hours (limit "
                    f"{limits.recipients_per_day}) and this would add {wanted}. "
                    f"({DAILY_LIMIT_NDR})",
                    {"Retry-After": str(wait)},
                )
            in_last_minute = sum(1 for at, _ in ledger.sent if now - at < MINUTE_SECONDS)
            for count in messages:
                if in_last_minute >= limits.messages_per_minute:
                    # Exchange queues the excess and delivers it in the next minutes.
                    ledger.deferred_messages += 1
                in_last_minute += 1
                ledger.sent.append((now, count))

    def _ledger(self, user_id: str, now: float) -> _Ledger:
        ledger = self._ledgers.get(user_id)
        if ledger is None:
            ledger = self._ledgers[user_id] = _Ledger(deque())
        while ledger.sent and now - ledger.sent[0][0] >= DAY_SECONDS:
            ledger.sent.popleft()
        return ledger

    @staticmethod
    def _wait(ledger: _Ledger, excess: int, now: float) -> int:
        """Seconds until enough of what was sent leaves the 24 hours for ``excess`` more."""
        freed = 0
        for at, count in ledger.sent:
            freed += count
            if freed >= excess:
                return max(1, math.ceil(at + DAY_SECONDS - now))
        return DAY_SECONDS  # more than the limit in one go: it never fits


def defaults_json() -> dict[str, Any]:
    return asdict(SendingLimits())
