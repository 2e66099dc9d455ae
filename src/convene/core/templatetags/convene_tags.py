"""Template helpers for the shared layout."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import template
from django.forms import BoundField, Form
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from convene.core.extensions import panels

register = template.Library()


@register.simple_tag(takes_context=True)
def render_panels(context: template.Context, slot: str) -> SafeString:
    """Every panel registered for ``slot`` (see ``convene.core.extensions``), in order."""
    request = context.get("request")
    assert context.template is not None and isinstance(request, HttpRequest)
    engine = context.template.engine
    rendered: list[str] = []
    for panel in panels(slot):
        page = {str(key): value for key, value in context.flatten().items()}
        extra = dict(panel.extra_context(request, page)) if panel.extra_context else {}
        panel_template = engine.get_template(panel.template_name)
        with context.push(**extra):
            rendered.append(panel_template.render(context))
    # Each piece is the output of a template, escaped by its own autoescaping.
    return mark_safe("\n".join(rendered))  # noqa: S308


@register.filter
def fields_with_errors(form: Form) -> list[BoundField]:
    """The visible fields of ``form`` that were refused, in the form's order."""
    return [field for field in form.visible_fields() if field.errors]


def _zoned(moment: datetime | None, zone: str, time_format: str) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(zone) if zone else timezone.get_current_timezone())
    return f"{format_date(local, 'j M')}, {local.strftime(time_format)} {local.tzname()}"


@register.filter
def zoned(moment: datetime | None, zone: str = "") -> str:
    """E.g. "30 Nov, 14:05 CET": ``moment`` in ``zone`` (an IANA name; empty: the server's
    zone), labelled like every other time Convene shows, so nobody has to guess the zone."""
    return _zoned(moment, zone, "%H:%M")


@register.filter
def zoned_seconds(moment: datetime | None, zone: str = "") -> str:
    """Like ``zoned``, to the second (audit log, next attempts)."""
    return _zoned(moment, zone, "%H:%M:%S")


@register.filter
def email_breaks(address: str) -> SafeString:
    """The address, escaped, in a span that may wrap only before "@" and dots (``<wbr>``), so
    a narrow screen never splits it mid-word."""
    escaped = str(escape(address)).replace("@", "<wbr>@").replace(".", "<wbr>.")
    # Built from the escaped address and a fixed tag only.
    return mark_safe(f'<span class="email-address">{escaped}</span>')  # noqa: S308
