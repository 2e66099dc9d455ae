from __future__ import annotations

from django.urls import path

from convene.outlook import views

app_name = "outlook"

urlpatterns = [
    path("", views.mine, name="mine"),
    path("connect/", views.connect, name="connect"),
    path("callback/", views.callback, name="callback"),
    path("disconnect/", views.disconnect, name="disconnect"),
    path("admin-consent/", views.admin_consent_done, name="admin_consent_done"),
    path("admin/", views.settings_page, name="settings"),
    path("admin/sync/", views.dashboard, name="dashboard"),
    path("admin/sync/<int:link_id>/retry/", views.retry, name="retry"),
]
