"""Errors of the identity platform, in the JSON shape Entra's token endpoint uses.

``error_description`` starts with the AADSTS code and ends with trace and correlation ids and a
timestamp; ``error_codes`` repeats the number so clients need not parse text.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse


@dataclass
class IdentityError(Exception):
    error: str  # OAuth error: invalid_grant, invalid_client, ...
    aadsts: int
    message: str
    status: int = 400
    suberror: str | None = None

    def __str__(self) -> str:
        return f"{self.error} AADSTS{self.aadsts}: {self.message}"

    def body(self, now: datetime, correlation_id: str | None = None) -> dict[str, Any]:
        trace_id = str(uuid.uuid4())
        correlation_id = correlation_id or str(uuid.uuid4())
        stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
        body: dict[str, Any] = {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.aadsts}: {self.message}\r\nTrace ID: {trace_id}\r\n"
                f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
            ),
            "error_codes": [self.aadsts],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.aadsts}",
        }
        if self.suberror:
            body["suberror"] = self.suberror
        return body

    def response(self, now: datetime, correlation_id: str | None = None) -> JSONResponse:
        return JSONResponse(
            self.body(now, correlation_id),
            status_code=self.status,
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def redirect_description(self) -> str:
        """The shorter text Entra puts in ``error_description`` of a redirect."""
        return f"AADSTS{self.aadsts}: {self.message}"


def tenant_not_found(segment: str) -> IdentityError:
    return IdentityError(
        "invalid_request",
        90002,
        f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID "
        "and are signing into the correct cloud. Check with your subscription administrator, "
        "this may happen if there are no active subscriptions for the tenant.",
    )


def app_not_found(client_id: str, tenant_segment: str) -> IdentityError:
    return IdentityError(
        "unauthorized_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory "
        f"'{tenant_segment}'. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You may have "
        "sent your authentication request to the wrong tenant.",
    )


def consent_missing(client_id: str, app_name: str, error: str = "invalid_grant") -> IdentityError:
    return IdentityError(
        error,
        65001,
        f"The user or administrator has not consented to use the application with ID "
        f"'{client_id}' named '{app_name}'. Send an interactive authorization request for this "
        "user and resource.",
        suberror="consent_required",
    )


def missing_parameter(name: str) -> IdentityError:
    return IdentityError(
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{name}'.",
    )
