"""Who may use the Outlook integration's URLs.

Microsoft calls two of them (the webhooks) and sends browsers back to two (the sign-in callback
and the admin consent landing page); those are open to anyone by nature, and refuse what they
cannot verify: a notification without a known subscription's clientState, an answer that does
not belong to a sign-in or consent this session started. ``tests/convene/outlook/test_webhook*``
and ``test_sign_in_problems.py`` prove the refusals in depth; here the table only says what a
visitor gets.
"""

from __future__ import annotations

from url_access.matrix import (
    ADMINS,
    ADMINS_ACT,
    ADMINS_NOT_FOUND,
    EDITORS_ACT,
    EVERYONE,
    EVERYONE_ACTS,
    LOGIN,
    MANAGERS,
    MANAGERS_ACT,
    MISSING,
    NOT_ALLOWED,
    NOT_FOUND,
    Case,
    World,
    missing_event,
    this_event,
)

# What an organizer who may create events gets: their own sync page, the way to Microsoft.
MAY_CREATE = (LOGIN, 403, 200, 200, 403, 200, 200)
MAY_CONNECT = (LOGIN, 403, 302, 302, 403, 302, 302)


def failing_link(world: World) -> list[object]:
    return [world.link.pk]


def finished_job(world: World) -> list[object]:
    return [world.job.pk]


def attendee(world: World) -> list[object]:
    return [world.attendee.pk]


def missing(world: World) -> list[object]:
    return [MISSING]


FORGED_NOTIFICATION = {
    "value": [
        {
            "subscriptionId": "3b0d7d1c-0000-4000-8000-000000000000",
            "clientState": "guessed",
            "changeType": "updated",
            "resource": "Users/someone/Events/AAMk",
        }
    ]
}

