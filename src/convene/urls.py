from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Convene administration"
admin.site.site_title = "Convene admin"

# A database that refuses connections is a "try again" page (503), not a 500.
handler500 = "convene.core.unavailable.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("convene.accounts.urls")),
    path("", include("convene.core.urls")),
    path("", include("convene.operations.urls")),
    path("", include("convene.events.urls")),
    path("outlook/", include("convene.outlook.web.urls")),
]
