"""Changes to people's accounts."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from convene import permissions
from convene.accounts.models import Role, User, normalize_email
from convene.core.zones import canonical as canonical_zone

log = logging.getLogger(__name__)


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


class InvitationRefused(ValueError):
    pass


def invite(email: str, *, invited_by: User, reason: str, site_url: str) -> User:
    """An account for someone who has none: a Regular user with no password yet, marked as
    invited. Once the surrounding transaction commits they get an email with a link to choose
    a password (Django's password-reset tokens: single use, void once a password is set,
    expiring after ``PASSWORD_RESET_TIMEOUT``). ``reason`` says why, e.g. "to “Design review”";
    ``site_url`` is Convene's address as they reach it."""
    address = normalize_email(email)
    existing = User.objects.filter(email=address).first()
    if existing is not None:
        raise InvitationRefused(
            f"{address} already has a Convene account"
            + (" that an admin deactivated." if not existing.is_active else ".")
        )
    user = User.objects.create_user(address, None, invited_at=timezone.now())
    transaction.on_commit(
        lambda: _send_invitation(user, invited_by.name, reason, site_url.rstrip("/"))
    )
    return user


def _send_invitation(user: User, inviter: str, reason: str, site_url: str) -> None:
    user.refresh_from_db()
    link = site_url + reverse(
        "accounts:set_password",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    body = (
        f"{inviter} invited you {reason} on Convene, where events are planned and kept in "
        "your Outlook calendar.\n\n"
        f"Choose a password to sign in (the link works once):\n{link}\n\n"
        f"Your sign-in name is {user.email}. You can ignore this email if you did not "
        "expect it."
    )
    try:
        send_mail(
            f"Convene: {inviter} invited you", body, settings.DEFAULT_FROM_EMAIL, [user.email]
        )
    except OSError:
        log.warning("Could not email the invitation to user %s", user.pk)


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
