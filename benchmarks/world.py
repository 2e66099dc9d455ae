"""The Convene side of a scenario, run inside the scenario's process with the stack's env.

Data is set up with the ORM (fast, and with the integration off nothing is synced yet);
organizers connect Outlook through the real web server and the emulator's sign-in pages; the
sync itself only ever happens in the worker processes.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from tests.world import CUSTOMER, PARTNER
from tests.world import wait_until as tests_wait_until

from benchmarks.stack import PASSWORD, Stack
from convene.outlook.emulator_setup import PLATFORM_DOMAIN, SERVICE_MAILBOX, Mailbox

# The test world's tenants (tests/world.py), scaled up: organizers in the customer's tenant,
# guests from both.
ORGANIZER_DOMAIN = CUSTOMER
GUEST_DOMAINS = (CUSTOMER, PARTNER)
ZONE = "Europe/Berlin"


@dataclass(frozen=True)
class Cast:
    """Who is in the scenario: an admin, organizers, and a pool of people to enroll."""

    organizers: list[str]
    guests: list[str]
    admin: str = "admin@convene.test"

    @classmethod
    def of(cls, organizers: int, guests: int) -> Cast:
        return cls(
            organizers=[f"organizer{i:03}@{ORGANIZER_DOMAIN}" for i in range(1, organizers + 1)],
            guests=[
                f"person{i:04}@{GUEST_DOMAINS[i % len(GUEST_DOMAINS)]}"
                for i in range(1, guests + 1)
            ],
        )

    def mailboxes(self) -> list[Mailbox]:
        return [
            Mailbox(self.admin, "Convene Admin", is_admin=True),
            *(Mailbox(e, _name(e)) for e in self.organizers),
            *(Mailbox(e, _name(e)) for e in self.guests),
        ]


def _name(email: str) -> str:
    return email.split("@")[0].capitalize()


def setup_django(stack: Stack) -> None:
    """Configure this process as one more Convene process, and create the schema."""
    os.environ.update(stack.env)
    import logging

    import django
    from django.core.management import call_command

    django.setup()
    # This process polls the emulator many times a second: keep its own request log quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0, interactive=False)


def create_people(cast: Cast) -> dict[str, int]:
    from django.contrib.auth.hashers import make_password

    from convene.accounts.models import Role, User

    password = make_password(PASSWORD)  # one hash for all: nobody signs in with it here
    rows = [User(email=cast.admin, display_name="Convene Admin", role=Role.ADMIN)]
    rows += [User(email=e, display_name=_name(e), role=Role.ORGANIZER) for e in cast.organizers]
    rows += [User(email=e, display_name=_name(e), role=Role.REGULAR) for e in cast.guests]
    for row in rows:
        row.password = password
    User.objects.bulk_create(rows, batch_size=500)
    return dict(User.objects.values_list("email", "pk"))


def create_events(
    cast: Cast, ids: dict[str, int], count: int, people_per_event: int, *, seed: int = 7
) -> list[int]:
    """``count`` upcoming events spread over the organizers, each with ``people_per_event``
    people (its organizer plus attendees from the pool). The integration is off: no sync."""
    from django.utils import timezone

    from convene.events.models import Enrollment, EnrollmentRole, Event

    chooser = random.Random(seed)
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    events = []
    for number in range(count):
        organizer = cast.organizers[number % len(cast.organizers)]
        begins = start + timedelta(hours=3 * number)
        events.append(
            Event(
                title=f"Benchmark session {number + 1}",
                description=f"Session {number + 1} of the benchmark.\n\nBring questions.",
                start=begins,
                end=begins + timedelta(hours=1),
                timezone=ZONE,
                location=f"Room {number % 20 + 1}",
                created_by_id=ids[organizer],
            )
        )
    Event.objects.bulk_create(events, batch_size=500)
    made = list(Event.objects.order_by("pk").values_list("pk", "created_by_id"))
    enrollments = []
    for event_id, organizer_id in made:
        enrollments.append(
            Enrollment(event_id=event_id, user_id=organizer_id, role=EnrollmentRole.ORGANIZER)
        )
        for guest in chooser.sample(cast.guests, people_per_event - 1):
            enrollments.append(
                Enrollment(event_id=event_id, user_id=ids[guest], role=EnrollmentRole.ATTENDEE)
            )
    Enrollment.objects.bulk_create(enrollments, batch_size=2000)
    return [event_id for event_id, _ in made]


def session_for(email: str) -> tuple[str, str]:
    """A signed-in session (its key) and a CSRF secret for ``email``, made in the database:
    the sign-in page is not what is measured, and its password hashing is slow on purpose."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.middleware.csrf import _get_new_csrf_string

    from convene.accounts.models import User

    user = User.objects.get(email=email)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    assert session.session_key is not None
    return session.session_key, _get_new_csrf_string()


