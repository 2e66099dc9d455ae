from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from convene.core import views

app_name = "core"

urlpatterns = [
    path("manage/settings/", views.site_settings, name="site_settings"),
    path("notices/", views.notice_list, name="notices"),
    # Browsers ask for /favicon.ico whatever the page says; send them to Convene's mark.
    path(
        "favicon.ico",
        RedirectView.as_view(url=static("core/convene-mark.svg")),
        name="favicon",
    ),
]
