"""Pages of the Outlook integration. Thin: they check who is asking and call services."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from convene import permissions
from convene.accounts.models import User
from convene.core.access import requires
from convene.core.models import SiteSettings
from convene.core.text import counted
from convene.events import series
from convene.events.drafts import keep_draft
from convene.operations.models import AdminAlert
from convene.outlook import services, tasks
from convene.outlook.inbound import reconcile
from convene.outlook.mailboxes import connections, pool
from convene.outlook.microsoft import crypto, identity
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import (
    CalendarLink,
    ConnectionStatus,
    LinkState,
    LogKind,
    MailAccess,
    Mode,
    OutlookConnection,
    OutlookSettings,
    RoomBooking,
    Subscription,
)
from convene.outlook.moves import handover
from convene.outlook.operations import self_repair
from convene.outlook.outbound import queueing
from convene.outlook.outbound import series as outbound_series
from convene.outlook.web import audit_log
from convene.outlook.web.forms import OutlookSettingsForm
from convene.outlook.web.platform_views import (
    forget_typed,
    is_platform_consent,
    platform_consent_done,
    switch_needing_review,
    typed_before_consent,
    without_destination,
)
from convene.outlook.web.settings_page import render_settings

# --- admin: settings and sync dashboard ---------------------------------------------------


@requires(permissions.is_site_admin)
def settings_page(request: HttpRequest) -> HttpResponse:
    outlook = OutlookSettings.load()
    missing = AppRegistration.from_settings().missing()
    initial = OutlookSettingsForm.initial_from(outlook, SiteSettings.load())
    if request.method == "POST":
        form = OutlookSettingsForm(request.POST, initial=initial, missing_configuration=missing)
        if form.is_valid():
            # A switch that moves events is shown to the admin before it happens.
            review = switch_needing_review(form.cleaned_data)
            values = form.cleaned_data
            if review is not None:
                values = without_destination(values)
            changes = services.change_settings(
                values, actor_id=_user(request).pk, track_all=tasks.track_all_events_task
            )
            forget_typed(request)
            for sentence in changes:
                messages.success(request, sentence)
            if review is not None:
                return redirect(review)
            if not changes:
                messages.info(request, "Nothing changed.")
            return redirect("outlook:settings")
    else:
        initial |= typed_before_consent(request)
        form = OutlookSettingsForm(initial=initial, missing_configuration=missing)
    return render_settings(request, form)


@requires(permissions.is_site_admin)
def dashboard(request: HttpRequest) -> HttpResponse:
    counts = dict(
        CalendarLink.objects.values_list("state").annotate(n=Count("pk")).order_by("state")
    )
    states = [(state, label, counts.get(state, 0)) for state, label in LinkState.choices]
    failing = (
        CalendarLink.objects.filter(state=LinkState.FAILING)
        .select_related("event")
        .order_by("next_attempt_at")[:50]
    )
    needing_authorization = OutlookConnection.objects.filter(
        status=ConnectionStatus.NEEDS_AUTHORIZATION
    ).select_related("user")
    filters = audit_log.LogFilters(
        kind=request.GET.get("kind", ""),
        event=request.GET.get("event", "").strip(),
        q=request.GET.get("q", "").strip()[:200],
    )
    page = audit_log.page(filters, request.GET.get("before", ""))
    outlook = OutlookSettings.load()
    return render(
        request,
        "outlook/dashboard.html",
        {
            "outlook": outlook,
            "sending": pool.forecast(outlook) if outlook.mode == Mode.PLATFORM else None,
            "waiting_for_sending": pool.waiting_links()[:50],
            "states": states,
            "failing": failing,
            "needing_authorization": needing_authorization,
            "leavers": handover.waiting(),
            "declined_rooms": RoomBooking.objects.filter(
                answer=RoomBooking.Answer.DECLINED, event__end__gte=timezone.now()
            ).select_related("event", "room")[:50],
            "undeleted_subscriptions": Subscription.objects.filter(
                state=Subscription.State.REMOVING
            ).order_by("expires_at"),
            "page": page,
            "filters": filters,
            "search_days": audit_log.SEARCH_DAYS,
            "log_kinds": LogKind.choices,
            "self_repairs": self_repair.summary(),
            "open_alerts": AdminAlert.objects.filter(cleared_at__isnull=True).count(),
            "series_counts": series.counts_of(outbound_series.linked_series()),
            "split_events": CalendarLink.objects.filter(overflow__isnull=False)
            .annotate(copies=Count("overflow", distinct=True))
            .select_related("event")
            .order_by("event__start")[:50],
        },
    )


@require_POST
@requires(permissions.is_site_admin)
def retry(request: HttpRequest, link_id: int) -> HttpResponse:
    link = get_object_or_404(CalendarLink, pk=link_id)
    services.retry(link, actor_id=_user(request).pk, enqueue=tasks.enqueue_sync)
    messages.success(request, f"“{link.event.title}” will be synced again now.")
    return redirect("outlook:dashboard")


@require_POST
@login_required
def publish_again(request: HttpRequest, event_id: int) -> HttpResponse:
    """The organizer puts an event deleted in Outlook back there (inviting everyone again)."""
    link = get_object_or_404(CalendarLink.objects.select_related("event"), event_id=event_id)
    if not permissions.can_manage_event(request.user, link.event):
        raise PermissionDenied
    if reconcile.publish_again(link, actor_id=_user(request).pk, enqueue=tasks.enqueue_sync):
        messages.success(request, f"“{link.event.title}” is being published to Outlook again.")
    else:
        messages.info(request, "This event does not need publishing again.")
    return redirect(link.event.get_absolute_url())


# --- organizers: connecting Outlook and seeing their events' sync -------------------------


@requires(permissions.can_create_events)
def connect(request: HttpRequest) -> HttpResponse:
    """Send the person to Microsoft's sign-in and consent page."""
    registration = AppRegistration.from_settings()
    if registration.missing():
        messages.error(request, "Outlook is not configured on this Convene yet; ask an admin.")
        return redirect("outlook:mine")
    return_to = safe_next(request, request.GET.get("next"), default=reverse("outlook:mine"))
    try:
        auth_uri = identity.start_sign_in(
            registration,
            request.session,
            user_id=_user(request).pk,
            redirect_uri=registration.absolute(reverse("outlook:callback")),
            return_to=return_to,
            login_hint=_user(request).email,
            # an admin reading their organization's rooms (Rooms page) also consents to
            # reading its places; nobody else is ever asked for it
            extra_scopes=(
                *(
                    identity.PLACES_SCOPES
                    if request.GET.get("scope") == "places"
                    and permissions.is_site_admin(_user(request))
                    else ()
                ),
                *(identity.MAIL_SCOPES if _asks_for_mail(request) else ()),
            ),
        )
    except Exception as exc:  # MSAL raises plain exceptions when discovery fails
        return _sign_in_problem(request, "unreachable", str(exc), return_to=return_to)
    return HttpResponseRedirect(auth_uri)


