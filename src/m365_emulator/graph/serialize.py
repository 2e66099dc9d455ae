"""Model objects as Graph's JSON: events, calendars, meeting messages.

Property names, nesting and enum values follow Microsoft's CSDL (a test checks every property
against ``schema/graph-calendar-subset.json``).
"""

from __future__ import annotations

import copy
import hashlib
import html
import re
from collections.abc import Collection
from datetime import datetime
from typing import Any
from urllib.parse import quote

from m365_emulator.graph import series, timezones
from m365_emulator.graph.model import NEVER, Event, MeetingMessage

_TAG = re.compile(r"<[^>]+>")
_HTML_HEAD = (
    "<html>\r\n<head>\r\n"
    '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    "\r\n</head>\r\n<body>\r\n"
)


def graph_timestamp(value: datetime | None) -> str:
    """An instant as Graph writes it: UTC, seven fractional digits, ``Z``."""
    if value is None:
        return NEVER
    utc = value.astimezone(timezones.zone("UTC"))
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}0Z"


def date_time_zone(instant: datetime, zone_name: str | None) -> dict[str, str]:
    """A dateTimeTimeZone: wall-clock time in ``zone_name`` (UTC when None)."""
    name = zone_name or "UTC"
    local = timezones.from_utc(instant, name)
    return {
        "dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0",
        "timeZone": name,
    }


def body_as(body: dict[str, Any], wanted: str) -> dict[str, str]:
    """Outlook stores HTML and returns it by default; ``text`` strips the markup."""
    content = str(body.get("content") or "")
    kind = str(body.get("contentType") or "text").lower()
    if not content:
        return {"contentType": wanted, "content": ""}
    if wanted == "text":
        if kind == "html":
            content = html.unescape(_TAG.sub("", content)).strip()
        return {"contentType": "text", "content": content}
    if kind == "text":
        content = html.escape(content).replace("\n", "<br>\r\n")
    if "<html" not in content.lower():
        content = f"{_HTML_HEAD}{content}\r\n</body>\r\n</html>\r\n"
    return {"contentType": "html", "content": content}


def body_preview(body: dict[str, Any]) -> str:
    text = body_as(body, "text")["content"]
    return " ".join(text.split())[:255]


def web_link(item_id: str) -> str:
    return (
        f"https://outlook.office365.com/owa/?itemid={quote(item_id, safe='')}"
        "&exvsurl=1&path=/calendar/item"
    )


def event_json(
    event: Event,
    *,
    zone_name: str | None = None,
    body_type: str = "html",
    select: Collection[str] | None = None,
    extended_ids: Collection[str] | None = None,
    own_zones: bool = False,
) -> dict[str, Any]:
    """One event as Graph returns it.

    ``zone_name`` renders start/end in that zone (``Prefer: outlook.timezone``); without it
    they are in UTC, or with ``own_zones`` in the zones the event was written with (how Graph
    answers a create or an update), ``select`` keeps only those properties, ``extended_ids``
    adds the matching single-value extended properties (``$expand``).
    """
    props = event.props
    body = props.get("body") or {"contentType": "html", "content": ""}
    location = props.get("location") or {
        "displayName": "",
        "locationType": "default",
        "uniqueIdType": "unknown",
        "address": {},
        "coordinates": {},
    }
    data: dict[str, Any] = {
        "@odata.etag": f'W/"{event.change_key}"',
        "id": event.id,
        "createdDateTime": graph_timestamp(event.created),
        "lastModifiedDateTime": graph_timestamp(event.modified),
        "changeKey": event.change_key,
        "categories": list(props.get("categories") or []),
        "transactionId": event.transaction_id,
        "originalStartTimeZone": event.start_zone,
        "originalEndTimeZone": event.end_zone,
        "iCalUId": event.ical_uid,
        "reminderMinutesBeforeStart": props.get("reminderMinutesBeforeStart", 15),
        "isReminderOn": props.get("isReminderOn", True),
        "hasAttachments": False,
        "subject": event.subject,
        "bodyPreview": body_preview(body),
        "importance": props.get("importance", "normal"),
        "sensitivity": props.get("sensitivity", "normal"),
        "isAllDay": props.get("isAllDay", False),
        "isCancelled": event.is_cancelled,
        "isOrganizer": event.is_organizer,
        "responseRequested": props.get("responseRequested", True),
        "seriesMasterId": event.series_master_id,
        "showAs": props.get("showAs", "busy"),
        "type": event.type,
        "webLink": web_link(event.id),
        "onlineMeetingUrl": None,
        "isOnlineMeeting": event.is_online_meeting,
        "onlineMeetingProvider": event.online_meeting_provider,
        "allowNewTimeProposals": props.get("allowNewTimeProposals", True),
        "isDraft": False,
        "hideAttendees": props.get("hideAttendees", False),
        "responseStatus": {
            "response": event.response,
            "time": graph_timestamp(event.response_time),
        },
        "body": body_as(body, body_type),
        "start": date_time_zone(
            event.start, zone_name or (event.start_zone if own_zones else None)
        ),
        "end": date_time_zone(event.end, zone_name or (event.end_zone if own_zones else None)),
        "location": location,
        "locations": list(props.get("locations") or []),
        "recurrence": copy.deepcopy(event.recurrence),
        "attendees": [
            {
                "type": a.type,
                "status": {"response": a.response, "time": graph_timestamp(a.response_time)},
                "emailAddress": {"name": a.name, "address": a.address},
            }
            for a in event.attendees
        ],
        "organizer": {
            "emailAddress": {"name": event.organizer_name, "address": event.organizer_address}
        },
        "onlineMeeting": online_meeting_info(event.join_url) if event.join_url else None,
    }
    if event.transaction_id is None:
        # Graph returns transactionId only when an app set it.
        del data["transactionId"]
    if event.original_start is not None:
        data["originalStart"] = graph_timestamp(event.original_start)
    if select:
        wanted = {name.lower() for name in select} | {"id", "@odata.etag"}
        if "cancelledoccurrences" in wanted and event.type == "seriesMaster":
            # Graph returns cancelledOccurrences only when selected, on a series master.
            data["cancelledOccurrences"] = series.cancelled_occurrences(event)
        data = {k: v for k, v in data.items() if k.lower() in wanted}
    if extended_ids is not None:
        wanted_ids = {i.lower() for i in extended_ids}
        data["singleValueExtendedProperties"] = [
            {"id": prop_id, "value": value}
            for key, (prop_id, value) in event.extended.items()
            if key in wanted_ids
        ]
    return data


