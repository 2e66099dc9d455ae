"""What can go wrong when changing events, in words to show the person who tried."""

from __future__ import annotations


class EventError(Exception):
    """Base of every refusal by ``convene.events.services``; ``str(error)`` is the message."""


class NotAllowed(EventError):
    pass


class InvalidEvent(EventError):
    """The event's data is inconsistent; ``field`` names the form field to blame, if any."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class EventCancelled(EventError):
    pass


class EventFull(EventError):
    pass


class AlreadyEnrolled(EventError):
    pass


class NotEnrolled(EventError):
    pass


class UnknownPerson(EventError):
    pass


class EventOver(EventError):
    """The event has ended: nobody can join it any more."""


class WaitlistError(EventError):
    """A waitlist refusal: no waitlist here, already waiting, not waiting, no offer to claim."""
