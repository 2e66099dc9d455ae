"""Convene's app registration in Microsoft Entra ID, read from the environment (settings).

One frozen value object, so the identity and Graph clients take what they need as an argument
and tests can point them at an emulator without touching global settings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class AppRegistration:
    client_id: str = ""
    client_secret: str = ""
    # PEM file holding the certificate's private key and the certificate (alternative to a secret).
    client_certificate_path: str = ""
    authority_host: str = "https://login.microsoftonline.com"
    # "organizations" lets organizers from any work or school tenant sign in.
    tenant: str = "organizations"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    # Extra CA to trust for the identity platform and Graph (the local emulator's); None = system.
    ca_bundle: str | None = None
    public_url: str = "http://localhost:8000"
    # The platform calendar's own registration (application access, single tenant), so the
    # organizer registration that customers' admins consent to never holds an application
    # permission. Empty: platform mode uses the registration above.
    platform_client_id: str = ""
    platform_client_secret: str = ""
    platform_client_certificate_path: str = ""

    @classmethod
    def from_settings(cls) -> AppRegistration:
        configured: dict[str, Any] = settings.OUTLOOK
        return cls(**configured)

    def missing(self) -> list[str]:
        """What must still be configured before the integration can be switched on."""
        problems = []
        if not self.client_id:
            problems.append("OUTLOOK_CLIENT_ID is not set (the application (client) ID).")
        if not self.client_secret and not self.client_certificate_path:
            problems.append("Neither OUTLOOK_CLIENT_SECRET nor OUTLOOK_CLIENT_CERTIFICATE is set.")
        if self.client_certificate_path and not Path(self.client_certificate_path).is_file():
            problems.append(
                f"OUTLOOK_CLIENT_CERTIFICATE: no file at {self.client_certificate_path}."
            )
        if self.platform_client_id and not (
            self.platform_client_secret or self.platform_client_certificate_path
        ):
            problems.append(
                "OUTLOOK_PLATFORM_CLIENT_ID is set but neither OUTLOOK_PLATFORM_CLIENT_SECRET "
                "nor OUTLOOK_PLATFORM_CLIENT_CERTIFICATE is."
            )
        if self.ca_bundle and not Path(self.ca_bundle).is_file():
            problems.append(f"OUTLOOK_CA_BUNDLE: no file at {self.ca_bundle}.")
        if not self.public_url.startswith(("https://", "http://")):
            problems.append("CONVENE_PUBLIC_URL must be an http(s) URL.")
        return problems

    def for_platform(self) -> AppRegistration:
        """The registration the platform calendar uses (its own when one is configured)."""
        if not self.platform_client_id:
            return self
        return replace(
            self,
            client_id=self.platform_client_id,
            client_secret=self.platform_client_secret,
            client_certificate_path=self.platform_client_certificate_path,
            platform_client_id="",
            platform_client_secret="",
            platform_client_certificate_path="",
        )

    def client_credential(self) -> str | dict[str, Any]:
        if not self.client_certificate_path:
            return self.client_secret
        pem = Path(self.client_certificate_path).read_text()
        return {"private_key": pem, "public_certificate": pem}

    def absolute(self, path: str) -> str:
        return self.public_url.rstrip("/") + path
