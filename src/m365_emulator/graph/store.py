"""In-memory mailboxes (calendars, events, messages) and subscriptions.

Placeholder seam: the Graph area fills this in. The backend creates one ``GraphStore`` and calls
``reset()`` on ``POST /_emulator/reset``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from m365_emulator.backend import Backend


class GraphStore:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def reset(self) -> None:
        pass
