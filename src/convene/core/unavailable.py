"""When the database refuses a connection: a clear "try again" page, never a 500.

A refused connection (PostgreSQL's "too many clients", a pool that stays exhausted, a database
restarting) surfaces wherever the request first touches the database, often while reading the
session, and Django turns it into its 500 handler. That handler (``server_error``) looks at the
exception being handled: when the database is behind it, the person gets 503 with Retry-After
and a page that says nothing was saved. Nothing was: every change runs in one transaction
(``events.services``), and a transaction that never got a connection wrote nothing.

The page is rendered without the request's context processors, which would ask the database
(the signed-in person, notices) again.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.defaults import server_error as django_server_error

RETRY_AFTER_SECONDS = 10


def database_unavailable(error: BaseException | None) -> bool:
    """Whether the database is behind this exception (or one it was raised while handling)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OperationalError | InterfaceError):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler (``handler500``): 503 "try again" when the database is out of
    reach, Django's own 500 page otherwise."""
    if not database_unavailable(sys.exc_info()[1]):
        response: HttpResponse = django_server_error(request)
        return response
    return try_again()


def try_again() -> HttpResponse:
    page = render_to_string("core/try_again.html", {"retry_after": RETRY_AFTER_SECONDS})
    response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
