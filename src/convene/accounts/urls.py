from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from convene.accounts import views
from convene.accounts.forms import SetPasswordForm, SignInForm

app_name = "accounts"

urlpatterns = [
    path(
        "accounts/sign-in/",
        auth_views.LoginView.as_view(
            template_name="accounts/sign_in.html",
            authentication_form=SignInForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("accounts/sign-out/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/set-password/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/set_password.html",
            form_class=SetPasswordForm,
            post_reset_login=True,
            # Choosing the password signs them in; axes' backend only checks, it cannot.
            post_reset_login_backend="django.contrib.auth.backends.ModelBackend",
            success_url=reverse_lazy("events:list"),
        ),
        name="set_password",
    ),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/time-zone/", views.adopt_time_zone, name="adopt_time_zone"),
    path("manage/users/", views.users, name="users"),
    path("manage/users/<int:pk>/role/", views.change_role, name="change_role"),
    path("manage/users/<int:pk>/active/", views.change_active, name="change_active"),
]
