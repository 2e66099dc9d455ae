"""Settings of one emulator instance: latency, Microsoft's limits, lifetimes.

Defaults are Microsoft's production values and behaviour, so a client meets here what it meets
there: Exchange spends time on each mailbox request (so the 4-in-flight limit is reached by a
burst), access tokens live a random 60 to 90 minutes, refresh tokens stay valid after use, and a
``notificationUrl`` must be HTTPS. Tests shrink them (``POST /_emulator/config`` or the
constructor) to reach a limit in a few requests; ``throttling=False`` switches limits off.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Any


@dataclass
class EmulatorConfig:
    # Added to every Graph request, so a benchmark sees a network-like round trip.
    latency_ms: int = 0
    jitter_ms: int = 0
    # Exchange's own time on each mailbox request, spent holding one of the mailbox's request
    # slots (milliseconds, randomised +-50%). With it a burst of a dozen concurrent requests on
    # one mailbox meets the concurrency limit as it does on Exchange; 0 answers at once.
    mailbox_service_ms: int = 40
    # Outlook limits per app ID and mailbox (Graph throttling-limits documentation).
    throttling: bool = True
    mailbox_concurrency: int = 4
    mailbox_requests_per_window: int = 10_000
    mailbox_window_seconds: int = 600
    max_attendees: int = 500
    # Exchange Online's sending limits for every mailbox (Exchange Online limits, "Sending
    # limits"); one mailbox's own are set with POST /_emulator/mailboxes/{upn}/sending.
    # ``sending_limits=False`` counts nothing and refuses nothing.
    sending_limits: bool = True
    sending_recipients_per_message: int = 500
    sending_recipients_per_day: int = 10_000
    sending_messages_per_minute: int = 30
    max_batch_requests: int = 20
    # Identity platform lifetimes (seconds). Entra gives each access token a random lifetime
    # between 60 and 90 minutes; a test that needs one fixed lifetime sets access_token_lifetime
    # (0: the random default).
    access_token_lifetime: int = 0
    access_token_min_lifetime: int = 3600
    access_token_max_lifetime: int = 5400
    refresh_token_lifetime: int = 90 * 24 * 3600
    auth_code_lifetime: int = 600
    # Change notifications: Outlook event subscriptions live at most 10,080 minutes.
    subscription_max_minutes: int = 10_080
    validation_timeout_seconds: float = 10.0
    # Graph requires an HTTPS notificationUrl. Plain http:// is for local development only
    # (``serve --allow-http-webhooks``, ``start_emulator(config=...)``).
    allow_http_notification_urls: bool = False

    def access_token_seconds(self, rng: random.Random) -> int:
        """The lifetime of one new access token."""
        if self.access_token_lifetime:
            return self.access_token_lifetime
        low = min(self.access_token_min_lifetime, self.access_token_max_lifetime)
        return rng.randint(low, max(self.access_token_min_lifetime, self.access_token_max_lifetime))

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update, refusing unknown names so a typo in a test fails loudly."""
        known = {f.name: f.type for f in fields(self)}
        unknown = set(changes) - set(known)
        if unknown:
            raise ValueError(f"unknown emulator settings: {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            setattr(self, name, value)
