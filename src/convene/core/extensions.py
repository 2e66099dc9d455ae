"""Extension points that later apps fill in from their ``AppConfig.ready()``.

The base never imports the apps that extend it: an app registers a menu entry, a panel, an
event form gate or what it adds to ``manage.py rundev``, and the base uses whatever is
registered. Registering the same thing twice is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponseBase

# Slots where apps may add a panel (a template rendered with the page's context).
PROFILE = "profile"
EVENT_DETAIL = "event_detail"
# Inside the create / edit form, after "When" (e.g. Outlook's double-booking warning).
EVENT_FORM = "event_form"
# Inside Manage people's "Add someone" form (e.g. whether the person is busy in Outlook then).
EVENT_PEOPLE = "event_people"
SLOTS = (PROFILE, EVENT_DETAIL, EVENT_FORM, EVENT_PEOPLE)

PanelContext = Callable[[HttpRequest, Mapping[str, Any]], Mapping[str, Any]]
# Asked before a valid event form is saved, with the request and the event being edited (None
# when creating). Returning a response (e.g. a redirect to an authorization page) stops the save
# and sends that response instead; None lets the save go ahead.
EventFormGate = Callable[[HttpRequest, Any], HttpResponseBase | None]
# Asked when an event form is shown (same arguments): a sentence to show beside its Save
# button (e.g. that saving first leads to Microsoft's sign-in), or None.
EventFormNote = Callable[[HttpRequest, Any], str | None]


@dataclass(frozen=True)
class MenuEntry:
    """A link in the Admin menu's "Calendar Integration" section."""

    label: str
    url_name: str


@dataclass(frozen=True)
class Panel:
    """A template included in a page slot. ``extra_context`` receives the request and the
    page's context and returns more variables for the template."""

    template_name: str
    extra_context: PanelContext | None = None


_calendar_integrations: dict[str, MenuEntry] = {}
_admin_links: dict[str, MenuEntry] = {}
_panels: dict[str, dict[str, Panel]] = {slot: {} for slot in SLOTS}
_event_form_gates: dict[str, EventFormGate] = {}
_event_form_notes: dict[str, EventFormNote] = {}


def register_calendar_integration(label: str, url_name: str) -> None:
    _calendar_integrations[url_name] = MenuEntry(label=label, url_name=url_name)


def calendar_integrations() -> list[MenuEntry]:
    return sorted(_calendar_integrations.values(), key=lambda entry: entry.label)


def register_admin_link(label: str, url_name: str) -> None:
    """A link in the Admin menu, beside "Users & roles" and "Site settings" (e.g. Alerts)."""
    _admin_links[url_name] = MenuEntry(label=label, url_name=url_name)


def admin_links() -> list[MenuEntry]:
    return sorted(_admin_links.values(), key=lambda entry: entry.label)


def register_panel(
    slot: str, template_name: str, extra_context: PanelContext | None = None
) -> None:
    if slot not in _panels:
        raise ValueError(f"Unknown panel slot {slot!r}; slots are {', '.join(SLOTS)}")
    _panels[slot][template_name] = Panel(template_name, extra_context)


def panels(slot: str) -> list[Panel]:
    return list(_panels[slot].values())


def register_event_form_gate(name: str, gate: EventFormGate) -> None:
    """See ``EventFormGate``. To bring the person back with what they typed, keep the form with
    ``convene.events.drafts.keep_draft`` and return them to the URL it gives."""
    _event_form_gates[name] = gate


def event_form_gates() -> list[EventFormGate]:
    return list(_event_form_gates.values())


def register_event_form_note(name: str, note: EventFormNote) -> None:
    """See ``EventFormNote``: a gate should say beforehand what saving will lead to."""
    _event_form_notes[name] = note


def event_form_notes() -> list[EventFormNote]:
    return list(_event_form_notes.values())


@dataclass(frozen=True)
class DevStart:
    """What ``manage.py rundev`` tells the apps about the development run it starts."""

    port: int  # Convene's web server, on 127.0.0.1
    var_dir: Path
    with_emulator: bool  # the bundled Microsoft 365 emulator is installed and will start
    emulator_api_port: int


@dataclass
class DevSetup:
    """What an app adds to a development run: environment for Convene's processes, a seed
    file for the emulator, lines to show once everything started."""

    env: dict[str, str] = field(default_factory=dict)
    emulator_seed: Path | None = None
    lines: list[str] = field(default_factory=list)


DevHook = Callable[[DevStart], DevSetup]

_dev_hooks: dict[str, DevHook] = {}


def register_dev_setup(name: str, hook: DevHook) -> None:
    """``hook`` runs when ``manage.py rundev`` starts, in the order apps registered."""
    _dev_hooks[name] = hook


def dev_setups() -> list[DevHook]:
    return list(_dev_hooks.values())


# --- operations: what an integration reports to the operator ---------------------------------
#
# ``convene.operations`` serves /metrics, raises admin alerts and prunes old rows; it knows no
# integration. Each integration registers what it can tell and what it keeps.

# Yields prometheus_client metric families (read from the database at scrape time, so every
# web process answers the same figures whichever process did the work).
MetricsCollector = Callable[[], Any]


@dataclass(frozen=True)
class AlertCondition:
    """Something an admin must act on, as long as it lasts. ``key`` identifies one occurrence
    (e.g. ``"outlook.subscription:ada@contoso.test"``): an alert is sent once per key until
    the condition clears. ``fix`` says what to do about it."""

    key: str
    title: str
    fix: str
    url: str = ""


# Returns the conditions that hold now; conditions it no longer returns are cleared.
AlertSource = Callable[[], list[AlertCondition]]
# Deletes up to ``batch`` rows older than the cutoff it is given; returns how many it deleted.
Pruner = Callable[[Any, int], int]

_metrics_collectors: dict[str, MetricsCollector] = {}
_alert_sources: dict[str, AlertSource] = {}
_pruners: dict[str, Pruner] = {}


def register_metrics(name: str, collector: MetricsCollector) -> None:
    _metrics_collectors[name] = collector


def metrics_collectors() -> list[MetricsCollector]:
    return list(_metrics_collectors.values())


def register_alert_source(name: str, source: AlertSource) -> None:
    """``name`` prefixes the keys of the conditions it returns (``name.``...)."""
    _alert_sources[name] = source


def alert_sources() -> dict[str, AlertSource]:
    return dict(_alert_sources)


def register_pruner(name: str, pruner: Pruner) -> None:
    _pruners[name] = pruner


def pruners() -> dict[str, Pruner]:
    return dict(_pruners)
