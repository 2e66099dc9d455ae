"""Teams meetings as Graph describes them: which providers a calendar allows
(``calendar.allowedOnlineMeetingProviders``) and what an event's ``onlineMeeting``
(``onlineMeetingInfo``: joinUrl, conferenceId, tollNumber, tollFreeNumbers, quickDial) holds.
Pure: no database, no network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TEAMS = "teamsForBusiness"


@dataclass(frozen=True)
class JoinDetails:
    """How people join a Teams meeting: the link, and the dial-in when Outlook gave one."""

    join_url: str
    conference_id: str = ""
    toll_number: str = ""
    toll_free_number: str = ""
    quick_dial: str = ""


def allowed_providers(calendar: dict[str, Any]) -> list[str]:
    found = calendar.get("allowedOnlineMeetingProviders")
    return [str(p) for p in found] if isinstance(found, list) else []


def teams_allowed(calendar: dict[str, Any]) -> bool:
    return TEAMS in allowed_providers(calendar)


def join_details(event: dict[str, Any]) -> JoinDetails | None:
    """The Teams meeting of an event as Graph answered it; None when it has none (yet)."""
    info = event.get("onlineMeeting")
    if not isinstance(info, dict):
        return None
    url = info.get("joinUrl")
    if not isinstance(url, str) or not url.startswith("https://"):
        return None
    toll_free = info.get("tollFreeNumbers")
    return JoinDetails(
        join_url=url,
        conference_id=_text(info.get("conferenceId")),
        toll_number=_text(info.get("tollNumber")),
        toll_free_number=_text(toll_free[0]) if isinstance(toll_free, list) and toll_free else "",
        quick_dial=_text(info.get("quickDial")),
    )


def _text(value: Any) -> str:
    return value.strip()[:128] if isinstance(value, str) else ""
