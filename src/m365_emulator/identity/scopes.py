"""Reading the ``scope`` parameter the way the v2.0 endpoint does.

``User.Read`` and ``https://graph.microsoft.com/User.Read`` are the same scope (Graph is the
default resource); ``openid profile email offline_access`` are OpenID Connect scopes that shape
the response (id token, refresh token) rather than the access token.
"""

from __future__ import annotations

from dataclasses import dataclass

from m365_emulator.directory import GRAPH_APP_ID, GRAPH_RESOURCE
from m365_emulator.identity.errors import IdentityError

OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
_GRAPH_PREFIXES = (f"{GRAPH_RESOURCE}/", f"{GRAPH_RESOURCE}//", f"{GRAPH_APP_ID}/")


@dataclass(frozen=True)
class RequestedScopes:
    graph: frozenset[str]  # short names: "Calendars.ReadWrite"
    oidc: frozenset[str]
    default: bool  # ".default": every permission registered on the app

    def all(self) -> frozenset[str]:
        return self.graph | self.oidc


def parse_scopes(raw: str | None) -> RequestedScopes:
    graph: set[str] = set()
    oidc: set[str] = set()
    default = False
    for item in (raw or "").split():
        if item in OIDC_SCOPES:
            oidc.add(item)
            continue
        name = item
        for prefix in _GRAPH_PREFIXES:
            if item.lower().startswith(prefix.lower()):
                name = item[len(prefix) :]
                break
        else:
            if "/" in item:
                resource = item.rsplit("/", 1)[0]
                raise IdentityError(
                    "invalid_resource",
                    500011,
                    f"The resource principal named {resource} was not found in the tenant. "
                    "This can happen if the application has not been installed by the "
                    "administrator of the tenant or consented to by any user in the tenant.",
                )
        if name == ".default":
            default = True
        else:
            graph.add(name)
    if default and graph:
        raise IdentityError(
            "invalid_scope",
            70011,
            "The provided request must include a 'scope' input parameter. The provided value "
            "for the input parameter 'scope' is not valid: '.default' can't be combined with "
            "other scopes.",
        )
    return RequestedScopes(frozenset(graph), frozenset(oidc), default)
