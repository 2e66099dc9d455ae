"""Text that people type and Convene passes on (to pages, emails, Outlook): control characters
are refused where they can only do harm.

A line break in a one-line value (a title, a place, a name) turns into a new header line in an
email subject or an extra line in a calendar; a NUL is refused by PostgreSQL; bidirectional
overrides make a text read differently from what it is. Forms use these as field validators and
services call them too, so every way in says the same thing.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the bidirectional
# embedding/override/isolate marks.
_ONE_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# The same, less the line breaks and tab that plain-text descriptions keep.
_MULTILINE_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def refuse_control_characters(value: str) -> None:
    """For one-line values: no line breaks, tabs or other control characters."""
    if _ONE_LINE_FORBIDDEN.search(value):
        raise ValidationError(
            "Use plain text on one line: line breaks, tabs and control characters are not "
            "allowed here.",
            code="control_characters",
        )


def refuse_control_characters_except_line_breaks(value: str) -> None:
    """For plain-text paragraphs: line breaks and tabs are fine, other controls are not."""
    if _MULTILINE_FORBIDDEN.search(value):
        raise ValidationError(
            "Use plain text: control characters are not allowed here.",
            code="control_characters",
        )


def one_line(text: str) -> str:
    """``text`` with every control character turned into a space: for values that must be one
    line (an email subject) whatever was stored before these validators existed."""
    return " ".join(_ONE_LINE_FORBIDDEN.sub(" ", text).split())
