"""Routes of the Graph area. Placeholder seam: the Graph area fills these in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from m365_emulator.backend import Backend


def api_routes(backend: Backend) -> list[BaseRoute]:
    """Mounted under ``/v1.0`` on the TLS API port."""
    return []


def control_routes(backend: Backend) -> list[BaseRoute]:
    """Mounted under ``/_emulator`` on the API port (mailboxes, respond, stats)."""
    return []


def ui_routes(backend: Backend) -> list[BaseRoute]:
    """Mounted on the plain-HTTP UI port (the mailbox viewer)."""
    return []
