"""Return URLs an attacker would put in a "next" parameter, and how a browser would read the
Location Convene answers with. Shared by every test of a place that honours a return URL."""

from __future__ import annotations

import re

HOST = "testserver"  # the Django test client's host

HOSTILE_NEXT = (
    "https://evil.test/",
    "http://evil.test/steal?x=1",
    "//evil.test",
    "///evil.test",
    "/\\evil.test",
    "\\\\evil.test",
    "/\t/evil.test",  # browsers drop tabs: //evil.test
    " //evil.test",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http:evil.test",  # browsers read http://evil.test
    "https:/evil.test",
    f"https://{HOST}@evil.test/",
    f"https://{HOST}.evil.test/",
    "https://evil.test\\@testserver/",
    # Encoded once more than the query string needs: relative paths on Convene when honoured.
    "%2F%2Fevil.test",
    "https%3A%2F%2Fevil.test",
    "/%5Cevil.test",
)


def stays_on_convene(location: str) -> bool:
    """Whether a browser following this Location stays on Convene's host (read strictly: an
    http(s) URL with no slashes counts as naming a host, as it does from an HTTPS page)."""
    # What browsers do before parsing: drop tabs and newlines, trim, read "\\" as "/".
    seen = re.sub(r"[\t\n\r]", "", location).strip().replace("\\", "/")
    scheme = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):(.*)", seen, re.DOTALL)
    if scheme is not None:
        if scheme.group(1).lower() not in ("http", "https"):
            return False  # javascript:, data:, another app
        rest, names_host = scheme.group(2), True
    else:
        rest, names_host = seen, seen.startswith("//")  # any run of 2+ slashes starts a host
    if not names_host:
        return True  # a path, relative or absolute, on the same origin
    authority = re.split(r"[/?#]", rest.lstrip("/"), maxsplit=1)[0]
    host = authority.rsplit("@", 1)[-1].split(":")[0].lower()
    return host == HOST
