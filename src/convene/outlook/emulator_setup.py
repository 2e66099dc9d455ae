"""Pointing a development Convene at the bundled Microsoft 365 emulator (``make run``).

The emulator forgets everything when it stops, so each start seeds it from Convene's own people:
one tenant per email domain, a mailbox per person (same password as in Convene), the platform's
tenant with its service mailbox, and Convene's app registration with this Convene's redirect
URIs. Convene's web and worker processes then get the matching ``OUTLOOK_*`` variables.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convene.core import extensions
from convene.env import load_or_create_secret_key
from convene.private_files import private_file, private_folder

# Fixed, so a browser that remembers the emulator's consent keeps working across restarts.
DEV_CLIENT_ID = "8b6c2d3e-1f4a-4e5b-9c7d-0a1b2c3d4e5f"
PLATFORM_DOMAIN = "convene-platform.test"
SERVICE_MAILBOX = f"events@{PLATFORM_DOMAIN}"


# The platform tenant's rooms in `make run`: one books itself, one waits for its delegate
# (answer as the delegate with the control API, docs/emulator.md).
DEV_ROOMS = (("Lovelace", 12, 1, "autoAccept"), ("Hopper", 40, 2, "delegate"))


@dataclass(frozen=True)
class Mailbox:
    email: str
    name: str
    is_admin: bool = False


def seed(
    people: Iterable[Mailbox], *, password: str, client_secret: str, public_url: str
) -> dict[str, Any]:
    by_domain: dict[str, list[Mailbox]] = defaultdict(list)
    for person in people:
        by_domain[person.email.rsplit("@", 1)[1].lower()].append(person)
    by_domain[PLATFORM_DOMAIN] += [
        Mailbox(SERVICE_MAILBOX, "Convene Events"),
        Mailbox(f"admin@{PLATFORM_DOMAIN}", "Platform Admin", is_admin=True),
    ]
    tenants = []
    for domain, mailboxes in sorted(by_domain.items()):
        tenant: dict[str, Any] = {
            "domain": domain,
            "displayName": domain.split(".")[0].capitalize(),
            "userConsent": True,
            "users": [
                {
                    "userPrincipalName": m.email,
                    "displayName": m.name,
                    "password": password,
                    "isAdmin": m.is_admin,
                }
                for m in mailboxes
            ],
        }
        if domain == PLATFORM_DOMAIN:
            tenant["apps"] = [
                {
                    "clientId": DEV_CLIENT_ID,
                    "clientSecret": client_secret,
                    "displayName": "Convene (development)",
                    "redirectUris": [
                        f"{public_url}/outlook/callback/",
                        f"{public_url}/outlook/admin-consent/",
                    ],
                    # Place.Read.All delegated: an admin reads their organization's rooms in
                    # organizer mode (asked of that admin alone, on the Rooms page). Mail.Read:
                    # decline comments, asked only once an admin turns them on.
                    "delegatedScopes": [
                        "Calendars.ReadWrite",
                        "User.Read",
                        "Place.Read.All",
                        "Mail.Read",
                    ],
                    # Place.Read.All: the admin's Rooms page lists the tenant's rooms.
                    # Mail.Read: the service mailbox's decline comments (when turned on).
                    "applicationPermissions": [
                        "Calendars.ReadWrite",
                        "Place.Read.All",
                        "Mail.Read",
                    ],
                    # Registered, not yet consented: as in Entra, an application permission is
                    # granted only when an admin consents (Platform calendar > Grant admin
                    # consent), so Test connection fails until then, as it would at Microsoft.
                    "adminConsented": False,
                }
            ]
            tenant["roomLists"] = [
                {"emailAddress": f"rooms@{domain}", "displayName": "Main building"}
            ]
            tenant["rooms"] = [
                {
                    "emailAddress": f"{name.lower()}@{domain}",
                    "displayName": f"{name} room",
                    "capacity": capacity,
                    "building": "Main",
                    "floorNumber": floor,
                    "roomList": f"rooms@{domain}",
                    "booking": booking,
                }
                for name, capacity, floor, booking in DEV_ROOMS
            ]
        tenants.append(tenant)
    return {"tenants": tenants}


def prepare(
    people: Iterable[Mailbox],
    *,
    password: str,
    data_dir: Path,
    api_port: int,
    public_url: str,
) -> tuple[Path, dict[str, str]]:
    """Write the seed file; returns it and the environment that points Convene at the emulator."""
    private_folder(data_dir)
    secret = load_or_create_secret_key(data_dir / "client_secret")
    seed_file = private_file(data_dir / "seed.json")  # it holds everyone's password
    seed_file.write_text(
        json.dumps(
            seed(people, password=password, client_secret=secret, public_url=public_url),
            indent=2,
        )
    )
    authority = f"https://127.0.0.1:{api_port}"
    environment = {
        "OUTLOOK_CLIENT_ID": DEV_CLIENT_ID,
        "OUTLOOK_CLIENT_SECRET": secret,
        "OUTLOOK_AUTHORITY_HOST": authority,
        "OUTLOOK_GRAPH_URL": f"{authority}/v1.0",
        "OUTLOOK_CA_BUNDLE": str(data_dir / "ca.pem"),
        "CONVENE_PUBLIC_URL": public_url,
    }
    return seed_file, environment


def dev_setup(start: extensions.DevStart) -> extensions.DevSetup:
    """``manage.py rundev``: the emulator stands in for Microsoft unless a real app
    registration is configured (``OUTLOOK_CLIENT_ID``)."""
    if not start.with_emulator or os.environ.get("OUTLOOK_CLIENT_ID"):
        return extensions.DevSetup()
    from convene.accounts.models import Role, User
    from convene.events.demo import DEMO_PASSWORD

    seed_file, environment = prepare(
        (
            Mailbox(user.email, user.name, user.role == Role.ADMIN)
            for user in User.objects.filter(is_active=True)
        ),
        password=DEMO_PASSWORD,
        data_dir=start.var_dir / "emulator",
        api_port=start.emulator_api_port,
        public_url=f"http://127.0.0.1:{start.port}",
    )
    return extensions.DevSetup(
        env=environment,
        emulator_seed=seed_file,
        lines=[
            "Microsoft sign-in (emulator): every person above has a mailbox with the same "
            f"email and password; the platform mailbox is {SERVICE_MAILBOX}.",
            "Outlook sync starts off: Admin > Calendar Integration > Microsoft Outlook.",
        ],
    )
