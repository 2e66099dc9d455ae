"""Rooms: the admin's list of the tenant's rooms (which ones Convene offers) and an organizer's
choice of room for an event. Thin: they check who is asking and call ``convene.outlook.rooms``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from convene import permissions
from convene.accounts.models import User
from convene.core.access import requires
from convene.events.errors import EventError
from convene.events.models import Event
from convene.outlook import rooms, tasks
from convene.outlook.mailboxes import connections, platform
from convene.outlook.microsoft.errors import MicrosoftError
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import OutlookSettings, Room


@requires(permissions.is_site_admin)
def rooms_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if request.method == "POST":
        if "read_mine" in request.POST:
            return _read_rooms_as_admin(request, user)
        if "read" in request.POST:
            _read_rooms(request)
        else:
            chosen = [int(v) for v in request.POST.getlist("offered") if v.isdigit()]
            rooms.offer(chosen, actor_id=user.pk)
            messages.success(request, f"Convene now offers {len(chosen)} room(s) to organizers.")
        return redirect("outlook:rooms")
    return render(
        request,
        "outlook/rooms.html",
        {"rooms": Room.objects.filter(listed=True), "outlook": OutlookSettings.load()},
    )


def _read_rooms(request: HttpRequest) -> None:
    outlook = OutlookSettings.load()
    if not outlook.service_mailbox:
        messages.error(
            request,
            "Rooms are read with Convene's application access to the platform tenant: set the "
            "service mailbox (and tenant) on the Outlook settings page first.",
        )
        return
    mailbox = outlook.service_mailbox.lower()
    client = platform.client(
        AppRegistration.from_settings().for_platform(),
        mailbox,
        platform.tenant_for(mailbox, outlook),
    )
    try:
        count = rooms.read_tenant_rooms(client)
    except MicrosoftError as exc:
        messages.error(
            request,
            f"Microsoft 365 did not list the rooms: {exc}. Convene needs the application "
            "permission Place.Read.All (see docs/outlook.md).",
        )
        return
    messages.success(request, f"Read {count} room(s) from Microsoft 365.")


def _read_rooms_as_admin(request: HttpRequest, user: User) -> HttpResponse:
    """Organizer mode: the rooms of the admin's own tenant (the organizers'), read through
    their own Outlook authorization with the delegated Place.Read.All. Without it yet, the
    admin is sent through Microsoft's sign-in to consent to it, and back here."""
    registration = AppRegistration.from_settings()
    connection = connections.usable_connection(user.pk)
    sign_in = (
        f"{reverse('outlook:connect')}?"
        f"{urlencode({'scope': 'places', 'next': reverse('outlook:rooms')})}"
    )
    if connection is None:
        messages.info(
            request,
            "Connect your Outlook to read your organization's rooms (Convene asks for "
            "permission to read its places); then press Read again.",
        )
        return redirect(sign_in)
    try:
        count = rooms.read_tenant_rooms(connections.places_client(registration, connection))
    except connections.PlacesNotConsented:
        messages.info(
            request,
            "Reading your organization's rooms needs your consent to Place.Read.All (an Entra "
            "admin may have to grant it for the organization); then press Read again.",
        )
        return redirect(sign_in)
    except MicrosoftError as exc:
        messages.error(
            request,
            f"Microsoft 365 did not list the rooms: {exc}. Reading them needs the delegated "
            "permission Place.Read.All (see docs/outlook.md).",
        )
        return redirect("outlook:rooms")
    messages.success(
        request, f"Read {count} room(s) from your organization ({connection.account_username})."
    )
    return redirect("outlook:rooms")


@require_POST
@login_required
def choose_room(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_or_404(Event, pk=event_id)
    user = request.user
    assert isinstance(user, User)
    if not permissions.can_edit_event(user, event):
        raise PermissionDenied
    raw = request.POST.get("room", "")
    room = get_object_or_404(Room, pk=int(raw)) if raw.isdigit() else None
    try:
        rooms.book(
            event,
            room,
            actor=user,
            use_capacity=request.POST.get("use_capacity") == "on",
            enqueue=tasks.enqueue_sync,
        )
    except EventError as exc:
        messages.error(request, str(exc))
    else:
        if room is None:
            messages.success(request, "The event has no room now.")
        else:
            messages.success(request, f"{room.name} is invited; its answer shows here.")
    return redirect(event.get_absolute_url())
