"""The ranges an event's values must stay within, checked before anything computes with them.

Python's dates end at year 9999 and the zone conversion of a time near either end overflows;
Outlook and the databases have their own limits. The validators raise Django's
``ValidationError`` so forms use them as field validators; ``services`` calls them too and turns
the error into an ``InvalidEvent``.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError

# Far enough either way for any real event; far from the ends of Python's calendar, so a
# conversion between zones can never overflow.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2999
# PositiveIntegerField's range on PostgreSQL (a 32-bit integer); SQLite allows more, so the
# smaller of the two holds everywhere.
MAX_CAPACITY = 2_147_483_647
TITLE_MAX_LENGTH = 200
LOCATION_MAX_LENGTH = 200
ONLINE_URL_MAX_LENGTH = 200


def validate_supported_year(moment: datetime) -> None:
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValidationError(
            f"Choose a date between the years {EARLIEST_YEAR} and {LATEST_YEAR}.",
            code="unsupported_year",
        )


def validate_capacity(capacity: int) -> None:
    if not 1 <= capacity <= MAX_CAPACITY:
        raise ValidationError(
            f"Capacity must be between 1 and {MAX_CAPACITY:,}, or empty for no limit.",
            code="capacity_range",
        )


def validate_length(value: str, limit: int) -> None:
    if len(value) > limit:
        raise ValidationError(
            f"Use at most {limit} characters (this has {len(value)}).", code="max_length"
        )
