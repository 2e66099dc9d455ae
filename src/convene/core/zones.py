"""The time zones a person can pick: the canonical IANA zones (one per country region, no legacy
aliases such as US/Pacific, Asia/Calcutta or Etc/GMT+1), grouped by region, each labelled with
its current offset, and a form field offering them (``ZoneChoiceField``).

The list is ``zonedata/zones.tsv``, derived from the tz database's ``zone.tab``; an alias a
browser may report (``Intl``: e.g. Asia/Calcutta) is mapped to its zone by ``canonical``.
"""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from django import forms
from django.utils import timezone

DATA = Path(__file__).resolve().parent / "zonedata"
UTC_NAME = "UTC"


@dataclass(frozen=True)
class Zone:
    name: str  # e.g. "America/Argentina/Buenos_Aires"
    countries: str  # e.g. "Argentina"
    comment: str  # zone.tab's note where a country has several zones, e.g. "Mountain (most areas)"

    @property
    def region(self) -> str:
        return self.name.split("/", 1)[0] if "/" in self.name else self.name

    @property
    def place(self) -> str:
        """E.g. "Argentina / Buenos Aires"."""
        return self.name.split("/", 1)[-1].replace("_", " ").replace("/", " / ")


def _rows(file_name: str) -> list[list[str]]:
    text = (DATA / file_name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@cache
def canonical_zones() -> tuple[Zone, ...]:
    """Every canonical zone this machine's zoneinfo also knows, sorted by name, UTC first."""
    known = zoneinfo.available_timezones()
    listed = [Zone(name, countries, comment) for name, countries, comment in _rows("zones.tsv")]
    return (
        Zone(UTC_NAME, "", "Coordinated Universal Time"),
        *(zone for zone in listed if zone.name in known),
    )


@cache
def _by_name() -> dict[str, Zone]:
    return {zone.name: zone for zone in canonical_zones()}


@cache
def aliases() -> dict[str, str]:
    """Alias name -> canonical zone name (e.g. "Asia/Calcutta" -> "Asia/Kolkata")."""
    return {alias: target for alias, target in _rows("aliases.tsv") if target in _by_name()}


def canonical(name: str) -> str | None:
    """The canonical zone ``name`` is or stands for; None when it is neither."""
    if name in _by_name():
        return name
    return aliases().get(name)


def offset_label(name: str, moment: datetime | None = None) -> str:
    """E.g. "UTC+01:00", the zone's offset at ``moment`` (now by default)."""
    offset = (moment or timezone.now()).astimezone(zoneinfo.ZoneInfo(name)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


Choices = list[tuple[str, Any]]


def grouped_choices(moment: datetime | None = None, extra: str = "") -> Choices:
    """Choices for a select: UTC, then one group per region, each option "Place (UTC+hh:mm)".
    ``extra`` (e.g. the legacy zone an existing event was saved in) is offered too."""
    moment = moment or datetime.now(UTC)
    groups: dict[str, list[tuple[str, str]]] = {}
    for zone in canonical_zones():
        label = zone.place if zone.name != UTC_NAME else UTC_NAME
        groups.setdefault(zone.region, []).append(
            (zone.name, f"{label} ({offset_label(zone.name, moment)})")
        )
    choices: Choices = []
    if extra and extra not in _by_name():
        choices.append((extra, f"{extra} ({offset_label(extra, moment)})"))
    choices.append((UTC_NAME, groups.pop(UTC_NAME)[0][1]))
    choices.extend((region, options) for region, options in groups.items())
    return choices


class ZoneSelect(forms.Select):
    """A select of zones; each option carries the words it is found by (countries, the zone
    name, its note), which ``core/zones.js`` searches."""

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option: dict[str, Any] = super().create_option(name, value, *args, **kwargs)
        zone = _by_name().get(str(value))
        if zone is not None:
            words = " ".join((zone.name.replace("_", " "), zone.countries, zone.comment))
            option["attrs"]["data-search"] = words.lower()
        return option


class ZoneChoiceField(forms.ChoiceField):
    """Pick one canonical zone (grouped, searchable, with offsets). ``prefer_browser`` asks
    ``core/zones.js`` to preselect the browser's own zone (for someone who has none saved)."""

    widget = ZoneSelect

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("choices", grouped_choices)
        super().__init__(*args, **kwargs)
        self.widget.attrs["data-zone-picker"] = ""
        self.widget.attrs["data-aliases"] = json.dumps(aliases(), separators=(",", ":"))

    def offer(self, extra: str) -> None:
        """Also offer ``extra`` (an existing event's legacy zone), so editing keeps it."""
        self.choices = grouped_choices(extra=extra)

    def prefer_browser(self) -> None:
        self.widget.attrs["data-prefer-browser-zone"] = ""
