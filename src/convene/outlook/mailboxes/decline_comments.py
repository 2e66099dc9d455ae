"""A decline's comment ("Sorry, I cannot make it"), read from the organizer's mailbox.

Graph keeps no comment on the organizer's event (an attendee's ``status`` is only a response
and a time): the comment is the body of the answer message (an ``eventMessageResponse``)
Outlook delivers to the mailbox the event lives in. Reading it needs ``Mail.Read``, so Convene
reads it only while the admin wants comments shown (``OutlookSettings.show_decline_comments``),
with one narrow request per decline: the decliner's messages received since they answered,
newest first, each with the id of the event it answers; the one about this event is the
answer.

Reading the comment is a courtesy: any failure (no mail permission, 403, 404, throttling, a
timeout, an unexpected answer) is logged and gives no comment, and the decline itself (the
answer recorded, the unenrolling, the waitlist's promotion, the organizer's notice) goes on as
without the setting.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from django.utils import timezone

from convene.events.models import Event
from convene.outlook.mailboxes import connections, platform
from convene.outlook.microsoft.errors import MicrosoftError
from convene.outlook.microsoft.graph import GraphClient
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import (
    CalendarLink,
    ConnectionStatus,
    Mode,
    OutlookConnection,
    OutlookSettings,
)

log = logging.getLogger(__name__)

# What is kept of a comment (people write a sentence; a pasted essay is cut).
MAX_LENGTH = 1000
# Answers received this long before the time Outlook gives the answer still count (clocks).
SLACK = timedelta(minutes=5)
# Messages read per decline: the decliner's newest since they answered (other events'
# answers sent at the same moment among them).
MESSAGES_READ = 5


@dataclass(frozen=True)
class Comment:
    text: str = ""  # plain text, at most MAX_LENGTH characters; "" when none
    problem: str = ""  # why it could not be read, when it could not


def read(
    event: Event,
    graph_event: dict[str, Any],
    sender: str,
    answered_at: datetime | None,
    mailbox: str,
    outlook: OutlookSettings,
) -> Comment:
    """The comment ``sender`` gave with their decline of ``graph_event`` (the copy in
    ``mailbox``: the event, an overflow copy or one occurrence of a series). No request at all
    while the setting is off; never raises."""
    if not outlook.show_decline_comments:
        return Comment()
    event_id = str(graph_event.get("id") or "")
    if not event_id:
        return Comment()
    try:
        client = _client(event, mailbox, outlook)
        if client is None:
            return Comment(problem="the organizer's Outlook connection cannot read mail")
        since = (answered_at or timezone.now()) - SLACK
        messages = client.answers_from(sender, since, top=MESSAGES_READ)
        for message in messages:
            about = message.get("event")
            if isinstance(about, dict) and about.get("id") == event_id:
                return Comment(text=plain_text(message.get("body")))
        return Comment()
    except (MicrosoftError, connections.MailNotGranted) as exc:
        problem = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    except Exception as exc:  # a comment must never cost the decline
        problem = f"unexpected {type(exc).__name__}"
        log.exception("Reading a decline comment of event %s failed", event.pk)
    log.warning(
        "Decline comment of %s on event %s not read from %s: %s", sender, event.pk, mailbox, problem
    )
    return Comment(problem=problem[:300])


def _client(event: Event, mailbox: str, outlook: OutlookSettings) -> GraphClient | None:
    """A client that may read ``mailbox``'s messages: the platform's app-only access to a
    service mailbox, or the organizer's own authorization with the Mail.Read scope."""
    registration = AppRegistration.from_settings()
    link = CalendarLink.objects.filter(event_id=event.pk).only("mode").first()
    mode = link.mode if link is not None else outlook.mode
    if mode == Mode.PLATFORM:
        return platform.client(
            registration.for_platform(), mailbox, platform.tenant_for(mailbox, outlook)
        )
    connection = OutlookConnection.objects.filter(
        user_id=event.created_by_id, status=ConnectionStatus.CONNECTED
    ).first()
    if connection is None or connection.mailbox != mailbox.lower():
        return None
    return connections.mail_client(registration, connection)


# --- the comment as plain text ------------------------------------------------------------

_SKIPPED = {"script", "style", "head", "title", "template"}
_BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class _Text(HTMLParser):
    """The text of an HTML body: markup dropped (script and style with their content),
    character references decoded. Nothing here is ever rendered as HTML again."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def plain_text(body: Any) -> str:
    """A message body (Graph's itemBody) as plain text of at most ``MAX_LENGTH`` characters:
    HTML reduced to its text, control and direction-changing characters removed, spaces
    collapsed, at most one blank line in a row."""
    if not isinstance(body, dict):
        return ""
    content = str(body.get("content") or "")
    if str(body.get("contentType") or "").lower() == "html":
        parser = _Text()
        parser.feed(content)
        parser.close()
        content = "".join(parser.parts)
    content = _CONTROL.sub("", content.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [" ".join(line.split()) for line in content.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(text) > MAX_LENGTH:
        text = text[: MAX_LENGTH - 1].rstrip() + "…"
    return text
