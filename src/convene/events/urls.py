from django.urls import path

from convene.events import views

app_name = "events"

urlpatterns = [
    path("", views.event_list, name="list"),
    path("my-events/", views.my_events, name="mine"),
    path("events/new/", views.event_create, name="create"),
    path("events/drafts/discard/", views.discard_draft, name="discard_draft"),
    path("events/<int:pk>/", views.event_detail, name="detail"),
    path("events/<int:pk>/edit/", views.event_edit, name="edit"),
    path("events/<int:pk>/cancel/", views.event_cancel, name="cancel"),
    path("events/<int:pk>/enroll/", views.enroll, name="enroll"),
    path("events/<int:pk>/unenroll/", views.unenroll, name="unenroll"),
    path("events/<int:pk>/people/", views.people, name="people"),
    path("events/<int:pk>/people/<int:user_pk>/remove/", views.remove_person, name="remove_person"),
    path("events/<int:pk>/people/<int:user_pk>/role/", views.change_role, name="change_role"),
]
