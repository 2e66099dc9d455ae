"""What the pages show: lists, search, pagination, people by role, empty states, the menu and
the extension points later apps fill in."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from convene.accounts.models import Role
from convene.core import extensions
from convene.events import services
from convene.events.models import EnrollmentRole
from convene.events.views import EVENTS_PER_PAGE

pytestmark = pytest.mark.django_db


def html(response) -> str:
    return response.content.decode()


def test_upcoming_list_shows_an_empty_state(client, regular):
    client.force_login(regular)
    assert "No upcoming events yet." in html(client.get(reverse("events:list")))


def test_upcoming_list_searches_title_description_and_location(client, regular, make_event):
    make_event(title="Rust meetup", description="", location="Room 1")
    make_event(title="Lunch", description="We talk about rust.", location="Cafe")
    make_event(title="Walk", description="", location="Rustic park")
    make_event(title="Unrelated", description="", location="Elsewhere")
    client.force_login(regular)
    page = html(client.get(reverse("events:list"), {"q": "RUST"}))
    assert all(title in page for title in ("Rust meetup", "Lunch", "Walk"))
    assert "Unrelated" not in page


def test_upcoming_list_says_when_a_search_finds_nothing(client, regular, make_event):
    make_event()
    client.force_login(regular)
    assert "No upcoming events match" in html(client.get(reverse("events:list"), {"q": "zzz"}))


def test_upcoming_list_is_paginated(client, regular, make_event):
    for number in range(EVENTS_PER_PAGE + 1):
        make_event(title=f"Event number {number:02d}")
    client.force_login(regular)
    first = html(client.get(reverse("events:list")))
    second = html(client.get(reverse("events:list"), {"page": 2}))
    assert "Page 1 of 2" in first
    assert first.count("Event number") == EVENTS_PER_PAGE
    assert second.count("Event number") == 1


def test_event_detail_groups_people_by_role(client, organizer, event, make_user):
    services.add_person(
        event, make_user(display_name="Pat Presenter"), EnrollmentRole.PRESENTER, actor=organizer
    )
    services.enroll(event, make_user(display_name="Ann Attendee"), actor=None)
    client.force_login(organizer)
    page = html(client.get(event.get_absolute_url()))
    organizers, rest = page.split("Presenters", 1)
    presenters, attendees = rest.split("Attendees", 1)
    assert organizer.name in organizers
    assert "Pat Presenter" in presenters
    assert "Ann Attendee" in attendees


def test_event_description_is_escaped_with_line_breaks(client, regular, make_event):
    event = make_event(description="Hello\n<script>alert(1)</script>")
    client.force_login(regular)
    page = html(client.get(event.get_absolute_url()))
    assert "Hello<br>&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


def test_enroll_and_unenroll_buttons(client, regular, event):
    client.force_login(regular)
    assert "Enroll</button>" in html(client.get(event.get_absolute_url()))
    response = client.post(reverse("events:enroll", args=[event.pk]), follow=True)
    assert "You are enrolled in" in html(response)
    assert "Unenroll</button>" in html(response)
    response = client.post(reverse("events:unenroll", args=[event.pk]), follow=True)
    assert "You are no longer on" in html(response)
    assert event.enrollment_of(regular) is None


def test_my_events_groups_by_role(client, regular, organizer, make_event):
    attending = make_event(title="I attend this")
    presenting = make_event(title="I present this")
    services.enroll(attending, regular, actor=regular)
    services.add_person(presenting, regular, EnrollmentRole.PRESENTER, actor=organizer)
    client.force_login(regular)
    page = html(client.get(reverse("events:mine")))
    _, presenting_part = page.split('<h2 class="h5">Presenter</h2>')
    presenting_part, attending_part = presenting_part.split('<h2 class="h5">Attendee</h2>')
    assert "No upcoming events where you are organizer." in page
    assert "I present this" in presenting_part
    assert "I attend this" in attending_part


def test_manage_people_adds_by_email(client, organizer, event, regular):
    client.force_login(organizer)
    response = client.post(
        reverse("events:people", args=[event.pk]),
        {"email": regular.email.upper(), "role": "presenter"},
        follow=True,
    )
    assert f"{regular.name} added as presenter." in html(response)
    assert event.enrollment_of(regular).role == EnrollmentRole.PRESENTER


def test_manage_people_removes_someone(client, organizer, event, regular):
    services.enroll(event, regular, actor=regular)
    client.force_login(organizer)
    client.post(reverse("events:remove_person", args=[event.pk, regular.pk]))
    assert event.enrollment_of(regular) is None


def test_new_event_link_follows_the_site_setting(client, regular, regulars_may_create):
    client.force_login(regular)
    assert reverse("events:create") in html(client.get(reverse("events:list")))


def test_new_event_link_is_hidden_from_regular_users_by_default(client, regular):
    client.force_login(regular)
    assert reverse("events:create") not in html(client.get(reverse("events:list")))


def test_admin_menu_shows_an_empty_calendar_integration_section(client, admin_user, monkeypatch):
    monkeypatch.setattr(extensions, "_calendar_integrations", {})
    client.force_login(admin_user)
    page = html(client.get(reverse("events:list")))
    assert "Calendar Integration" in page
    assert "No integrations installed" in page


def test_admin_menu_lists_registered_integrations(client, admin_user, monkeypatch):
    monkeypatch.setattr(extensions, "_calendar_integrations", {})
    extensions.register_calendar_integration("Example Calendar", "core:site_settings")
    client.force_login(admin_user)
    page = html(client.get(reverse("events:list")))
    assert f'href="{reverse("core:site_settings")}">Example Calendar</a>' in page
    assert "No integrations installed" not in page


def test_admin_menu_is_hidden_from_organizers(client, organizer):
    client.force_login(organizer)
    assert "Calendar Integration" not in html(client.get(reverse("events:list")))


@pytest.fixture
def panel_template(settings, tmp_path):
    (tmp_path / "panel.html").write_text("<p>Panel for {{ user.email }}: {{ status }}</p>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    return "panel.html"


def test_profile_renders_registered_panels(client, regular, panel_template, monkeypatch):
    monkeypatch.setattr(extensions, "_panels", {slot: {} for slot in extensions.SLOTS})
    extensions.register_panel(
        extensions.PROFILE, panel_template, lambda request, context: {"status": "connected"}
    )
    client.force_login(regular)
    page = html(client.get(reverse("accounts:profile")))
    assert f"<p>Panel for {regular.email}: connected</p>" in page


def test_event_detail_renders_registered_panels(
    client, regular, event, panel_template, monkeypatch
):
    monkeypatch.setattr(extensions, "_panels", {slot: {} for slot in extensions.SLOTS})
    extensions.register_panel(extensions.EVENT_DETAIL, panel_template)
    client.force_login(regular)
    assert f"Panel for {regular.email}" in html(client.get(event.get_absolute_url()))


def test_registering_a_panel_for_an_unknown_slot_is_an_error():
    with pytest.raises(ValueError, match="Unknown panel slot"):
        extensions.register_panel("sidebar", "x.html")


def test_static_assets_come_from_convene_itself(client, regular):
    client.force_login(regular)
    page = html(client.get(reverse("events:list")))
    assert "/static/bootstrap/css/bootstrap.min.css" in page
    assert re.findall(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', page) == []


def test_cancelled_event_shows_its_state_and_no_enroll_button(client, organizer, regular, event):
    services.cancel_event(event, actor=organizer, reason="Speaker ill")
    client.force_login(regular)
    page = html(client.get(event.get_absolute_url()))
    assert "Speaker ill" in page
    assert "Enroll</button>" not in page


def test_organizer_role_users_see_edit_buttons_only_on_their_events(client, make_user, make_event):
    owner = make_user(Role.ORGANIZER)
    mine, theirs = make_event(creator=owner), make_event()
    client.force_login(owner)
    assert reverse("events:edit", args=[mine.pk]) in html(client.get(mine.get_absolute_url()))
    assert reverse("events:edit", args=[theirs.pk]) not in html(
        client.get(theirs.get_absolute_url())
    )


def test_an_event_form_gate_can_send_the_person_elsewhere_and_their_input_is_kept(
    client, organizer, monkeypatch
):
    from django.http import HttpResponseRedirect

    from convene.events.drafts import keep_draft
    from convene.events.models import Event

    def authorize_first(request, event):
        return HttpResponseRedirect(f"/authorize/?return={keep_draft(request)}")

    monkeypatch.setattr(extensions, "_event_form_gates", {})
    extensions.register_event_form_gate("authorize", authorize_first)
    client.force_login(organizer)
    data = {
        "title": "Kept title",
        "timezone": "Europe/Berlin",
        "start": "2030-01-02T10:00",
        "end": "2030-01-02T11:00",
    }
    response = client.post(reverse("events:create"), data)
    assert response["Location"].startswith("/authorize/?return=/events/new/?draft=")
    assert not Event.objects.exists()

    back = client.get(response["Location"].split("return=", 1)[1])
    page = html(back)
    assert 'value="Kept title"' in page
    assert 'value="2030-01-02T10:00"' in page
    assert "Your changes were kept" in page
    assert html(client.get(back.request["PATH_INFO"] + "?draft=used")).count("Kept title") == 0


def test_without_gates_the_event_is_saved(client, organizer, monkeypatch):
    from convene.events.models import Event

    monkeypatch.setattr(extensions, "_event_form_gates", {})
    client.force_login(organizer)
    client.post(
        reverse("events:create"),
        {"title": "T", "timezone": "UTC", "start": "2030-01-02T10:00", "end": "2030-01-02T11:00"},
    )
    assert Event.objects.count() == 1


def test_a_refusal_is_logged_as_one_line_without_a_traceback(client, regular, caplog):
    client.force_login(regular)
    with caplog.at_level("WARNING"):
        response = client.get(reverse("events:create"))
    assert response.status_code == 403
    assert "Only organizers and admins may create events" in html(response)
    refusals = [r for r in caplog.records if "/events/new/" in r.getMessage()]
    assert len(refusals) == 1
    assert refusals[0].exc_info is None


@pytest.mark.parametrize("status", ["400", "404", "500"])
def test_every_error_page_is_a_page_of_convene(status):
    from django.template.loader import render_to_string

    page = render_to_string(f"{status}.html", {})
    assert f"Error {status}" in page
    assert 'aria-label="Main"' in page  # the layout's navigation
    assert reverse("events:list") in page


def test_my_events_past_tab_lists_events_that_are_over_latest_first(client, regular, make_event):
    from datetime import timedelta

    from django.utils import timezone

    for days, title in ((3, "Three days ago"), (1, "Yesterday"), (-5, "Next week")):
        start = timezone.now() - timedelta(days=days)
        event = make_event(title=title, start=start, end=start + timedelta(hours=1))
        services.enroll(event, regular, actor=None)
    client.force_login(regular)
    page = html(client.get(reverse("events:mine"), {"when": "past"}))
    assert page.index("Yesterday") < page.index("Three days ago")
    assert "Next week" not in page


def test_the_browsers_favicon_request_finds_convenes_mark(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("/static/core/convene-mark.svg")


def test_loading_demo_data_leaves_the_sign_ins_to_rundev_which_prints_them_once(db):
    from io import StringIO

    from django.core.management import call_command

    from convene.core.management.commands.rundev import Command as RunDev
    from convene.events import demo

    loaded = StringIO()
    call_command("load_demo_data", stdout=loaded)
    announced = StringIO()
    lines = demo.dev_setup(None).lines  # type: ignore[arg-type]  # the start is not read
    RunDev(stdout=announced)._announce(8000, with_emulator=True, lines=lines)
    both = loaded.getvalue() + announced.getvalue()
    assert both.count("Demo sign-ins:") == 1
    assert both.count("ada@contoso.test") == 1
