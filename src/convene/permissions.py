"""Who may do what, in one place. Views, templates and services all ask these functions.

| action                          | who                                                       |
| ------------------------------- | --------------------------------------------------------- |
| see events, enroll, unenroll    | any signed-in person                                      |
| create events                   | Organizers and Admins; Regular users when the site allows |
| manage an event's people        | the event's organizers (creator, co-organizers), Admins   |
| edit or cancel an event         | who may manage it and may create events                   |
| users & roles, site settings    | Admins                                                    |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser

from convene.accounts.models import Role, User
from convene.core.models import SiteSettings

if TYPE_CHECKING:
    from convene.events.models import Event

AnyUser = User | AnonymousUser


def _signed_in(user: AnyUser) -> User | None:
    if isinstance(user, User) and user.is_active:
        return user
    return None


def is_site_admin(user: AnyUser) -> bool:
    member = _signed_in(user)
    return member is not None and member.role == Role.ADMIN


def can_create_events(user: AnyUser) -> bool:
    member = _signed_in(user)
    if member is None:
        return False
    if member.role in (Role.ADMIN, Role.ORGANIZER):
        return True
    return SiteSettings.load().regular_users_may_create_events


def can_manage_event(user: AnyUser, event: Event) -> bool:
    member = _signed_in(user)
    if member is None:
        return False
    if member.role == Role.ADMIN or event.created_by_id == member.pk:
        return True
    return event.is_organized_by(member)


def can_edit_event(user: AnyUser, event: Event) -> bool:
    """Edit and cancel: the event's managers, as long as their role lets them author events."""
    return can_manage_event(user, event) and can_create_events(user)


def can_cancel_event(user: AnyUser, event: Event) -> bool:
    return can_edit_event(user, event)


def can_enroll(user: AnyUser) -> bool:
    return _signed_in(user) is not None


def can_manage_users(user: AnyUser) -> bool:
    return is_site_admin(user)


def can_change_site_settings(user: AnyUser) -> bool:
    return is_site_admin(user)
