"""Changes to people's accounts."""

from __future__ import annotations

from django.db import transaction

from convene import permissions
from convene.accounts.models import Role, User


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
