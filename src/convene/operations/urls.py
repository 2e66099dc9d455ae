from __future__ import annotations

from django.urls import path

from convene.operations import health, metrics, views

app_name = "operations"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("manage/alerts/", views.alert_list, name="alerts"),
]
