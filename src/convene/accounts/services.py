"""Changes to people's accounts."""

from __future__ import annotations

from django.db import transaction

from convene import permissions
from convene.accounts.models import Role, User
from convene.core.zones import canonical as canonical_zone


class UnknownTimeZone(ValueError):
    pass


def adopt_browser_time_zone(user: User, reported: str) -> bool:
    """Save the zone the person's browser reports as their own, unless they already have one
    (a choice made on the profile is never overwritten). An alias (e.g. Asia/Calcutta) is saved
    as the zone it stands for. Returns whether anything was saved."""
    name = canonical_zone(reported.strip())
    if name is None:
        raise UnknownTimeZone(f"{reported!r} is not a time zone Convene knows.")
    return bool(User.objects.filter(pk=user.pk, time_zone="").update(time_zone=name))


class RoleChangeRefused(Exception):
    pass


class ActivationRefused(Exception):
    pass


@transaction.atomic
def set_role(user: User, role: Role, *, actor: User) -> None:
    if not permissions.can_manage_users(actor):
        raise RoleChangeRefused("Only Admins may change roles.")
    if user.pk == actor.pk and role != user.role:
        # Keeps at least one Admin: nobody can lock themselves (and everyone) out by accident.
        raise RoleChangeRefused("You cannot change your own role; ask another Admin.")
    user.role = role
    user.save(update_fields=["role"])


@transaction.atomic
def set_active(user: User, active: bool, *, actor: User) -> None:
    """Deactivate (block sign-in, keep everything) or reactivate someone.

    Saved with ``save()`` so that integrations hear of it through ``post_save`` (e.g. Outlook
    parks the events of an organizer who left and tells the admins).
    """
    if not permissions.can_manage_users(actor):
        raise ActivationRefused("Only Admins may deactivate or reactivate people.")
    if user.pk == actor.pk:
        raise ActivationRefused("You cannot deactivate yourself; ask another Admin.")
    if user.is_active == active:
        return
    user.is_active = active
    user.save(update_fields=["is_active"])
