from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Convene administration"
admin.site.site_title = "Convene admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("convene.accounts.urls")),
    path("", include("convene.core.urls")),
    path("", include("convene.operations.urls")),
    path("", include("convene.events.urls")),
    path("outlook/", include("convene.outlook.web.urls")),
]
