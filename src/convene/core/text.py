"""Words for counts, so pages and messages say "1 event" and "3 events", never "event(s)"."""

from __future__ import annotations


def counted(count: int, singular: str, plural: str = "") -> str:
    """E.g. ``counted(1, "event")`` -> "1 event"; ``counted(2, "copy", "copies")`` -> "2 copies"."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"
