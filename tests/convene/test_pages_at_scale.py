"""Pages stay the same size and cost at any number of people (issue 16): Manage people pages
and searches its list, the event page shows counts and a short list, Django admin reads each
list in a fixed number of queries. Speed itself is measured by ``make bench`` (scenario P)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from convene.accounts.models import User
from convene.events import roster, services
from convene.events.models import Enrollment, EnrollmentRole, Event
from convene.outlook.models import AttendeeReply, OutlookSettings

pytestmark = pytest.mark.django_db

CROWD = 2_000


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def add_crowd(event: Event, count: int, *, prefix: str = "crowd") -> list[User]:
    """``count`` attendees with an accepted answer in Outlook each, written in bulk (the pages
    read them; nothing is announced)."""
    users = User.objects.bulk_create(
        User(email=f"{prefix}{n:05}@example.test", display_name=f"Crowd {prefix} {n:05}")
        for n in range(count)
    )
    Enrollment.objects.bulk_create(
        Enrollment(event=event, user=user, role=EnrollmentRole.ATTENDEE) for user in users
    )
    now = timezone.now()
    AttendeeReply.objects.bulk_create(
        AttendeeReply(
            event=event, email=user.email, user=user, response="accepted", responded_at=now
        )
        for user in users
    )
    return users


def queries(client, url: str) -> int:
    client.get(url)  # once before counting: cached site settings and the like
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return len(captured.captured_queries)


# --- queries do not grow with the number of people ------------------------------------------


def test_no_page_makes_more_queries_for_2000_people_than_for_4(
    client, organizer, admin_user, event, make_user
):
    OutlookSettings.load()
    OutlookSettings.objects.update(enabled=True)  # the Outlook panel with its answers shows
    presenter = make_user(display_name="Pat Presenter")
    services.add_person(event, presenter, EnrollmentRole.PRESENTER, actor=organizer)
    # every answer once, so that the few have each list the many have
    AttendeeReply.objects.create(event=event, email=presenter.email, response="accepted")
    for person, answer in zip(
        add_crowd(event, 2, prefix="few"), ["declined", "tentativelyAccepted"], strict=True
    ):
        AttendeeReply.objects.filter(user=person).update(response=answer)
    pages: dict[str, tuple[User, str]] = {
        "Manage people": (organizer, reverse("events:people", args=[event.pk])),
        "Manage people, search": (
            organizer,
            reverse("events:people", args=[event.pk]) + "?q=crowd",
        ),
        "Manage people, page 2": (
            organizer,
            reverse("events:people", args=[event.pk]) + "?page=2",
        ),
        "event page": (organizer, event.get_absolute_url()),
        "event page (not an organizer)": (presenter, event.get_absolute_url()),
        "My events": (organizer, reverse("events:mine")),
        "Upcoming events": (organizer, reverse("events:list")),
        "admin: event": (admin_user, reverse("admin:events_event_change", args=[event.pk])),
        "admin: enrollments": (admin_user, reverse("admin:events_enrollment_changelist")),
        "admin: the event's enrollments": (
            admin_user,
            reverse("admin:events_enrollment_changelist") + f"?event__id__exact={event.pk}",
        ),
        "admin: events": (admin_user, reverse("admin:events_event_changelist")),
        "admin: people": (admin_user, reverse("admin:accounts_user_changelist")),
        "Users & roles": (admin_user, reverse("accounts:users")),
    }

    def count_all() -> dict[str, int]:
        counted = {}
        for name, (viewer, url) in pages.items():
            client.force_login(viewer)
            counted[name] = queries(client, url)
        return counted

    few = count_all()
    for person in add_crowd(event, CROWD)[:100]:
        AttendeeReply.objects.filter(user=person).update(response="declined")
    many = count_all()

    grew = {name: (few[name], many[name]) for name in pages if many[name] > few[name]}
    assert grew == {}, f"queries grew with {CROWD} people (4 people, {CROWD}): {grew}"


# --- Manage people: pages, search, counts --------------------------------------------------


@pytest.fixture
def crowded(event: Event) -> Event:
    """The organizer's event with 120 attendees: 121 people, three pages of 50."""
    add_crowd(event, 120)
    return event


