"""People who use Convene. The email address is the sign-in name; the role decides what they
may do (see ``convene.permissions``)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from convene.core.validators import refuse_control_characters
from convene.core.zones import canonical as canonical_zone


def validate_time_zone(name: str) -> None:
    if name and canonical_zone(name) != name:
        raise ValidationError(f"{name!r} is not a time zone Convene offers, such as Europe/Berlin.")


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    ORGANIZER = "organizer", "Organizer"
    REGULAR = "regular", "Regular user"


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively in Convene, so they are stored in lower case."""
    return email.strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields["role"] = Role.ADMIN
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=normalize_email(username or ""))


class User(AbstractBaseUser):
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(
        max_length=150, blank=True, validators=[refuse_control_characters]
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.REGULAR)
    is_active = models.BooleanField(
        default=True, help_text="Unticking this blocks sign-in without deleting the person."
    )
    date_joined = models.DateTimeField(default=timezone.now)
    # The person's own zone (canonical IANA name, see ``convene.core.zones``): times about their
    # own activity are shown in it, and new events start in it. Empty until their browser
    # reports its zone or they pick one on their profile.
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])
    # Set when an organizer invited them (an account made for them, no password yet); they
    # sign in once they have chosen a password through the emailed link.
    invited_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["display_name"]

    class Meta:
        ordering = ["display_name", "email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="email_lowercase"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    @property
    def is_invited(self) -> bool:
        """Invited and not yet signed up (no password chosen)."""
        return self.invited_at is not None and not self.has_usable_password()

    @property
    def name(self) -> str:
        """What to call this person on a page."""
        return self.display_name or self.email

    # The role is the single source of truth for Django admin access: Admins are staff and
    # superusers, nobody else is. No per-user permissions or groups.
    @property
    def is_admin(self) -> bool:
        return self.is_active and self.role == Role.ADMIN

    @property
    def is_staff(self) -> bool:
        return self.is_admin

    @property
    def is_superuser(self) -> bool:
        return self.is_admin

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return self.is_admin

    def has_perms(self, perm_list: Any, obj: object = None) -> bool:
        return self.is_admin

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_admin
