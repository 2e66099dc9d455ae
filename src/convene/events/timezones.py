"""Turning the local date and time someone typed in an event's zone into one instant, and back.

Local times are not always instants: when clocks spring forward an hour of local times never
happens, and when they fall back an hour happens twice. Both are refused with a clear message
rather than silently guessed.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from functools import cache


class LocalTimeError(ValueError):
    """A local date and time that does not name exactly one instant in its zone."""


class NonExistentLocalTime(LocalTimeError):
    pass


class AmbiguousLocalTime(LocalTimeError):
    pass


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted, without legacy aliases like 'EST'."""
    return tuple(
        sorted(name for name in zoneinfo.available_timezones() if "/" in name or name == "UTC")
    )


def is_known_zone(name: str) -> bool:
    return name in zone_names()


def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def localize(naive: datetime, zone_name: str) -> datetime:
    """The aware datetime (in UTC) for a local wall-clock time in ``zone_name``."""
    if naive.tzinfo is not None:
        raise ValueError("localize() takes a naive local date and time")
    tz = zone(zone_name)
    earlier = naive.replace(tzinfo=tz, fold=0)
    later = naive.replace(tzinfo=tz, fold=1)
    round_trip = earlier.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != naive:
        raise NonExistentLocalTime(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {zone_name}: the clocks skip that time "
            "(daylight saving time starts). Choose a time outside the skipped hour."
        )
    if earlier.utcoffset() != later.utcoffset():
        raise AmbiguousLocalTime(
            f"{naive:%Y-%m-%d %H:%M} happens twice in {zone_name}: the clocks go back "
            "(daylight saving time ends). Choose a time outside the repeated hour."
        )
    return earlier.astimezone(UTC)


def to_local(instant: datetime, zone_name: str) -> datetime:
    """The aware datetime in the event's zone (its tzname() is the label, e.g. 'CEST')."""
    return instant.astimezone(zone(zone_name))
