"""Keeping what someone typed into an event form while they are sent elsewhere (e.g. to
authorize Outlook) and giving it back when they return to the form.

A draft stays in the person's session until the event is saved from it or they discard it, so
reloading the form (or coming back to it twice) shows it again."""

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


def draft_key(request: HttpRequest) -> str:
    """The draft the URL names (``?draft=``), if it is one of this session's; else ""."""
    key = request.GET.get("draft", "")
    return key if key and key in request.session.get(SESSION_KEY, {}) else ""


def read_draft(request: HttpRequest) -> QueryDict | None:
    """The draft named in ``?draft=`` (kept in the session); None when there is none."""
    key = draft_key(request)
    if not key:
        return None
    data = QueryDict(mutable=True)
    for name, values in request.session[SESSION_KEY][key].items():
        data.setlist(name, values)
    return data


def drop_draft(request: HttpRequest, key: str) -> None:
    """Forget a draft: its event was saved, or the person discarded it."""
    drafts: dict[str, dict[str, list[str]]] = request.session.get(SESSION_KEY, {})
    if drafts.pop(key, None) is not None:
        request.session[SESSION_KEY] = drafts
