"""Who may use the accounts app's URLs."""

from __future__ import annotations

from url_access.matrix import (
    ADMINS,
    ADMINS_ACT,
    ADMINS_NOT_FOUND,
    EVERYONE,
    EVERYONE_ACTS,
    LOGIN,
    MISSING,
    NOT_ALLOWED,
    Case,
    World,
)


def attendee(world: World) -> list[object]:
    return [world.attendee.pk]


def a_used_invitation(world: World) -> list[object]:
    return ["MQ", "set-password-token-that-is-not-valid"]


def missing_user(world: World) -> list[object]:
    return [MISSING]


CASES = (
    Case("sign in", "get", "accounts:login", (200, 302, 302, 302, 302, 302, 302)),
    Case("sign out", "post", "accounts:logout", (LOGIN,) * 7),
    Case("sign out by GET", "get", "accounts:logout", NOT_ALLOWED),
    Case("profile", "get", "accounts:profile", EVERYONE),
    Case(
        "save profile", "post", "accounts:profile", EVERYONE_ACTS, data={"display_name": "Renamed"}
    ),
    Case(
        "adopt the browser's time zone",
        "post",
        "accounts:adopt_time_zone",
        (LOGIN, 204, 204, 204, 204, 204, 204),
        data={"time_zone": "Europe/Berlin"},
    ),
    Case("adopt a time zone by GET", "get", "accounts:adopt_time_zone", NOT_ALLOWED),
    # An invitation link that no longer works says so, to anyone; nothing changes.
    Case("invitation link", "get", "accounts:set_password", (200,) * 7, args=a_used_invitation),
    Case(
        "choose a password with a void link",
        "post",
        "accounts:set_password",
        (200,) * 7,
        args=a_used_invitation,
        data={"new_password1": "Long-enough-2030", "new_password2": "Long-enough-2030"},
    ),
    Case("users and roles", "get", "accounts:users", ADMINS),
    Case(
        "change a user's role",
        "post",
        "accounts:change_role",
        ADMINS_ACT,
        args=attendee,
        data={"role": "organizer"},
    ),
    Case("change a user's role by GET", "get", "accounts:change_role", NOT_ALLOWED, args=attendee),
    Case(
        "change role of missing user",
        "post",
        "accounts:change_role",
        ADMINS_NOT_FOUND,
        args=missing_user,
        data={"role": "organizer"},
    ),
    Case(
        "deactivate a user",
        "post",
        "accounts:change_active",
        ADMINS_ACT,
        args=attendee,
        data={"active": "0"},
    ),
    Case("deactivate by GET", "get", "accounts:change_active", NOT_ALLOWED, args=attendee),
    Case(
        "deactivate a missing user",
        "post",
        "accounts:change_active",
        ADMINS_NOT_FOUND,
        args=missing_user,
        data={"active": "0"},
    ),
)
