"""Admin-level state changes of the Outlook integration, each recorded in the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from convene.core.models import SiteSettings
from convene.events.models import AttendeeList, Event, EventStatus, not_over
from convene.outlook import links
from convene.outlook.mailboxes import pool
from convene.outlook.models import CalendarLink, LogKind, OutlookSettings, record
from convene.outlook.outbound import queueing


@transaction.atomic
def change_settings(
    values: dict[str, Any], *, actor_id: int, track_all: Callable[[], None] | None = None
) -> list[str]:
    """Apply the admin page's values; returns a sentence per change (empty when none).

    ``track_all`` queues the backfill when sync is switched on (after commit); a caller whose
    values may switch it on must pass it."""
    outlook = OutlookSettings.load()
    site = SiteSettings.load()
    changes = []
    was_enabled = outlook.enabled
    if "service_mailbox" in values:
        values = {**values, "service_mailbox": values["service_mailbox"].strip().lower()}
    for name in (
        "enabled",
        "mode",
        "unenroll_on_decline",
        "show_decline_comments",
        "service_mailbox",
        "platform_tenant",
    ):
        if name in values and getattr(outlook, name) != values[name]:
            changes.append(_describe(name, getattr(outlook, name), values[name]))
            setattr(outlook, name, values[name])
    threshold = values.get("hide_attendees_above")
    if threshold is not None and threshold != outlook.hide_attendees_above:
        changes.append(_describe("hide_attendees_above", outlook.hide_attendees_above, threshold))
        _hidden_lists_change(min(threshold, outlook.hide_attendees_above))
        outlook.hide_attendees_above = threshold
    outlook.save()
    if values.get("pool_mailboxes") is not None:
        sentence = pool.replace_extra(values["pool_mailboxes"])
        if sentence:
            changes.append(sentence)
    name = "regular_users_may_create_events"
    if name in values and getattr(site, name) != values[name]:
        changes.append(_describe(name, getattr(site, name), values[name]))
        setattr(site, name, values[name])
        site.save()
    for sentence in changes:
        record(LogKind.SETTINGS, "settings_changed", message=sentence, user_id=actor_id)
    if outlook.enabled and not was_enabled:
        if track_all is None:
            raise ValueError("Switching Outlook sync on needs track_all, to queue the backfill.")
        # Bring every upcoming event into Outlook, in the background.
        transaction.on_commit(track_all)
    return changes


def _describe(name: str, old: Any, new: Any) -> str:
    labels = {
        "enabled": "Outlook sync",
        "mode": "Mode",
        "unenroll_on_decline": "Unenroll people who decline in Outlook",
        "show_decline_comments": "Show decline comments in Convene",
        "regular_users_may_create_events": "Regular users may create events",
        "service_mailbox": "Service mailbox",
        "platform_tenant": "Platform tenant",
        "hide_attendees_above": "Hide the attendee list of events with more people than",
    }

    def word(value: Any) -> str:
        return ("on" if value else "off") if isinstance(value, bool) else str(value) or "—"

    return f"{labels[name]}: {word(old)} → {word(new)}"


def _hidden_lists_change(above: int) -> None:
    """The size above which lists are hidden changed: upcoming events following it that may
    now hide or show their list compare themselves with Outlook again (the sweep sends only
    what differs)."""
    affected = (
        Event.objects.filter(attendee_list=AttendeeList.AUTO, status=EventStatus.SCHEDULED)
        .filter(not_over(timezone.now()))
        .annotate(people=Count("enrollments"))
        .filter(people__gt=above)
        .values("pk")
    )
    links.want_all_again(CalendarLink.objects.filter(event__in=affected))


def retry(link: CalendarLink, *, actor_id: int, enqueue: queueing.Enqueue) -> None:
    record(
        LogKind.DECISION,
        "manual_retry",
        message="Retry requested",
        event_id=link.event_id,
        user_id=actor_id,
        mailbox=link.owner_mailbox,
    )
    queueing.retry_now(link, enqueue)
