from __future__ import annotations

from django.urls import path

from convene.outlook.inbound import webhook
from convene.outlook.web import free_busy_views, handover_views, platform_views, room_views, views

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
    path("admin/test-connection/", platform_views.test_connection, name="test_connection"),
    path("admin/consent/", platform_views.start_admin_consent, name="platform_consent"),
    path("admin/mode-switch/", platform_views.mode_switch, name="mode_switch"),
    path("admin/handover/<int:user_id>/", handover_views.handover_page, name="handover"),
    path("admin/jobs/<int:job_id>/", platform_views.job_page, name="job"),
    path("admin/jobs/<int:job_id>/resume/", platform_views.resume_job, name="resume_job"),
    path("admin/rooms/", room_views.rooms_page, name="rooms"),
    path("events/<int:event_id>/room/", room_views.choose_room, name="choose_room"),
    path("free-busy/", free_busy_views.free_busy_warning, name="free_busy"),
    path("events/<int:event_id>/my-free-busy/", free_busy_views.my_free_busy, name="my_free_busy"),
    path(
        "events/<int:event_id>/people-free-busy/",
        free_busy_views.people_free_busy,
        name="people_free_busy",
    ),
    path("webhook/", webhook.notifications, name="webhook"),
    path("webhook/lifecycle/", webhook.lifecycle, name="webhook_lifecycle"),
    path("events/<int:event_id>/publish-again/", views.publish_again, name="publish_again"),
]
