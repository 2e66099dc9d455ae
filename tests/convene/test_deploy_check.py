"""Production settings: `manage.py check --deploy` finds nothing to fix, and the cookies that
carry the session and the CSRF secret are Secure, HttpOnly and SameSite=Lax."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.test import Client
from django.urls import reverse

from convene.accounts.models import User

REPOSITORY = Path(__file__).resolve().parents[2]


def production_environment(var_dir: Path) -> dict[str, str]:
    """The environment of a production deployment: only what an operator must set."""
    keep = {name: value for name, value in os.environ.items() if name not in IN_TEST_ONLY}
    return {
        **keep,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "convene.example.org",
        "CONVENE_SSL_REDIRECT": "1",
        "CONVENE_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "convene.settings",
    }


# Variables a developer's shell may have that would weaken production settings.
IN_TEST_ONLY = {"CONVENE_SECURE_COOKIES", "CONVENE_HSTS_SECONDS"}


def test_deploy_check_is_clean_with_production_settings(tmp_path: Path) -> None:
    production = production_environment(tmp_path)
    result = subprocess.run(
        [
            sys.executable,
            str(REPOSITORY / "manage.py"),
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
        ],
        env=production,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


COOKIE_SETTINGS = (
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SAMESITE",
)

READ_SETTINGS = f"""
import json, django
django.setup()
from django.conf import settings
print(json.dumps({{name: getattr(settings, name) for name in {COOKIE_SETTINGS!r}}}))
"""


def test_production_cookies_are_secure_http_only_and_same_site(
    tmp_path: Path, client: Client, settings: object, regular: User
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", READ_SETTINGS],
        env=production_environment(tmp_path),
        cwd=REPOSITORY / "src",
        capture_output=True,
        text=True,
        check=True,
    )
    production = json.loads(result.stdout)
    assert production == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": True,
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
    }
    # And the cookies a browser is given under those settings say so.
    for name, value in production.items():
        setattr(settings, name, value)
    page = client.get(reverse("accounts:login"), secure=True)
    signed_in = client.post(
        reverse("accounts:login"),
        {"username": regular.email, "password": "pw-for-tests"},
        secure=True,
    )
    assert signed_in.status_code == 302
    for cookie in (page.cookies["csrftoken"], signed_in.cookies["sessionid"]):
        assert cookie["secure"] is True, cookie
        assert cookie["httponly"] is True, cookie
        assert cookie["samesite"] == "Lax", cookie
