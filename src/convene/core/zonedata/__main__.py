"""Regenerate ``zones.tsv`` and ``aliases.tsv`` from a tz database folder (e.g. Debian's
``/usr/share/zoneinfo``, which holds ``zone.tab``, ``iso3166.tab`` and ``tzdata.zi``):

    python -m convene.core.zonedata /usr/share/zoneinfo
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _rows(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def generate(tzdb: Path) -> None:
    countries = dict((code, name) for code, name in _rows(tzdb / "iso3166.tab"))
    zones: dict[str, tuple[list[str], list[str]]] = {}
    for code, _coordinates, name, *comment in _rows(tzdb / "zone.tab"):
        names, comments = zones.setdefault(name, ([], []))
        names.append(countries[code])
        comments.extend(c for c in comment if c)
    compiled = (tzdb / "tzdata.zi").read_text(encoding="utf-8").splitlines()
    version = compiled[0].split()[-1]
    links: dict[str, str] = {}  # alias -> the zone it names ("L target alias" lines)
    for line in compiled:
        if line.startswith("L "):
            _, target, alias = line.split()
            links[alias] = target
    canonical = set(zones) | {"UTC"}
    aliases: dict[str, str] = {}
    for alias, target in links.items():
        while target not in canonical and target in links:
            target = links[target]
        if alias not in canonical and target in canonical:
            aliases[alias] = target
    (HERE / "zones.tsv").write_text(
        f"# Canonical IANA time zones: tzdata {version}, zone.tab (one zone per country region,\n"
        "# no legacy aliases), with the country names of iso3166.tab. Both files are in the\n"
        "# public domain (https://www.iana.org/time-zones). Columns: zone, countries, comment.\n"
        "# Regenerate with: python -m convene.core.zonedata /usr/share/zoneinfo\n"
        + "".join(
            f"{name}\t{', '.join(zones[name][0])}\t{'; '.join(zones[name][1])}\n"
            for name in sorted(zones)
        ),
        encoding="utf-8",
    )
    (HERE / "aliases.tsv").write_text(
        f"# Legacy and alias IANA names (tzdata {version}, the 'L' lines of tzdata.zi; public\n"
        "# domain) mapped to the canonical zone of zones.tsv they stand for, so a browser that\n"
        "# reports e.g. Asia/Calcutta preselects Asia/Kolkata. Columns: alias, canonical zone.\n"
        + "".join(f"{alias}\t{aliases[alias]}\n" for alias in sorted(aliases)),
        encoding="utf-8",
    )


if __name__ == "__main__":
    generate(Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/zoneinfo"))
