"""Titles and descriptions full of HTML and script are text everywhere: on Convene's pages and in
Outlook."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from convene.events import services

from .conftest import OutlookWorld
from .test_connect_and_sync import ADA, ALAN

TITLE = '<script>alert("title")</script>'
DESCRIPTION = '<img src=x onerror=alert(1)>\n<a href="javascript:alert(2)">click</a>'


def test_hostile_text_is_escaped_in_convene_and_sanitized_for_outlook(
    outlook: OutlookWorld,
) -> None:
    outlook.connect(ADA)
    start = timezone.now() + timedelta(days=5)
    event = services.create_event(
        services.EventDetails(
            title=TITLE,
            description=DESCRIPTION,
            start=start,
            end=start + timedelta(hours=1),
            timezone="UTC",
            location="<b>Hall</b>",
        ),
        creator=outlook.people[ADA],
    )
    services.enroll(event, outlook.people[ALAN], actor=None)
    outlook.wait_synced(event.pk)

    pages = [
        outlook.browser(ALAN).get("/"),
        outlook.browser(ALAN).get(f"/events/{event.pk}/"),
        outlook.browser(ALAN).get("/my-events/"),
        outlook.browser(ADA).get(f"/events/{event.pk}/people/"),
        outlook.browser(ADA).get("/outlook/"),
        outlook.browser("admin@contoso.test").get("/outlook/admin/sync/"),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert 'href="javascript:' not in html

    (copy,) = outlook.mailbox(ADA)
    assert copy["subject"] == TITLE  # plain text: Outlook shows it as typed, runs nothing
    body = copy["body"]["content"]
    tags = set(re.findall(r"<([a-zA-Z]+)", body))
    assert tags <= {"html", "head", "meta", "body", "div", "p", "br", "a"}, tags
    # the only div is Convene's own mark around its part of the body
    assert re.findall(r"<div[^>]*>", body) == ['<div id="convene-event">']
    assert re.findall(r'<a href="([^"]*)"', body) == [f"http://testserver/events/{event.pk}/"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
