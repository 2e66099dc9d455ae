"""Scenario P (issue 16, "pages stay fast at any size"): the pages that list an event's people,
on a site of ``people`` people, ``events`` events and ``enrollments`` enrollments (PostgreSQL),
one event of which has ``big_event`` people and another 50 (each: its organizer, 5 presenters,
the rest attendees, each of them with an answer in Outlook).

For each page: the median time of 5 requests through Convene's web server (uvicorn, DEBUG
off) and the page's size, for the big event; and the SQL queries of one request (counted in
this process with Django's test client) for the big event and for one of 50 people, which
must be the same: a page whose queries grow with the number of people fails the scenario, and
so does a page of one event that is over 100 KB.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta

from benchmarks import world
from benchmarks.report import Figure, Scenario
from benchmarks.stack import Stack, StackConfig

SMALL_EVENT = 50
PRESENTERS = 5
SAMPLES = 5


@dataclass(frozen=True)
class PagesSize:
    people: int
    events: int
    enrollments: int
    big_event: int


PAGES_SIZES = {
    "full": PagesSize(20_000, 5_000, 250_000, 2_000),
    "quick": PagesSize(4_000, 500, 25_000, 2_000),
    "ci": PagesSize(2_100, 20, 3_000, 2_000),
}

# Enrollments of every event but the first two: person (event * step + k) mod people, for k
# below the event's share, so nobody is on one event twice (shares stay below ``people``).
FILL_ENROLLMENTS = """
INSERT INTO events_enrollment (event_id, user_id, role, created_at)
SELECT e.id,
       p.ids[1 + ((e.rank * 7919 + k) %% %(people)s)],
       'attendee',
       now() - make_interval(secs => random() * 180 * 86400)
FROM (SELECT id, row_number() OVER (ORDER BY id) AS rank FROM events_event
      WHERE id NOT IN (%(big)s, %(small)s)) AS e
CROSS JOIN generate_series(0, %(share)s - 1) AS k
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM accounts_user
            WHERE role = 'regular') AS p
ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True)
class Page:
    name: str
    path: Callable[[int], str]  # the event's id -> the page's path
    viewer: str  # "organizer" or "admin"
    per_event: bool = True  # else the same page whichever event: no comparison


PAGES = [
    Page("Manage people", lambda pk: f"/events/{pk}/people/", "organizer"),
    # The organizer is on both events: one person found either way.
    Page("Manage people, search", lambda pk: f"/events/{pk}/people/?q=organizer0", "organizer"),
    Page("Event page", lambda pk: f"/events/{pk}/", "organizer"),
    Page("Admin: event change page", lambda pk: f"/admin/events/event/{pk}/change/", "admin"),
    Page("Admin: enrollment list", lambda pk: "/admin/events/enrollment/", "admin"),
    Page("Admin: enrollments of the event", lambda pk: _enrollments_of(pk), "admin"),
    Page("My events (the organizer)", lambda pk: "/my-events/", "organizer", per_event=False),
    Page("Upcoming events", lambda pk: "/", "organizer", per_event=False),
]


def _enrollments_of(pk: int) -> str:
    return f"/admin/events/enrollment/?event__id__exact={pk}"


def run(size_name: str) -> list[Scenario]:
    size = PAGES_SIZES[size_name]
    result = Scenario(
        "P",
        f"Pages of a {size.big_event:,}-person event ({size.people:,} people, "
        f"{size.events:,} events, {size.enrollments:,} enrollments)",
    )
    cast = world.Cast.of(1, size.people)
    with Stack(StackConfig("pages", postgres=True)) as stack:
        stack.start_emulator([])
        world.setup_django(stack)
        started = time.monotonic()
        big, small = _fill(cast, size)
        result.details["fill_seconds"] = round(time.monotonic() - started, 1)
        stack.start_web()
        clients = {
            "organizer": world.browser(stack, cast.organizers[0]),
            "admin": world.browser(stack, cast.admin),
        }
        for page in PAGES:
            client = clients[page.viewer]
            path = page.path(big)
            client.get(path)  # warm: templates compiled, connections open
            samples, size_bytes = [], 0
            for _ in range(SAMPLES):
                began = time.perf_counter()
                response = client.get(path)
                samples.append(time.perf_counter() - began)
                assert response.status_code == 200, f"{path} answered {response.status_code}"
                size_bytes = len(response.content)
            result.add(Figure(f"{page.name}: time", _ms(statistics.median(samples)), "ms"))
            kilobytes = round(size_bytes / 1024, 1)
            if page.per_event:
                result.add(
                    Figure.checked(
                        f"{page.name}: size", kilobytes, "KB", "<= 100 KB", lambda v: v <= 100
                    )
                )
            else:
                result.add(Figure(f"{page.name}: size", kilobytes, "KB"))
            many = _queries(cast, page, big)
            if not page.per_event:
                result.add(Figure(f"{page.name}: SQL queries", many))
                continue
            few = _queries(cast, page, small)
            result.add(
                Figure.checked(
                    f"{page.name}: SQL queries, {size.big_event:,} people "
                    f"(vs {SMALL_EVENT}: {few})",
                    many,
                    "",
                    f"= {few}",
                    lambda v, few=few: v == few,
                )
            )
        for client in clients.values():
            client.close()
    result.details.update(size=asdict(size), database="PostgreSQL", samples=SAMPLES)
    return [result]