def _asks_for_mail(request: HttpRequest) -> bool:
    """Decline comments are wanted: a sign-in asks for Mail.Read too, unless the person
    already turned it down (then only when they ask for it: ``?scope=mail``)."""
    outlook = OutlookSettings.load()
    if not (outlook.syncs_organizer_calendars and outlook.show_decline_comments):
        return False
    if request.GET.get("scope") == "mail":
        return True
    connection = OutlookConnection.objects.filter(user=_user(request)).first()
    return connection is None or connection.mail_access != MailAccess.DECLINED


# What Microsoft posts back after sign-in (response_mode=form_post).
# What finishing a sign-in needs from Microsoft's answer, and how long each may be: the code and
# state for MSAL, the error fields for the problem page. Nothing else is kept.
CALLBACK_FIELDS = {"code": 3000, "state": 200, "error": 100, "error_description": 400}
CALLBACK_MAX_AGE_SECONDS = 600
CALLBACK_COOKIE = "convene_sign_in_answer"


@csrf_exempt  # Microsoft's page posts here; the state bound to the session is the CSRF check
def callback(request: HttpRequest) -> HttpResponse:
    """Microsoft sends the browser back here after sign-in and consent.

    It arrives as a cross-site POST, which carries no SameSite=Lax session cookie; so the
    answer is sealed (encrypted, time-limited) into a cookie for this page only, and the browser
    is sent to a GET of this same page, which carries the session. Only an answer to a sign-in
    Convene started (a state it signed, still recent) is sealed, and only the fields it needs;
    nothing sealed is in a URL (history, access logs).
    """
    if request.method == "POST":
        return _keep_answer(request)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    response = _finish_sign_in(request)
    response.delete_cookie(CALLBACK_COOKIE, path=reverse("outlook:callback"))
    return response


