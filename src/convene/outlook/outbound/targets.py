"""Where an event's Outlook copy lives, and the Graph client that reaches it.

A copy stays where it was made (its link remembers mode and mailbox) until a move takes it
elsewhere; an event with no copy yet goes where the settings say now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from convene.events.models import Event
from convene.outlook import links
from convene.outlook.mailboxes import connections, platform, pool
from convene.outlook.microsoft.errors import (
    AuthorizationLost,
    OrganizerLeft,
    Rejected,
    SendingLimitReached,
)
from convene.outlook.microsoft.graph import GraphClient
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import CalendarLink, Mode, OutlookConnection, OutlookSettings


@dataclass(frozen=True)
class Target:
    """Where the event's Outlook copy lives and how to reach it."""

    mailbox: str
    client: GraphClient
    is_platform: bool


TargetResolver = Callable[[CalendarLink, Event, OutlookSettings], Target]


def resolve_target(link: CalendarLink, event: Event, outlook: OutlookSettings) -> Target:
    """Where the event's Outlook copy lives, and how to reach it.

    - Organizer calendars: the creator's mailbox, through their sign-in (never once their
      account is deactivated: ``OrganizerLeft``).
    - Platform calendar: the service mailbox, with Convene's app-only access.
    """
    registration = AppRegistration.from_settings()
    if not link.graph_id and link.mode != outlook.mode:
        links.follow_mode(link, outlook.mode)
    if link.mode == Mode.PLATFORM:
        return _platform_target(link, outlook, registration)
    if not event.created_by.is_active:
        # Never act as someone who has left, even while their authorization still works.
        raise OrganizerLeft(
            f"{event.created_by.name}'s account is deactivated; an admin must hand this "
            "event over to a new organizer."
        )
    connection = connections.usable_connection(event.created_by_id)
    if connection is None:
        lost = OutlookConnection.objects.filter(user_id=event.created_by_id).first()
        raise AuthorizationLost(
            lost.last_error if lost else f"{event.created_by.name} has not connected Outlook yet."
        )
    if link.owner_mailbox and link.owner_mailbox != connection.mailbox:
        raise AuthorizationLost(
            f"This event is in {link.owner_mailbox}'s calendar, but "
            f"{event.created_by.name} is now connected as {connection.mailbox}."
        )
    client = connections.client(registration, connection)
    return Target(mailbox=connection.mailbox, client=client, is_platform=False)


def _platform_target(
    link: CalendarLink, outlook: OutlookSettings, registration: AppRegistration
) -> Target:
    # A copy stays where it was made; a new one goes to the pool's mailbox with most room.
    mailbox = link.owner_mailbox if link.graph_id else pool.choose(link, outlook)
    if not mailbox:
        raise Rejected("No service mailbox is set for the platform calendar.")
    mailbox = mailbox.lower()
    until = pool.waiting_until(mailbox)
    if until is not None:
        # Exchange already refused this mailbox for today: no request until its hours move on.
        raise SendingLimitReached(
            f"{mailbox} reached Exchange's daily sending limit.",
            retry_after=(until - timezone.now()).total_seconds(),
        )
    client = platform.client(
        registration.for_platform(), mailbox, platform.tenant_for(mailbox, outlook)
    )
    return Target(mailbox=mailbox, client=client, is_platform=True)
