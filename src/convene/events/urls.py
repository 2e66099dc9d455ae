from django.urls import path

from convene.events import series_views, views, waitlist_views

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
    path("events/<int:pk>/waitlist/join/", waitlist_views.join, name="waitlist_join"),
    path("events/<int:pk>/waitlist/leave/", waitlist_views.leave, name="waitlist_leave"),
    path("events/<int:pk>/waitlist/claim/", waitlist_views.claim, name="waitlist_claim"),
    path("events/<int:pk>/waitlist/<int:user_pk>/move/", waitlist_views.move, name="waitlist_move"),
    path(
        "events/<int:pk>/waitlist/<int:user_pk>/promote/",
        waitlist_views.promote,
        name="waitlist_promote",
    ),
    path(
        "events/<int:pk>/waitlist/<int:user_pk>/remove/",
        waitlist_views.remove,
        name="waitlist_remove",
    ),
    path("events/<int:pk>/sessions/<str:on>/", series_views.session_edit, name="session"),
    path(
        "events/<int:pk>/sessions/<str:on>/cancel/",
        series_views.session_cancel,
        name="session_cancel",
    ),
    path(
        "events/<int:pk>/sessions/<str:on>/attendance/",
        series_views.session_attendance,
        name="session_attendance",
    ),
]