def _keep_answer(request: HttpRequest) -> HttpResponse:
    if not identity.is_recent_state(request.POST.get("state", "")):
        return _sign_in_problem(
            request, "state", "This answer is not for a sign-in Convene started."
        )
    if len(request.POST.get("code", "")) > CALLBACK_FIELDS["code"]:
        # A shortened code would not work: refuse rather than seal a cookie too big to keep.
        return _sign_in_problem(request, "state", "The answer from Microsoft was not readable.")
    answer = {
        name: request.POST[name][:limit]
        for name, limit in CALLBACK_FIELDS.items()
        if name in request.POST
    }
    response = HttpResponseRedirect(reverse("outlook:callback"))
    response.status_code = 303  # the browser follows with a GET
    response.set_cookie(
        CALLBACK_COOKIE,
        crypto.seal(json.dumps(answer)),
        max_age=CALLBACK_MAX_AGE_SECONDS,
        path=reverse("outlook:callback"),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def _finish_sign_in(request: HttpRequest) -> HttpResponse:
    registration = AppRegistration.from_settings()
    try:
        params = json.loads(
            crypto.unseal(
                request.COOKIES.get(CALLBACK_COOKIE, ""),
                max_age_seconds=CALLBACK_MAX_AGE_SECONDS,
            )
        )
    except (crypto.UndecryptableToken, ValueError):
        return _sign_in_problem(request, "state", "The answer from Microsoft was not readable.")
    try:
        signed_in = identity.finish_sign_in(
            registration, request.session, user_id=_user(request).pk, params=params
        )
    except identity.SignInError as exc:
        return_to = safe_next(request, exc.return_to, default="") if exc.return_to else ""
        if _mail_refused(request, exc):
            return _mail_problem(request, return_to)
        return _sign_in_problem(request, exc.reason, str(exc), return_to=return_to)
    connections.save_sign_in(_user(request).pk, signed_in)
    resumed = queueing.resume_owner(_user(request).pk, tasks.enqueue_sync)
    note = (
        f" {counted(resumed, 'waiting event')} {'is' if resumed == 1 else 'are'} on the way "
        "to Outlook."
        if resumed
        else ""
    )
    messages.success(request, f"Outlook connected as {signed_in.username}.{note}")
    return redirect(safe_next(request, signed_in.return_to, default=reverse("outlook:mine")))


@require_POST
@login_required
def disconnect(request: HttpRequest) -> HttpResponse:
    connections.disconnect(_user(request).pk)
    messages.success(
        request,
        "Outlook disconnected. Events already in your calendar stay there; "
        "changes will wait until you connect again.",
    )
    return redirect("accounts:profile")


@requires(permissions.can_create_events)
def mine(request: HttpRequest) -> HttpResponse:
    links = (
        CalendarLink.objects.filter(event__created_by=_user(request))
        .select_related("event")
        .order_by("event__start")
    )
    return render(
        request,
        "outlook/mine.html",
        {
            "outlook": OutlookSettings.load(),
            "connection": OutlookConnection.objects.filter(user=_user(request)).first(),
            "links": links,
        },
    )


def admin_consent_done(request: HttpRequest) -> HttpResponse:
    """Where Microsoft sends a tenant admin after they granted (or refused) Convene access."""
    if is_platform_consent(request):
        return platform_consent_done(request)
    granted = request.GET.get("admin_consent", "").lower() == "true" and "error" not in request.GET
    return render(
        request,
        "outlook/admin_consent_done.html",
        {"granted": granted, "error_codes": microsoft_error_codes(request)},
        status=200 if granted else 400,
    )


def microsoft_error_codes(request: HttpRequest) -> str:
    """The error codes of Microsoft's answer (``access_denied``, ``AADSTS65004``), never its
    free text: anyone can make a link to this page, and words shown on Convene's own domain
    ("call this number to finish") would be believed."""
    codes = re.findall(r"\bAADSTS\d{4,6}\b", request.GET.get("error_description", ""))[:3]
    error = request.GET.get("error", "")
    if re.fullmatch(r"[a-z_]{1,40}", error):
        codes.insert(0, error)
    return ", ".join(codes)


def _mail_refused(request: HttpRequest, exc: identity.SignInError) -> bool:
    """A sign-in that asked for mail access too was turned down by someone whose calendar is
    connected already: only the mail access was refused. Convene does not ask again."""
    if exc.reason not in ("cancelled", "consent") or not any(
        scope in exc.scopes for scope in identity.MAIL_SCOPES
    ):
        return False
    if connections.usable_connection(_user(request).pk) is None:
        return False
    connections.mail_refused(_user(request).pk)
    return True


def _mail_problem(request: HttpRequest, return_to: str) -> HttpResponse:
    messages.info(
        request,
        "Convene will not read your mail: decline comments from your events' attendees will "
        "not be shown here (you still see them in your Outlook inbox). Your calendar stays "
        "connected.",
    )
    return redirect(return_to or reverse("outlook:mine"))


def _must_connect_first(request: HttpRequest, event: Any) -> bool:
    """In organizer mode, an event is saved into its creator's Outlook calendar: its creator
    needs a working connection before saving it, and, while decline comments are wanted, one
    that may read their mail (asked once: someone who refused is not asked again)."""
    outlook = OutlookSettings.load()
    if not outlook.syncs_organizer_calendars:
        return False
    user = _user(request)
    creator_id = event.created_by_id if event is not None else user.pk
    if creator_id != user.pk:
        return False
    connection = connections.usable_connection(user.pk)
    if connection is None:
        return True
    return outlook.show_decline_comments and connection.mail_access == MailAccess.MISSING


def connect_before_saving(request: HttpRequest, event: Any) -> HttpResponseBase | None:
    """Event form gate: a creator without a working connection first signs in with Microsoft
    and is then brought back to the form with what they typed (the form said so beside its
    Save button, see ``saving_leads_to_microsoft``)."""
    if not _must_connect_first(request, event):
        return None
    form_again = keep_draft(request)
    return HttpResponseRedirect(f"{reverse('outlook:connect')}?{urlencode({'next': form_again})}")


def saving_leads_to_microsoft(request: HttpRequest, event: Any) -> str | None:
    """Event form note: what saving will do, said before it happens."""
    if not _must_connect_first(request, event):
        return None
    if connections.usable_connection(_user(request).pk) is not None:
        return (
            "Convene now shows the comments people give when they decline your events: saving "
            "takes you to Microsoft once to allow Convene to read them in your mail "
            "(Mail.Read), then back here with everything you typed, ready to save."
        )
    return (
        "This event goes into your Outlook calendar: saving takes you to Microsoft to sign in "
        "once, then back here with everything you typed, ready to save."
    )


# --- helpers ------------------------------------------------------------------------------

SIGN_IN_PROBLEMS = {
    # access_denied (AADSTS65004): the person cancelled, or their organization does not let
    # users approve apps and Microsoft showed "Need admin approval", whose only way back is
    # "Return to the application without granting consent". Both answers are the same, and for
    # most organizations the second is the common one, so the page explains both.
    "cancelled": (
        "Microsoft did not give Convene access to your calendar",
        "If Microsoft said “Need admin approval”, your organization only lets its "
        "administrators approve apps: send your IT administrator the message below (it holds "
        "the link they need) and connect again once they have approved Convene. If you "
        "cancelled yourself, nothing was changed: try again whenever you are ready.",
    ),
    "consent": (
        "Your organization must enable Convene first",
        "Your Microsoft 365 tenant only lets administrators grant apps access to calendars. "
        "Ask your IT administrator to enable Convene for your organization with the link "
        "below, then connect again.",
    ),
    "state": (
        "That sign-in link cannot be used",
        "The answer from Microsoft did not belong to a sign-in you started here (it was "
        "used already, it expired, or it came from another account). Nothing was stored. "
        "Start again from Convene.",
    ),
    "unreachable": (
        "Microsoft could not be reached",
        "Convene could not talk to Microsoft's sign-in service. Nothing was changed. "
        "Try again in a few minutes.",
    ),
    "failed": (
        "Microsoft did not complete the sign-in",
        "Nothing was stored. Try again; if it keeps happening, show your admin the details below.",
    ),
}


def _sign_in_problem(
    request: HttpRequest, reason: str, detail: str, *, return_to: str = ""
) -> HttpResponse:
    """The page of a sign-in that did not complete. Its "Try again" starts a new sign-in that
    ends where the failed one would have (``return_to``, e.g. the event form with its draft),
    and its way back leads there too."""
    title, explanation = SIGN_IN_PROBLEMS.get(reason, SIGN_IN_PROBLEMS["failed"])
    try_again = reverse("outlook:connect")
    if return_to:
        try_again += "?" + urlencode({"next": return_to})
    context: dict[str, Any] = {
        "title": title,
        "explanation": explanation,
        "detail": detail,
        "try_again_url": try_again,
        "return_to": return_to,
        "back_to_form": "draft=" in return_to,
    }
    if reason in ("consent", "cancelled"):
        registration = AppRegistration.from_settings()
        # The registration's own tenant setting: "organizations" for a multi-tenant one (the
        # admin's sign-in picks their organization), the tenant itself for a single-tenant one.
        outlook = OutlookSettings.load()
        mail = outlook.show_decline_comments and outlook.syncs_organizer_calendars
        link = identity.admin_consent_page(
            registration,
            registration.tenant,
            registration.absolute(reverse("outlook:admin_consent_done")),
            secrets.token_urlsafe(16),
            extra_scopes=identity.MAIL_SCOPES if mail else (),
        )
        context["admin_consent_url"] = link
        context["admin_message"] = ADMIN_MESSAGE.format(
            site=registration.public_url, link=link, mail=MAIL_SENTENCE if mail else ""
        )
    return render(request, "outlook/sign_in_problem.html", context, status=400)


# What an organizer sends their IT administrator when their organization does not let users
# approve apps: what Convene is, exactly what it asks for, who can approve, and the link.
ADMIN_MESSAGE = """Hello,

I would like to connect my Outlook calendar to Convene ({site}), but our Microsoft 365 \
organization requires an administrator to approve the app first ("Need admin approval").

Convene asks only for delegated permissions: Calendars.ReadWrite (the calendar of each person \
who connects it, and no one else's), User.Read, offline_access, openid and profile.{mail} It \
asks for no application permission.

To approve it for our organization, please open this link and sign in as a Cloud Application \
Administrator, Application Administrator or Global Administrator:

{link}

Thank you!"""


MAIL_SENTENCE = (
    " Our Convene also shows the comments attendees give when they decline, which Outlook "
    "delivers only as a message to the organizer: for that it asks for Mail.Read (the mail "
    "of each person who connects it)."
)


def _user(request: HttpRequest) -> User:
    # Every view here requires a signed-in person; the decorators have checked it.
    assert isinstance(request.user, User)
    return request.user


def safe_next(request: HttpRequest, candidate: str | None, *, default: str) -> str:
    """``candidate`` if it is a path on this Convene, else ``default``: no open redirects."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default