def cookie_header(session_key: str, csrf: str) -> dict[str, str]:
    from django.conf import settings

    return {
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}; "
        f"{settings.CSRF_COOKIE_NAME}={csrf}",
        "X-CSRFToken": csrf,
    }


def browser(stack: Stack, email: str) -> httpx.Client:
    """An HTTP client signed in to Convene's web server as ``email``."""
    from django.conf import settings

    session_key, csrf = session_for(email)
    client = httpx.Client(base_url=stack.web_url, timeout=60, follow_redirects=False)
    client.cookies.set(settings.SESSION_COOKIE_NAME, session_key)
    client.cookies.set(settings.CSRF_COOKIE_NAME, csrf)
    client.headers["X-CSRFToken"] = csrf
    return client


def connect_outlook(stack: Stack, email: str) -> None:
    """The real connect flow: Convene's /outlook/connect/ -> the emulator's sign-in and consent
    pages -> their form_post back to /outlook/callback/ -> 303 -> GET, which stores the
    authorization."""
    from m365_emulator.testing import browser_sign_in

    with browser(stack, email) as convene, httpx.Client(timeout=60) as microsoft:
        start = convene.get("/outlook/connect/")
        assert start.status_code == 302, f"connect answered {start.status_code}"
        back = browser_sign_in(microsoft, start.headers["location"], email, PASSWORD)
        parts = urlsplit(back)
        posted = convene.post(parts.path, data=dict(parse_qsl(parts.query)))
        assert posted.status_code == 303, f"callback POST answered {posted.status_code}"
        finished = convene.get(posted.headers["location"])
        assert finished.status_code == 302, f"callback GET answered {finished.status_code}"


def grant_platform_consent(stack: Stack) -> None:
    """An administrator of the platform's tenant grants Convene its application permission, as
    on the settings page: the development seed leaves that to them, as Entra does."""
    client_id = stack.env.get("OUTLOOK_PLATFORM_CLIENT_ID") or stack.env["OUTLOOK_CLIENT_ID"]
    stack.control("POST", f"/apps/{client_id}/consent", {"tenantId": PLATFORM_DOMAIN})


def switch_on(cast: Cast, *, platform: bool = False) -> None:
    """The admin turns Outlook sync on: the worker backfills every event."""
    from convene.accounts.models import User
    from convene.outlook import services, tasks

    admin = User.objects.get(email=cast.admin)
    values: dict[str, Any] = {"enabled": True, "mode": "organizer"}
    if platform:
        values = {"enabled": True, "mode": "platform", "service_mailbox": SERVICE_MAILBOX}
    services.change_settings(values, actor_id=admin.pk, track_all=tasks.track_all_events_task)


