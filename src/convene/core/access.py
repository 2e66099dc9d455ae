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


def deny_unless(allowed: bool, reason: str = "") -> None:
    """403 unless ``allowed``; ``reason`` is what the 403 page tells the person (see
    ``convene.core.middleware``)."""
    if not allowed:
        raise PermissionDenied(reason)


def requires(check: Callable[[AnyUser], bool], reason: str = "") -> Callable[[View], View]:
    """Decorate a view: sign-in first, then ``check(request.user)`` or 403 saying ``reason``."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
            deny_unless(check(request.user), reason)
            return view(request, *args, **kwargs)

        return login_required(guarded)

    return decorate
