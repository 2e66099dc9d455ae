"""Who is on an event, read so that a page costs the same for 20 people as for 20,000: counts
by role in one query, a page or a short list of people, never everyone."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from convene.events.models import Enrollment, EnrollmentRole, Event

PEOPLE_PER_PAGE = 50
# How many people of each role the event page names before "and N more".
SHOWN_PER_ROLE = 12

# Organizers first, then presenters, then attendees (not the roles' alphabetical order).
ROLE_ORDER = Case(
    *(When(role=role, then=Value(rank)) for rank, role in enumerate(EnrollmentRole)),
    output_field=IntegerField(),
)


def counts(event: Event) -> dict[EnrollmentRole, int]:
    """How many people the event has in each role (every role, zeros included)."""
    grouped = event.enrollments.order_by().values("role").annotate(n=Count("pk"))
    found = {row["role"]: row["n"] for row in grouped}
    return {role: found.get(role.value, 0) for role in EnrollmentRole}


def matching(event: Event, text: str = "", role: str = "") -> QuerySet[Enrollment]:
    """The event's people whose name or email contains ``text``, in ``role`` when given, in
    the order pages show them, with each person read in the same query."""
    people = event.enrollments.select_related("user").order_by(
        ROLE_ORDER, "user__display_name", "user__email"
    )
    text = text.strip()
    if text:
        people = people.filter(
            Q(user__display_name__icontains=text) | Q(user__email__icontains=text)
        )
    if role:
        people = people.filter(role=role)
    return people


@dataclass(frozen=True)
class RoleList:
    """One role's heading on the event page: its count and the first people in it."""

    role: EnrollmentRole
    count: int
    shown: list[Enrollment]

    @property
    def label(self) -> str:
        return str(self.role.label)

    @property
    def more(self) -> int:
        return self.count - len(self.shown)


def short_lists(event: Event, per_role: int = SHOWN_PER_ROLE) -> list[RoleList]:
    """Per role, its count and its first ``per_role`` people by name: one query for the counts
    and one per role that has anybody."""
    by_role = counts(event)
    return [
        RoleList(role, count, list(matching(event, role=role.value)[:per_role]) if count else [])
        for role, count in by_role.items()
    ]
