"""Time zone names as Outlook accepts them: Windows ids ("W. Europe Standard Time") and the IANA
ids Graph documents.

Graph's ``dateTimeTimeZone.timeZone`` takes "any of the time zones supported by Windows, as well
as" a fixed list of about a hundred IANA names (``api-reference/v1.0/resources/datetimetimezone.md``
in microsoftgraph/microsoft-graph-docs-contrib, read at commit 0a95e2c1). Any other name, such as
``Europe/Amsterdam``, is answered 400 ``TimeZoneNotSupportedException``
(microsoftgraph/microsoft-graph-docs#4758), so the emulator refuses it too.

Windows ids and the IANA zone each stands for come from CLDR's ``windowsZones.xml`` (territory
"001"), through ``tzlocal.windows_tz``, which generates its tables from that file.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz

from m365_emulator.errors import GraphError

# Windows id -> the IANA zone CLDR lists for it at territory "001".
WINDOWS_TO_IANA: dict[str, str] = dict(win_tz)

# The IANA names the dateTimeTimeZone page lists (facts from Microsoft's docs, CC BY 4.0).
# The page writes four of them with their older name in brackets ("Europe/Kyiv (Kiev)",
# "Asia/Toshkent (Tashkent)", "Asia/Astana (Almaty)", "Asia/Yangon (Rangoon)"); the names that
# exist in the IANA database are accepted ("Toshkent" and "Astana" are not IANA names).
DOCUMENTED_IANA: frozenset[str] = frozenset(
    [
        "Etc/GMT+12",
        "Etc/GMT+11",
        "Pacific/Honolulu",
        "America/Anchorage",
        "America/Santa_Isabel",
        "America/Los_Angeles",
        "America/Phoenix",
        "America/Chihuahua",
        "America/Denver",
        "America/Guatemala",
        "America/Chicago",
        "America/Mexico_City",
        "America/Regina",
        "America/Bogota",
        "America/New_York",
        "America/Indiana/Indianapolis",
        "America/Caracas",
        "America/Asuncion",
        "America/Halifax",
        "America/Cuiaba",
        "America/La_Paz",
        "America/Santiago",
        "America/St_Johns",
        "America/Sao_Paulo",
        "America/Argentina/Buenos_Aires",
        "America/Cayenne",
        "America/Godthab",
        "America/Montevideo",
        "America/Bahia",
        "Etc/GMT+2",
        "Atlantic/Azores",
        "Atlantic/Cape_Verde",
        "Africa/Casablanca",
        "Etc/GMT",
        "Europe/London",
        "Atlantic/Reykjavik",
        "Europe/Berlin",
        "Europe/Budapest",
        "Europe/Paris",
        "Europe/Warsaw",
        "Africa/Lagos",
        "Africa/Windhoek",
        "Europe/Bucharest",
        "Asia/Beirut",
        "Africa/Cairo",
        "Asia/Damascus",
        "Africa/Johannesburg",
        "Europe/Kyiv",
        "Europe/Kiev",
        "Europe/Istanbul",
        "Asia/Jerusalem",
        "Asia/Amman",
        "Asia/Baghdad",
        "Europe/Kaliningrad",
        "Asia/Riyadh",
        "Africa/Nairobi",
        "Asia/Tehran",
        "Asia/Dubai",
        "Asia/Baku",
        "Europe/Moscow",
        "Indian/Mauritius",
        "Asia/Tbilisi",
        "Asia/Yerevan",
        "Asia/Kabul",
        "Asia/Karachi",
        "Asia/Tashkent",
        "Asia/Kolkata",
        "Asia/Colombo",
        "Asia/Kathmandu",
        "Asia/Almaty",
        "Asia/Dhaka",
        "Asia/Yekaterinburg",
        "Asia/Yangon",
        "Asia/Rangoon",
        "Asia/Bangkok",
        "Asia/Novosibirsk",
        "Asia/Shanghai",
        "Asia/Krasnoyarsk",
        "Asia/Singapore",
        "Australia/Perth",
        "Asia/Taipei",
        "Asia/Ulaanbaatar",
        "Asia/Irkutsk",
        "Asia/Tokyo",
        "Asia/Seoul",
        "Australia/Adelaide",
        "Australia/Darwin",
        "Australia/Brisbane",
        "Australia/Sydney",
        "Pacific/Port_Moresby",
        "Australia/Hobart",
        "Asia/Yakutsk",
        "Pacific/Guadalcanal",
        "Asia/Vladivostok",
        "Pacific/Auckland",
        "Etc/GMT-12",
        "Pacific/Fiji",
        "Asia/Magadan",
        "Pacific/Tongatapu",
        "Pacific/Apia",
        "Pacific/Kiritimati",
    ]
)

_WINDOWS_BY_LOWER = {name.lower(): iana for name, iana in WINDOWS_TO_IANA.items()}
_DOCUMENTED_BY_LOWER = {name.lower(): name for name in DOCUMENTED_IANA}


class UnknownTimeZone(ValueError):
    """Neither a Windows nor an IANA time zone id."""


def not_supported(name: object) -> GraphError:
    """Graph's answer to a zone it does not take (microsoftgraph/microsoft-graph-docs#4758)."""
    return GraphError(
        400,
        "TimeZoneNotSupportedException",
        "A valid TimeZone value must be specified. The following TimeZone value is not "
        f"supported: '{name}'.",
    )


def is_supported(name: str) -> bool:
    """Whether Graph takes this name in a dateTimeTimeZone or ``Prefer: outlook.timezone``.

    Windows ids and the documented IANA names, compared without regard to case as Exchange
    compares time zone ids.
    """
    cleaned = name.strip().lower()
    return cleaned in _WINDOWS_BY_LOWER or cleaned in _DOCUMENTED_BY_LOWER


@cache
def zone(name: str) -> tzinfo:
    """The zone for a Windows or any IANA id (Windows ids are matched case-insensitively).

    Lenient on purpose: it reads what the emulator already holds; what a client may send is
    ``is_supported``'s question.
    """
    cleaned = name.strip()
    if cleaned.lower() in ("utc", "etc/utc", "gmt", "z"):
        return UTC
    iana = _WINDOWS_BY_LOWER.get(cleaned.lower()) or _DOCUMENTED_BY_LOWER.get(
        cleaned.lower(), cleaned
    )
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZone(name) from None


def is_known(name: str) -> bool:
    try:
        zone(name)
    except UnknownTimeZone:
        return False
    return True


def to_utc(local: datetime, zone_name: str) -> datetime:
    """A wall-clock time in ``zone_name`` as an aware UTC datetime."""
    return local.replace(tzinfo=zone(zone_name)).astimezone(UTC)


def from_utc(instant: datetime, zone_name: str) -> datetime:
    """An aware instant as naive wall-clock time in ``zone_name``."""
    return instant.astimezone(zone(zone_name)).replace(tzinfo=None)