def _fill(cast: world.Cast, size: PagesSize) -> tuple[int, int]:
    """The site: people, events, enrollments, and the big event's answers in Outlook. Returns
    the big and the small event's ids."""
    from django.db import connection
    from django.utils import timezone

    from convene.accounts.models import User
    from convene.events.models import Enrollment, EnrollmentRole, Event
    from convene.outlook.models import AttendeeReply, OutlookSettings

    ids = world.create_people(cast)
    organizer = ids[cast.organizers[0]]
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    Event.objects.bulk_create(
        [
            Event(
                title=f"Benchmark session {n + 1}",
                description="A session of the pages benchmark.",
                start=start + timedelta(hours=n),
                end=start + timedelta(hours=n + 1),
                timezone=world.ZONE,
                location=f"Room {n % 20 + 1}",
                created_by_id=organizer,
            )
            for n in range(size.events)
        ],
        batch_size=1000,
    )
    event_ids = list(Event.objects.order_by("pk").values_list("pk", flat=True))
    big, small = event_ids[0], event_ids[1]
    guests = [ids[email] for email in cast.guests]
    # Both events alike but for their size: the organizer, 5 presenters, attendees, and every
    # kind of answer in Outlook, so that each page has the same lists to show for either.
    people = {
        big: guests[: size.big_event - 1],
        small: guests[-(SMALL_EVENT - 1) :],
    }
    rows = []
    for event_id, members in people.items():
        rows.append(Enrollment(event_id=event_id, user_id=organizer, role=EnrollmentRole.ORGANIZER))
        rows += [
            Enrollment(
                event_id=event_id,
                user_id=user_id,
                role=EnrollmentRole.PRESENTER if n < PRESENTERS else EnrollmentRole.ATTENDEE,
            )
            for n, user_id in enumerate(members)
        ]
    Enrollment.objects.bulk_create(rows, batch_size=2000)
    others = max(size.events - 2, 1)
    share = min((size.enrollments - len(rows)) // others, size.people - 1)
    with connection.cursor() as cursor:
        cursor.execute(
            FILL_ENROLLMENTS, {"people": size.people, "big": big, "small": small, "share": share}
        )
        cursor.execute("ANALYZE")
    emails = dict(User.objects.values_list("pk", "email"))
    answers = ("accepted", "tentativelyAccepted", "declined")
    AttendeeReply.objects.bulk_create(
        [
            AttendeeReply(
                event_id=event_id,
                email=emails[pk],
                user_id=pk,
                response=answers[(n % 10 > 7) + (n % 10 > 8)],  # 8:1:1
                responded_at=timezone.now() - timedelta(minutes=n),
            )
            for event_id, members in people.items()
            for n, pk in enumerate(members)
        ],
        batch_size=2000,
    )
    OutlookSettings.load()
    OutlookSettings.objects.update(enabled=True)  # the panel shows; no worker runs
    return big, small


def _queries(cast: world.Cast, page: Page, event_id: int) -> int:
    """The SQL queries of one request of ``page`` for ``event_id``, in this process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from convene.accounts.models import User

    client = Client(HTTP_HOST="127.0.0.1")
    email = cast.organizers[0] if page.viewer == "organizer" else cast.admin
    client.force_login(User.objects.get(email=email))
    path = page.path(event_id)
    client.get(path)  # the same warm-up as over HTTP (e.g. the site settings' cache)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, f"{path} answered {response.status_code}"
    return len(captured.captured_queries)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
