"""Turning ``convene.permissions`` answers into HTTP: anonymous people are sent to sign in,
signed-in people who may not are refused with 403."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from convene.permissions import AnyUser

P = ParamSpec("P")
View = Callable[..., HttpResponseBase]


def deny_unless(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def requires(check: Callable[[AnyUser], bool]) -> Callable[[View], View]:
    """Decorate a view: sign-in first, then ``check(request.user)`` or 403."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
            deny_unless(check(request.user))
            return view(request, *args, **kwargs)

        return login_required(guarded)

    return decorate