CASES = (
    # --- an organizer's own connection ------------------------------------------------------
    Case("my Outlook sync", "get", "outlook:mine", MAY_CREATE),
    Case("connect Outlook", "get", "outlook:connect", MAY_CONNECT),
    Case("disconnect Outlook", "post", "outlook:disconnect", EVERYONE_ACTS),
    Case("disconnect Outlook by GET", "get", "outlook:disconnect", NOT_ALLOWED),
    # Microsoft posts the sign-in answer here from its own page: anyone may post, but only an
    # answer to a state Convene signed is sealed (303) to be read in the session that started
    # the sign-in; this one names none, so it is refused (400) and nothing is sealed.
    Case("sign-in answer from Microsoft", "post", "outlook:callback", (400,) * 7),
    # Read in the person's session: without a sign-in of theirs it is refused, nothing stored.
    Case(
        "sign-in answer read back", "get", "outlook:callback", (LOGIN, 400, 400, 400, 400, 400, 400)
    ),
    # A tenant admin lands here from Microsoft's consent page, maybe without a Convene account.
    Case("admin consent landing page", "get", "outlook:admin_consent_done", (400,) * 7),
    Case(
        "platform consent answer",
        "get",
        "outlook:admin_consent_done",
        (LOGIN, 403, 403, 403, 403, 403, 400),
        query={"state": "platform.forged", "admin_consent": "True"},
    ),
    # --- an event's Outlook copy ------------------------------------------------------------
    Case("publish again", "post", "outlook:publish_again", MANAGERS_ACT, args=this_event),
    Case("publish again by GET", "get", "outlook:publish_again", NOT_ALLOWED, args=this_event),
    Case(
        "publish missing event again",
        "post",
        "outlook:publish_again",
        NOT_FOUND,
        args=missing_event,
    ),
    # --- rooms and double-booking warnings ----------------------------------------------------
    Case("rooms", "get", "outlook:rooms", ADMINS),
    Case("offer rooms", "post", "outlook:rooms", ADMINS_ACT),
    Case("choose a room", "post", "outlook:choose_room", EDITORS_ACT, args=this_event),
    Case("choose a room by GET", "get", "outlook:choose_room", NOT_ALLOWED, args=this_event),
    Case(
        "choose a room for a missing event",
        "post",
        "outlook:choose_room",
        NOT_FOUND,
        args=missing_event,
    ),
    Case("free/busy warning", "post", "outlook:free_busy", MAY_CREATE),
    Case("free/busy warning by GET", "get", "outlook:free_busy", NOT_ALLOWED),
    Case(
        "free/busy of someone being added",
        "post",
        "outlook:people_free_busy",
        MANAGERS,
        args=this_event,
        data={"email": "newcomer@example.test", "role": "presenter"},
    ),
    Case(
        "free/busy of someone being added, by GET",
        "get",
        "outlook:people_free_busy",
        NOT_ALLOWED,
        args=this_event,
    ),
    Case(
        "free/busy of someone being added to a missing event",
        "post",
        "outlook:people_free_busy",
        NOT_FOUND,
        args=missing_event,
    ),
    Case("my free/busy", "get", "outlook:my_free_busy", EVERYONE, args=this_event),
    Case("my free/busy by POST", "post", "outlook:my_free_busy", NOT_ALLOWED, args=this_event),
    Case(
        "my free/busy for a missing event",
        "get",
        "outlook:my_free_busy",
        NOT_FOUND,
        args=missing_event,
    ),
    # --- admins: settings, sync dashboard, retries ------------------------------------------
    Case("Outlook settings", "get", "outlook:settings", ADMINS),
    Case(
        "save Outlook settings", "post", "outlook:settings", ADMINS_ACT, data={"mode": "organizer"}
    ),
    Case("sync dashboard", "get", "outlook:dashboard", ADMINS),
    Case("retry an event", "post", "outlook:retry", ADMINS_ACT, args=failing_link),
    Case("retry by GET", "get", "outlook:retry", NOT_ALLOWED, args=failing_link),
    Case("retry a missing link", "post", "outlook:retry", ADMINS_NOT_FOUND, args=missing),
    # --- admins: the platform calendar ------------------------------------------------------
    Case(
        "test connection",
        "post",
        "outlook:test_connection",
        (LOGIN, 403, 403, 403, 403, 403, 400),  # 400: no mailbox typed
    ),
    Case("test connection by GET", "get", "outlook:test_connection", NOT_ALLOWED),
    Case("start admin consent", "post", "outlook:platform_consent", ADMINS_ACT),
    Case("start admin consent by GET", "get", "outlook:platform_consent", NOT_ALLOWED),
    Case(
        "mode switch preview",
        "get",
        "outlook:mode_switch",
        ADMINS_ACT,  # an incomplete request goes back to the settings page
        query={"mode": "platform"},
    ),
    Case("start mode switch", "post", "outlook:mode_switch", ADMINS_ACT, data={"mode": "platform"}),
    Case("hand over a person's events", "get", "outlook:handover", ADMINS, args=attendee),
    Case(
        "hand over with no choice made",
        "post",
        "outlook:handover",
        (LOGIN, 403, 403, 403, 403, 403, 400),
        args=attendee,
    ),
    Case(
        "hand over a missing person's events",
        "get",
        "outlook:handover",
        ADMINS_NOT_FOUND,
        args=missing,
    ),
    Case("mode switch progress", "get", "outlook:job", ADMINS, args=finished_job),
    Case("progress of a missing job", "get", "outlook:job", ADMINS_NOT_FOUND, args=missing),
    Case("resume mode switch", "post", "outlook:resume_job", ADMINS_ACT, args=finished_job),
    Case("resume mode switch by GET", "get", "outlook:resume_job", NOT_ALLOWED, args=finished_job),
    Case("resume a missing job", "post", "outlook:resume_job", ADMINS_NOT_FOUND, args=missing),
    # --- Microsoft's notifications ----------------------------------------------------------
    Case("change notification", "post", "outlook:webhook", (403,) * 7, json=FORGED_NOTIFICATION),
    Case("change notification by GET", "get", "outlook:webhook", NOT_ALLOWED),
    Case(
        "lifecycle notification",
        "post",
        "outlook:webhook_lifecycle",
        (403,) * 7,
        json=FORGED_NOTIFICATION,
    ),
    Case("lifecycle notification by GET", "get", "outlook:webhook_lifecycle", NOT_ALLOWED),
)
