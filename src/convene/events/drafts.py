"""Keeping what someone typed into an event form while they are sent elsewhere (e.g. to
authorize Outlook) and giving it back when they return to the form."""

from __future__ import annotations

import secrets

from django.http import HttpRequest, QueryDict

SESSION_KEY = "convene.event_form_drafts"
MAX_DRAFTS = 5  # per session: enough for a few tabs, small enough for a cookie-less session row
NOT_KEPT = frozenset({"csrfmiddlewaretoken"})


def keep_draft(request: HttpRequest) -> str:
    """Store the submitted form in the session; returns the URL of the same form that shows it
    again."""
    key = secrets.token_urlsafe(12)
    drafts: dict[str, dict[str, list[str]]] = request.session.get(SESSION_KEY, {})
    drafts[key] = {name: values for name, values in request.POST.lists() if name not in NOT_KEPT}
    while len(drafts) > MAX_DRAFTS:
        drafts.pop(next(iter(drafts)))
    request.session[SESSION_KEY] = drafts
    return f"{request.path}?draft={key}"


def take_draft(request: HttpRequest) -> QueryDict | None:
    """The draft named in ``?draft=``, removed from the session; None when there is none."""
    key = request.GET.get("draft")
    drafts: dict[str, dict[str, list[str]]] = request.session.get(SESSION_KEY, {})
    if not key or key not in drafts:
        return None
    stored = drafts.pop(key)
    request.session[SESSION_KEY] = drafts
    data = QueryDict(mutable=True)
    for name, values in stored.items():
        data.setlist(name, values)
    return data
