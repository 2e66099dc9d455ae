from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from convene.accounts.forms import ProfileForm, RoleForm
from convene.accounts.models import Role, User
from convene.accounts.services import (
    ActivationRefused,
    RoleChangeRefused,
    UnknownTimeZone,
    adopt_browser_time_zone,
    set_active,
    set_role,
)
from convene.core.access import requires
from convene.permissions import can_manage_users


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})


@require_POST
@login_required
def adopt_time_zone(request: HttpRequest) -> HttpResponse:
    """The browser reports its zone (``core/zones.js``) for someone who has none saved yet."""
    assert isinstance(request.user, User)
    try:
        adopt_browser_time_zone(request.user, request.POST.get("time_zone", ""))
    except UnknownTimeZone as problem:
        return HttpResponse(str(problem), status=400, content_type="text/plain")
    return HttpResponse(status=204)


@requires(can_manage_users)
def users(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    people = User.objects.order_by("email")
    if query:
        people = people.filter(Q(email__icontains=query) | Q(display_name__icontains=query))
    page = Paginator(people, 25).get_page(request.GET.get("page"))
    return render(
        request, "accounts/users.html", {"page": page, "query": query, "roles": Role.choices}
    )


@require_POST
@requires(can_manage_users)
def change_role(request: HttpRequest, pk: int) -> HttpResponse:
    assert isinstance(request.user, User)
    person = get_object_or_404(User, pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles in the list.")
    else:
        try:
            set_role(person, Role(form.cleaned_data["role"]), actor=request.user)
        except RoleChangeRefused as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(request, f"{person.name} is now {person.get_role_display()}.")
    return redirect("accounts:users")


@require_POST
@requires(can_manage_users)
def change_active(request: HttpRequest, pk: int) -> HttpResponse:
    assert isinstance(request.user, User)
    person = get_object_or_404(User, pk=pk)
    wanted = request.POST.get("active")
    if wanted not in ("0", "1"):
        messages.error(request, "Choose to deactivate or reactivate.")
        return redirect("accounts:users")
    try:
        set_active(person, wanted == "1", actor=request.user)
    except ActivationRefused as refusal:
        messages.error(request, str(refusal))
    else:
        state = "active again" if person.is_active else "deactivated: they can no longer sign in"
        messages.success(request, f"{person.name} is {state}.")
    return redirect("accounts:users")
