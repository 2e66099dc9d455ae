from django.urls import path

from convene.core import views

app_name = "core"

urlpatterns = [
    path("manage/settings/", views.site_settings, name="site_settings"),
    path("notices/", views.notice_list, name="notices"),
]
