"""Changes to people's accounts."""

from __future__ import annotations

from django.db import transaction

from convene import permissions
from convene.accounts.models import Role, User


class RoleChangeRefused(Exception):
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
