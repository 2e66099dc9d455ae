"""Errors shaped the way Microsoft Graph sends them.

Raise ``GraphError`` anywhere in a Graph handler; the server turns it into Graph's OData error
body (``error.code``, ``error.message``, ``error.innerError``) with the ``request-id`` and
``client-request-id`` headers Graph sets on every response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class GraphError(Exception):
    status: int
    code: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def not_found(what: str = "The specified object was not found in the store.") -> GraphError:
    return GraphError(404, "ErrorItemNotFound", what)


def access_denied(
    message: str = "Access is denied. Check credentials and try again.",
) -> GraphError:
    return GraphError(403, "ErrorAccessDenied", message)
