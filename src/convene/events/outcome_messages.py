"""How the events pages tell a person what their action did. The services say no with an
``EventError`` whose text is written for the person and which changed nothing; the page shows
that text as an error, or its own success message when the action went through."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.http import HttpRequest

from convene.events.errors import EventError

Done = TypeVar("Done")


def report_outcome(
    request: HttpRequest, action: Callable[[], Done], success: str | Callable[[Done], str]
) -> None:
    """Runs ``action`` and adds its message: the refusal's text, or ``success`` (a text, or a
    function of what the action returned)."""
    try:
        done = action()
    except EventError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, success if isinstance(success, str) else success(done))
