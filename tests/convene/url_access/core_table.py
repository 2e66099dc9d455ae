"""Who may use the core app's URLs (and the Django admin's front door)."""

from __future__ import annotations

from url_access.matrix import ADMINS, ADMINS_ACT, EVERYONE, Case

CASES = (
    Case("site settings", "get", "core:site_settings", ADMINS),
    Case(
        "save site settings",
        "post",
        "core:site_settings",
        ADMINS_ACT,
        data={"regular_users_may_create_events": "on"},
    ),
    Case("notices", "get", "core:notices", EVERYONE),
    Case("favicon", "get", "core:favicon", (302,) * 7),
    # Staff only, by the Django admin's own check (Convene's admins are staff).
    Case("django admin", "get", "admin:index", (302, 302, 302, 302, 302, 302, 200)),
)
