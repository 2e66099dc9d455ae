"""What the event page and Manage people show of an event's waitlist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django import template
from django.utils import timezone

from convene.accounts.models import User
from convene.events import waitlist
from convene.events.models import Event, WaitlistEntry
from convene.permissions import AnyUser

register = template.Library()


@dataclass(frozen=True)
class Place:
    """The visitor's place on the waitlist (``entry`` None when they are not waiting)."""

    open: bool
    waiting_count: int
    entry: WaitlistEntry | None = None
    position: int = 0
    offered_until: datetime | None = None
    offer_ended: bool = False


@dataclass(frozen=True)
class Row:
    entry: WaitlistEntry
    position: int
    offer_open: bool
    offer_ended: bool
    is_first: bool
    is_last: bool


@register.simple_tag
def waitlist_place(event: Event, user: AnyUser) -> Place:
    count = event.waitlist.count()
    entry = event.waitlist.filter(user=user).first() if isinstance(user, User) else None
    if entry is None:
        return Place(open=waitlist.has_waitlist(event), waiting_count=count)
    now = timezone.now()
    return Place(
        open=waitlist.has_waitlist(event),
        waiting_count=count,
        entry=entry,
        position=waitlist.position(entry),
        offered_until=entry.offered_until if waitlist.has_open_offer(entry, now) else None,
        offer_ended=entry.offered_until is not None and entry.offered_until <= now,
    )


@register.simple_tag
def waitlist_rows(event: Event) -> list[Row]:
    entries = waitlist.waiting(event)
    now = timezone.now()
    return [
        Row(
            entry=entry,
            position=number,
            offer_open=waitlist.has_open_offer(entry, now),
            offer_ended=entry.offered_until is not None and entry.offered_until <= now,
            is_first=number == 1,
            is_last=number == len(entries),
        )
        for number, entry in enumerate(entries, start=1)
    ]
