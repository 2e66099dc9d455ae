"""The directory of one emulated tenant world: tenants, users, app registrations and the
application access policies that limit an app to some mailboxes (the records; the ``Backend``
holds them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Microsoft Graph's own application id; access tokens for Graph carry it (or its URL) as audience.
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"


@dataclass
class Tenant:
    id: str
    domain: str
    user_consent: bool = True
    display_name: str = ""


# How a room mailbox answers invitations (graph/places.py).
BOOKING_MODES = ("autoAccept", "delegate")


@dataclass(frozen=True)
class RoomInfo:
    """What the directory knows of a room mailbox."""

    id: str
    capacity: int | None
    building: str | None
    floor_number: int | None
    room_list: str | None  # the emailAddress of its room list
    booking: str = "autoAccept"


@dataclass(frozen=True)
class RoomList:
    id: str
    tenant_id: str
    email: str
    display_name: str


@dataclass
class User:
    id: str
    tenant_id: str
    upn: str
    display_name: str
    password: str
    is_admin: bool = False
    has_mailbox: bool = True
    # The calendar's online meeting providers (calendar.allowedOnlineMeetingProviders and
    # defaultOnlineMeetingProvider): a tenant with Teams allows teamsForBusiness.
    online_meeting_providers: tuple[str, ...] = ("teamsForBusiness",)
    default_online_meeting_provider: str = "teamsForBusiness"
    # False: the mailbox shares no free/busy with others (getSchedule answers an error for it).
    shares_free_busy: bool = True
    # > 0: Teams meetings of this mailbox's events appear that many seconds after the event
    # asked for one (the create answers without ``onlineMeeting``).
    teams_meeting_delay_seconds: int = 0
    # The mailbox's own Exchange sending limits (seed ``sendingLimits``, JSON names); the
    # emulator's defaults for the rest (graph/sending.py).
    sending_limits: dict[str, int] = field(default_factory=dict)
    # Set for a room mailbox (places API, booking mode).
    room: RoomInfo | None = None
    # Refresh tokens (and, for revocation with ``accessTokens``, access tokens) issued before
    # this instant are refused, as after a password reset or an admin's "revoke sessions".
    refresh_tokens_valid_from: datetime | None = None
    access_tokens_valid_from: datetime | None = None

    @property
    def mail(self) -> str:
        return self.upn


@dataclass
class App:
    client_id: str
    client_secret: str | None
    redirect_uris: list[str]
    delegated_scopes: frozenset[str]
    application_permissions: frozenset[str]
    home_tenant_id: str
    admin_consented_tenants: set[str] = field(default_factory=set)
    # Tenant id -> delegated scopes an administrator granted for every user of that tenant
    # without the app's application permissions (admin consent to named scopes).
    delegated_grants: dict[str, set[str]] = field(default_factory=dict)
    display_name: str = ""
    # PEM certificates whose keys may sign a ``client_assertion`` for this app.
    certificates: list[str] = field(default_factory=list)
    # "Allow public client flows": username/password without a client secret.
    allow_public_client: bool = False


@dataclass(frozen=True)
class AccessPolicy:
    """An application access policy: the app reaches only these mailboxes in the tenant."""

    client_id: str
    tenant_id: str
    allowed_user_ids: frozenset[str]