def synced_count(event_ids: list[int] | None = None) -> int:
    from django.db.models import F

    from convene.outlook.models import CalendarLink

    links = CalendarLink.objects.filter(state="synced", synced_version__gte=F("desired_version"))
    if event_ids is not None:
        links = links.filter(event_id__in=event_ids)
    return links.count()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took (the tests' polling loop, timed); raises TimeoutError with ``what`` when
    it never came true."""
    started = time.monotonic()
    try:
        tests_wait_until(condition, timeout)
    except AssertionError:
        raise TimeoutError(f"{what}: not reached within {timeout:.0f} s") from None
    return time.monotonic() - started


def last_synced_at() -> datetime | None:
    from django.db.models import Max

    from convene.outlook.models import CalendarLink

    moment: datetime | None = CalendarLink.objects.aggregate(last=Max("last_synced_at"))["last"]
    return moment


def check_outlook(
    stack: Stack, mailboxes: list[str], *, platform: bool, app_client_id: str | None = None
) -> dict[str, Any]:
    """Outlook's final state against Convene's: every event exactly once in the owner
    mailboxes (by iCalUId and by transactionId), with exactly its people (in organizer
    mode the organizer is the owner, not an attendee); per-mailbox concurrency from the
    emulator's own counters."""
    from convene.events.models import Enrollment
    from convene.outlook.models import CalendarLink

    links = {
        link.graph_id: link
        for link in CalendarLink.objects.select_related("event__created_by").exclude(graph_id="")
    }
    wanted: dict[int, set[str]] = {}
    for event_id, email, creator_id, user_id in Enrollment.objects.values_list(
        "event_id", "user__email", "event__created_by_id", "user_id"
    ):
        if platform or user_id != creator_id:
            wanted.setdefault(event_id, set()).add(email.lower())
    uids: Counter[str] = Counter()
    transactions: Counter[str] = Counter()
    wrong_people = 0
    unknown = 0
    for mailbox in mailboxes:
        for item in stack.control("GET", f"/mailboxes/{mailbox}/events")["value"]:
            uids[item["iCalUId"]] += 1
            if item.get("transactionId"):
                transactions[item["transactionId"]] += 1
            link = links.get(item["id"])
            if link is None:
                unknown += 1
                continue
            people = {a["emailAddress"]["address"].lower() for a in item.get("attendees", [])}
            if people != wanted.get(link.event_id, set()):
                wrong_people += 1
    stats = stack.stats()
    concurrency = [
        entry
        for entry in stats["maxConcurrency"]
        if app_client_id is None or entry["app"] == app_client_id
    ]
    return {
        "events_in_outlook": sum(uids.values()),
        "events_in_convene": len(links),
        "written_twice_by_icaluid": sum(1 for n in uids.values() if n > 1),
        "written_twice_by_transaction_id": sum(1 for n in transactions.values() if n > 1),
        "not_linked_in_convene": unknown,
        "wrong_attendee_lists": wrong_people,
        "max_concurrency_per_mailbox": max((e["maxConcurrent"] for e in concurrency), default=0),
    }


def queries_of_one_sync(cast: Cast, ids: dict[str, int], people: int) -> dict[str, Any]:
    """Run one first-time sync (a create) in this process and count its SQL by kind: the
    worker does exactly this per event. The event is made without signals, so no task is
    queued for the workers."""
    import re
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from convene.events.models import Enrollment, EnrollmentRole, Event
    from convene.outlook.models import CalendarLink
    from convene.outlook.outbound import push

    organizer = cast.organizers[0]
    begins = timezone.now() + timedelta(days=400)
    event = Event.objects.create(
        title="Profiled session",
        start=begins,
        end=begins + timedelta(hours=1),
        timezone=ZONE,
        created_by_id=ids[organizer],
    )
    Enrollment.objects.bulk_create(
        [Enrollment(event=event, user_id=ids[organizer], role=EnrollmentRole.ORGANIZER)]
        + [
            Enrollment(event=event, user_id=ids[g], role=EnrollmentRole.ATTENDEE)
            for g in cast.guests[: people - 1]
        ]
    )
    CalendarLink.objects.create(event=event)
    with CaptureQueriesContext(connection) as captured:
        push.sync_event(event.pk, lambda event_id, delay: None)
    kinds: Counter[str] = Counter()
    for query in captured.captured_queries:
        sql = query["sql"]
        verb = sql.split(None, 1)[0].upper()
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql, re.IGNORECASE)
        kinds[f"{verb} {table.group(1) if table else '?'}"] += 1
    return {"queries": len(captured.captured_queries), "by_kind": dict(kinds.most_common())}
