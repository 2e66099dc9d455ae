"""Reading ``application/x-www-form-urlencoded`` bodies (token requests and the sign-in forms).

Starlette's ``request.form()`` needs python-multipart; OAuth bodies are always URL-encoded, so
the standard library is enough.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

Form = dict[str, str]


async def read_form(request: Request) -> Form:
    body = (await request.body()).decode("utf-8", "replace")
    # The first value wins when a field repeats, like Starlette's FormData.get.
    form: Form = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        form.setdefault(name, value)
    return form
