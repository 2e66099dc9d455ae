"""Settings of one emulator instance: latency, Microsoft's limits, lifetimes.

Defaults are Microsoft's production values. Tests shrink them (``POST /_emulator/config`` or the
constructor) to reach a limit in a few requests; ``throttling=False`` switches limits off.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass
class EmulatorConfig:
    # Added to every Graph request, so a benchmark sees a network-like round trip.
    latency_ms: int = 0
    jitter_ms: int = 0
    # Outlook limits per app ID and mailbox (Graph throttling-limits documentation).
    throttling: bool = True
    mailbox_concurrency: int = 4
    mailbox_requests_per_window: int = 10_000
    mailbox_window_seconds: int = 600
    max_attendees: int = 500
    max_batch_requests: int = 20
    # Identity platform lifetimes (seconds).
    access_token_lifetime: int = 3600
    refresh_token_lifetime: int = 90 * 24 * 3600
    auth_code_lifetime: int = 600
    # Change notifications: Outlook event subscriptions live at most 10,080 minutes.
    subscription_max_minutes: int = 10_080
    validation_timeout_seconds: float = 10.0

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update, refusing unknown names so a typo in a test fails loudly."""
        known = {f.name: f.type for f in fields(self)}
        unknown = set(changes) - set(known)
        if unknown:
            raise ValueError(f"unknown emulator settings: {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            setattr(self, name, value)