def people_url(event: Event, **query: str) -> str:
    url = reverse("events:people", args=[event.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def rows(page: str) -> list[str]:
    """The names in the people table, in order."""
    if "<tbody>" not in page:
        return []
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>\s*<td>([^<]+)", body)


def test_manage_people_shows_one_page_of_50_with_counts_by_role(client, organizer, crowded):
    client.force_login(organizer)
    page = html(client.get(people_url(crowded)))
    assert len(rows(page)) == roster.PEOPLE_PER_PAGE == 50
    assert rows(page)[0] == organizer.name  # organizers first
    assert "Page 1 of 3" in page
    assert "Everyone 121" in page
    assert "Organizers 1" in page and "Presenters 0" in page and "Attendees 120" in page


def test_manage_people_page_2_and_the_last_page(client, organizer, crowded):
    client.force_login(organizer)
    first, second, third = (
        rows(html(client.get(people_url(crowded, page=str(n))))) for n in (1, 2, 3)
    )
    assert len(second) == 50 and len(third) == 21
    assert not set(first) & set(second) and not set(second) & set(third)
    assert second[0] == "Crowd crowd 00049"  # after the organizer and the first 49 attendees


@pytest.mark.parametrize(
    ("asked", "shown"), [("abc", 1), ("0", 3), ("999", 3), ("-1", 3), ("2.5", 1)]
)
def test_manage_people_says_when_a_page_number_is_not_one(client, organizer, crowded, asked, shown):
    client.force_login(organizer)
    page = html(client.get(people_url(crowded, page=asked)))
    assert f"There is no page “{asked}”: this is page {shown}." in page
    assert f"Page {shown} of 3" in page


def test_manage_people_finds_people_by_name_or_email(client, organizer, crowded):
    client.force_login(organizer)
    by_name = html(client.get(people_url(crowded, q="crowd 00117")))
    assert rows(by_name) == ["Crowd crowd 00117"]
    assert "Page 1 of" not in by_name  # one page: no pagination
    by_email = html(client.get(people_url(crowded, q="CROWD00042@example")))
    assert rows(by_email) == ["Crowd crowd 00042"]


def test_manage_people_search_that_finds_nobody_says_so(client, organizer, crowded):
    client.force_login(organizer)
    page = html(client.get(people_url(crowded, q="nobody-like-this")))
    assert rows(page) == []
    assert "Nobody on this event matches “nobody-like-this”." in page
    assert "Everyone 121" in page  # the counts stay those of the whole event


def test_manage_people_filters_by_role_and_keeps_it_across_pages(client, organizer, crowded):
    client.force_login(organizer)
    organizers = html(client.get(people_url(crowded, role="organizer")))
    assert rows(organizers) == [organizer.name]
    attendees = html(client.get(people_url(crowded, role="attendee", q="crowd")))
    assert len(rows(attendees)) == 50
    assert "?q=crowd&amp;role=attendee&amp;page=2" in attendees
    ignored = html(client.get(people_url(crowded, role="king")))
    assert len(rows(ignored)) == 50 and "Page 1 of 3" in ignored


def test_manage_people_rows_share_one_form_and_post_to_each_persons_urls(
    client, organizer, crowded
):
    client.force_login(organizer)
    page = html(client.get(people_url(crowded, page="2")))
    table = page[page.index('id="people-title"') :]
    assert table.count("<form") == 2  # the search, and one form for every row's buttons
    assert table.count("csrfmiddlewaretoken") == 1
    person = User.objects.get(email="crowd00049@example.test")
    remove = reverse("events:remove_person", args=[crowded.pk, person.pk])
    role = reverse("events:change_role", args=[crowded.pk, person.pk])
    assert f'formaction="{remove}"' in page
    assert f'formaction="{role}"' in page
    assert f'name="role-{person.pk}"' in page
    assert '<input type="hidden" name="back" value="page=2">' in page


def test_changing_a_role_from_the_page_form_goes_back_to_the_same_page(client, organizer, crowded):
    person = User.objects.get(email="crowd00060@example.test")
    other = User.objects.get(email="crowd00061@example.test")
    client.force_login(organizer)
    response = client.post(
        reverse("events:change_role", args=[crowded.pk, person.pk]),
        # every row's select is posted; only the clicked row's counts
        {
            f"role-{person.pk}": "presenter",
            f"role-{other.pk}": "attendee",
            "back": "q=crowd&page=2",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == people_url(crowded, q="crowd", page="2")
    assert crowded.enrollment_of(person).role == EnrollmentRole.PRESENTER
    assert crowded.enrollment_of(other).role == EnrollmentRole.ATTENDEE


def test_removing_from_the_page_form_goes_back_to_the_same_page(client, organizer, crowded):
    person = User.objects.get(email="crowd00070@example.test")
    client.force_login(organizer)
    response = client.post(
        reverse("events:remove_person", args=[crowded.pk, person.pk]),
        {"back": "role=attendee&page=2&next=https://elsewhere.test/"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == people_url(crowded, role="attendee", page="2")
    assert f"{person.name} removed from the event." in html(response)
    assert crowded.enrollment_of(person) is None


def test_a_role_change_without_a_role_for_that_person_is_refused(client, organizer, crowded):
    person = User.objects.get(email="crowd00080@example.test")
    other = User.objects.get(email="crowd00081@example.test")
    client.force_login(organizer)
    response = client.post(
        reverse("events:change_role", args=[crowded.pk, person.pk]),
        {f"role-{other.pk}": "presenter"},
        follow=True,
    )
    assert "Choose one of the roles in the list." in html(response)
    assert crowded.enrollment_of(person).role == EnrollmentRole.ATTENDEE
    assert crowded.enrollment_of(other).role == EnrollmentRole.ATTENDEE


# --- the event page: counts and a short list ------------------------------------------------


def test_event_page_names_the_first_people_of_each_role_and_counts_the_rest(
    client, organizer, crowded, regular
):
    client.force_login(organizer)
    page = html(client.get(crowded.get_absolute_url()))
    assert "120 attending, no limit" in page
    assert page.count("Crowd crowd") == roster.SHOWN_PER_ROLE
    more = reverse("events:people", args=[crowded.pk]) + "?role=attendee"
    assert f'<a href="{more}">and {120 - roster.SHOWN_PER_ROLE} more</a>' in page
    client.force_login(regular)
    page = html(client.get(crowded.get_absolute_url()))
    assert f"and {120 - roster.SHOWN_PER_ROLE} more" in page
    assert more not in page  # only who may manage people is offered the list


def test_event_page_knows_its_own_enrollment_among_many(client, crowded):
    someone = User.objects.get(email="crowd00110@example.test")  # not among the names shown
    client.force_login(someone)
    page = html(client.get(crowded.get_absolute_url()))
    assert "You are on this event as <strong>attendee</strong>." in page


def test_event_page_counts_answers_in_outlook_and_names_the_latest(client, organizer, crowded):
    OutlookSettings.load()
    OutlookSettings.objects.update(enabled=True)
    latest = timezone.now()
    for n, reply in enumerate(AttendeeReply.objects.filter(event=crowded).order_by("email")[:15]):
        reply.response = "declined"
        reply.responded_at = latest - timedelta(minutes=n)
        reply.save()
    client.force_login(organizer)
    page = html(client.get(crowded.get_absolute_url()))
    panel = page[page.index("Answers in Outlook") :]
    assert "Accepted (105)" in panel and "Declined (15)" in panel
    declined = panel[panel.index("Declined (15)") :].split("</ul>")[0]
    assert declined.index("Crowd crowd 00000") < declined.index("Crowd crowd 00009")
    assert "Crowd crowd 00010" not in declined  # the 5 earliest are counted, not named
    assert "and 5 more" in declined


# --- Django admin -------------------------------------------------------------------------


def test_admin_event_page_shows_counts_the_first_people_and_links_to_all(
    client, admin_user, crowded
):
    client.force_login(admin_user)
    page = html(client.get(reverse("admin:events_event_change", args=[crowded.pk])))
    listed = reverse("admin:events_enrollment_changelist") + f"?event__id__exact={crowded.pk}"
    assert "Organizers: 1, Presenters: 0, Attendees: 120" in page
    assert f'<a href="{listed}">all 121 in the enrollment list</a>' in page
    assert page.count("Crowd crowd") <= 2 * 50  # each row: the person, and its title
    everyone = html(client.get(listed))
    assert "121 enrollments" in everyone and "Crowd crowd 00000" in everyone


def test_enrollment_list_is_sorted_on_an_index():
    indexed = [index.fields for index in Enrollment._meta.indexes]
    assert list(Enrollment._meta.ordering) == ["created_at", "pk"]
    assert ["created_at", "id"] in indexed