# The dial-in number of the emulator's Teams audio conferencing (a fictional 555 number).
TOLL_NUMBER = "+1 206-555-0142"


def online_meeting_info(join_url: str) -> dict[str, Any]:
    """onlineMeetingInfo of a Teams meeting (resources/onlinemeetinginfo.md): the join link, a
    conference id with its dial-in number, and the quick dial that combines them."""
    conference_id = str(int(hashlib.sha256(join_url.encode()).hexdigest()[:12], 16) % 10**9)
    return {
        "conferenceId": conference_id,
        "joinUrl": join_url,
        "phones": [{"number": TOLL_NUMBER, "type": "business", "region": None, "language": None}],
        "quickDial": f"{TOLL_NUMBER},,{conference_id}#",
        "tollFreeNumbers": [],
        "tollNumber": TOLL_NUMBER,
    }


def message_json(
    message: MeetingMessage, with_body: bool = True, body_type: str = "html"
) -> dict[str, Any]:
    """A meeting message as an eventMessage (eventMessageRequest / eventMessageResponse).
    ``with_body=False``: without ``body`` and ``bodyPreview``, as Graph answers a caller that
    has ``Mail.ReadBasic`` only. An answer's comment (decline's ``comment``) is its body."""
    odata_type = "#microsoft.graph.eventMessage"
    if message.meeting_message_type == "meetingRequest":
        odata_type = "#microsoft.graph.eventMessageRequest"
    elif message.response_type is not None:
        odata_type = "#microsoft.graph.eventMessageResponse"
    sender = {"emailAddress": {"name": message.sender_name, "address": message.sender_address}}
    body = {"contentType": "text", "content": message.comment}
    data: dict[str, Any] = {
        "@odata.type": odata_type,
        "@odata.etag": f'W/"{message.change_key}"',
        "id": message.id,
        "createdDateTime": graph_timestamp(message.received),
        "lastModifiedDateTime": graph_timestamp(message.received),
        "changeKey": message.change_key,
        "categories": [],
        "receivedDateTime": graph_timestamp(message.received),
        "sentDateTime": graph_timestamp(message.received),
        "hasAttachments": False,
        "internetMessageId": f"<{message.id[-24:]}@emulator.local>",
        "subject": message.subject,
        "bodyPreview": body_preview(body),
        "importance": "normal",
        "conversationId": message.ical_uid,
        "isRead": message.is_read,
        "isDraft": False,
        "body": body_as(body, body_type),
        "sender": sender,
        "from": sender,
        "toRecipients": [
            {"emailAddress": {"name": name, "address": address}} for name, address in message.to
        ],
        "ccRecipients": [],
        "bccRecipients": [],
        "replyTo": [],
        "meetingMessageType": message.meeting_message_type,
        "startDateTime": date_time_zone(message.start, None),
        "endDateTime": date_time_zone(message.end, None),
        "location": {"displayName": message.location, "locationType": "default"},
        "type": message.event_type,
        "recurrence": copy.deepcopy(message.recurrence),
        "isOutOfDate": False,
        "isAllDay": False,
        "isDelegated": False,
    }
    if not with_body:
        del data["body"], data["bodyPreview"]
    if message.meeting_request_type is not None:
        data["meetingRequestType"] = message.meeting_request_type
    if message.response_type is not None:
        data["responseType"] = message.response_type
    return data


def calendar_json(
    calendar_id: str,
    owner_name: str,
    owner_address: str,
    allowed_providers: Collection[str] = ("teamsForBusiness",),
    default_provider: str = "teamsForBusiness",
) -> dict[str, Any]:
    return {
        "id": calendar_id,
        "name": "Calendar",
        "color": "auto",
        "hexColor": "",
        "isDefaultCalendar": True,
        "changeKey": "AAAAAAAAAAAAAAAAAAAAAA==",
        "canShare": True,
        "canViewPrivateItems": True,
        "canEdit": True,
        "isRemovable": False,
        "isTallyingResponses": True,
        "allowedOnlineMeetingProviders": list(allowed_providers),
        "defaultOnlineMeetingProvider": default_provider,
        "owner": {"name": owner_name, "address": owner_address},
    }
