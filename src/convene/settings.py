"""Django settings for Convene. Everything that differs between machines comes from the
environment (documented in README.md); the defaults are safe and need no set-up."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet

from convene.env import (
    database_config,
    database_pool_size,
    env_bool,
    env_list,
    huey_config,
    load_or_create_secret_key,
)
from convene.private_files import private_file, private_folder

# src/convene/settings.py -> the repository root.
BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = private_folder(Path(os.environ.get("CONVENE_VAR_DIR") or BASE_DIR / "var").resolve())

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = os.environ.get("SECRET_KEY") or load_or_create_secret_key(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])

# Cookies travel only over HTTPS unless DEBUG is on; CONVENE_SECURE_COOKIES=0 allows plain
# HTTP on a closed network without turning DEBUG on.
SECURE_COOKIES = env_bool("CONVENE_SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
# Pages carry the CSRF token themselves (forms, htmx's hx-headers); no script reads the cookie.
CSRF_COOKIE_HTTPONLY = True
# Lax, not Strict: the browser comes back from Microsoft's sign-in by a cross-site redirect, and
# the GET that finishes the sign-in needs the session cookie.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Served over HTTPS (the production default): browsers are told to keep to HTTPS
# (CONVENE_HSTS_SECONDS=0 while trying HTTPS out). Redirecting plain HTTP is usually the proxy's
# job; CONVENE_SSL_REDIRECT=1 makes Convene do it.
SECURE_SSL_REDIRECT = env_bool("CONVENE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = int(
    os.environ.get("CONVENE_HSTS_SECONDS", str(365 * 24 * 3600 if SECURE_COOKIES else 0))
)
# Whether HSTS also binds subdomains, or enters browsers' preload lists, is the domain owner's
# decision, not Convene's: off unless asked for, and not reported by `check --deploy`.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("CONVENE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("CONVENE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
if env_bool("CONVENE_BEHIND_HTTPS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "convene.core",
    "convene.accounts",
    "convene.events",
    "convene.outlook",
    "convene.operations",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "convene.core.headers.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "convene.core.middleware.PersonalTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "convene.core.middleware.RefusalPageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as Axes asks: it turns a sign-in refused for too many failures into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "convene.urls"
WSGI_APPLICATION = "convene.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.tz",
                "convene.core.context_processors.navigation",
            ],
        },
    },
]

# PostgreSQL: a connection pool per process, sized for what the process is (docs/outlook.md).
# Not in the test runner's own process: it plays web server, worker threads and webhook at once
# and its threads come and go with each test, which would strand pooled connections; the
# worker and web processes the tests start (manage.py ...) use their pools as in production.
DATABASES = {
    "default": database_config(
        os.environ.get("DATABASE_URL"),
        VAR_DIR,
        0 if "pytest" in sys.modules else database_pool_size(sys.argv),
    )
}
DATABASE_FILE = Path(str(DATABASES["default"]["NAME"]))
if DATABASE_FILE.parent == VAR_DIR:
    private_file(DATABASE_FILE)  # the default SQLite file: private before SQLite opens it
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "events:list"
LOGOUT_REDIRECT_URL = "accounts:login"
# Password guessing is limited (convene.accounts.throttling): Axes' backend comes first and
# refuses a sign-in while its account or address is locked out.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("CONVENE_SIGN_IN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(
    minutes=float(os.environ.get("CONVENE_SIGN_IN_LOCKOUT_MINUTES", "15"))
)
# Either one locks: one account from anywhere, or anything from one address.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "convene.accounts.throttling.username_of"
AXES_LOCKOUT_CALLABLE = "convene.accounts.throttling.locked_out"
AXES_RESET_ON_SUCCESS = True
# Each failure is kept (who, from where, when) for the admin, not only the running count.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Successful sign-ins are not Axes' business here: no table write per sign-in and sign-out.
AXES_DISABLE_ACCESS_LOG = True
# The address counted is REMOTE_ADDR: behind a proxy, have the server set it from the proxy's
# header (uvicorn --proxy-headers, gunicorn --forwarded-allow-ips), or everyone shares one.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Bootstrap and htmx come from npm and are served as Convene's own files: no CDN, so Convene
# works on a closed network.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    ("bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("htmx", NODE_MODULES / "htmx.org" / "dist"),
]

HUEY = huey_config(
    redis_url=os.environ.get("HUEY_REDIS_URL"),
    var_dir=VAR_DIR,
    immediate=env_bool("HUEY_IMMEDIATE", default=False),
)
if "filename" in HUEY["connection"]:
    private_file(Path(HUEY["connection"]["filename"]))

# --- Microsoft Outlook -------------------------------------------------------------------
# Where people reach Convene: links in emails sent from background work.
PUBLIC_URL = os.environ.get("CONVENE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

# The app registration in Microsoft Entra ID (see docs/outlook.md). `make run` points these at
# the bundled emulator; in production they come from the environment.
OUTLOOK = {
    "client_id": os.environ.get("OUTLOOK_CLIENT_ID", ""),
    "client_secret": os.environ.get("OUTLOOK_CLIENT_SECRET", ""),
    "client_certificate_path": os.environ.get("OUTLOOK_CLIENT_CERTIFICATE", ""),
    "authority_host": os.environ.get(
        "OUTLOOK_AUTHORITY_HOST", "https://login.microsoftonline.com"
    ).rstrip("/"),
    "tenant": os.environ.get("OUTLOOK_TENANT", "organizations"),
    "graph_url": os.environ.get("OUTLOOK_GRAPH_URL", "https://graph.microsoft.com/v1.0").rstrip(
        "/"
    ),
    "ca_bundle": os.environ.get("OUTLOOK_CA_BUNDLE") or None,
    "public_url": PUBLIC_URL,
    # The platform calendar's own registration (application permission); see docs/outlook.md.
    "platform_client_id": os.environ.get("OUTLOOK_PLATFORM_CLIENT_ID", ""),
    "platform_client_secret": os.environ.get("OUTLOOK_PLATFORM_CLIENT_SECRET", ""),
    "platform_client_certificate_path": os.environ.get("OUTLOOK_PLATFORM_CLIENT_CERTIFICATE", ""),
}
# Fernet keys for authorizations at rest, newest first; generated into var/ when unset.
OUTLOOK_TOKEN_KEYS = env_list("OUTLOOK_TOKEN_KEYS", default=[]) or [
    load_or_create_secret_key(
        VAR_DIR / "outlook_token_key", generate=lambda: Fernet.generate_key().decode()
    )
]
# How long a change waits for more changes to the same event before it is sent to Outlook.
OUTLOOK_COALESCE_SECONDS = float(os.environ.get("OUTLOOK_COALESCE_SECONDS", "1.0"))
# After this long, a sync (or a request slot, a claim on noted changes) held by a worker that
# died is taken over. A live worker renews what it holds every OUTLOOK_LEASE_RENEW_SECONDS.
OUTLOOK_LEASE_SECONDS = float(os.environ.get("OUTLOOK_LEASE_SECONDS", "6"))
OUTLOOK_LEASE_RENEW_SECONDS = float(
    os.environ.get("OUTLOOK_LEASE_RENEW_SECONDS", str(OUTLOOK_LEASE_SECONDS / 3))
)
# How often the sweep looks for work that fell behind (a lost task, a dead worker's leases).
OUTLOOK_SWEEP_SECONDS = float(os.environ.get("OUTLOOK_SWEEP_SECONDS", "2"))
# Recipients one service mailbox may send meeting messages to in 24 hours: Exchange Online's
# default, unless the tenant's outbound spam policy sets a lower RecipientLimitPerDay. The sync
# dashboard's forecast and the platform pool's spreading count against it.
OUTLOOK_RECIPIENTS_PER_DAY = int(os.environ.get("OUTLOOK_RECIPIENTS_PER_DAY", "10000"))
# After this long, a queued task that never started counts as lost and the sweep queues another.
OUTLOOK_QUEUE_PATIENCE_SECONDS = float(os.environ.get("OUTLOOK_QUEUE_PATIENCE_SECONDS", "120"))
# How long Convene waits for one answer from Microsoft Graph before trying again later.
OUTLOOK_HTTP_TIMEOUT_SECONDS = float(os.environ.get("OUTLOOK_HTTP_TIMEOUT_SECONDS", "30"))

# --- Operations (docs/operations.md) ----------------------------------------------------------
# /metrics answers a request with "Authorization: Bearer <token>", or from these addresses or
# networks (e.g. "10.0.0.5,192.168.0.0/24"); with neither set, nobody may read it.
CONVENE_METRICS_TOKEN = os.environ.get("CONVENE_METRICS_TOKEN", "")
CONVENE_METRICS_ALLOWED_ADDRESSES = env_list("CONVENE_METRICS_ALLOWED_ADDRESSES", default=[])
# How often each worker process writes its heartbeat; /readyz wants one within the stale time.
CONVENE_HEARTBEAT_SECONDS = float(os.environ.get("CONVENE_HEARTBEAT_SECONDS", "15"))
CONVENE_WORKER_STALE_SECONDS = float(os.environ.get("CONVENE_WORKER_STALE_SECONDS", "60"))
# The scheduler's periodic tasks run every minute; none for this long raises an admin alert.
CONVENE_PERIODIC_STALE_SECONDS = float(os.environ.get("CONVENE_PERIODIC_STALE_SECONDS", "180"))
# Audit log and finished jobs older than this are deleted every night, this many rows at a time.
CONVENE_RETENTION_DAYS = int(os.environ.get("CONVENE_RETENTION_DAYS", "90"))
CONVENE_RETENTION_BATCH = int(os.environ.get("CONVENE_RETENTION_BATCH", "5000"))
# Admin alerts: changes waiting longer than this for Outlook; Microsoft throttling longer than this.
CONVENE_ALERT_SYNC_LAG_SECONDS = float(os.environ.get("CONVENE_ALERT_SYNC_LAG_SECONDS", "300"))
CONVENE_ALERT_THROTTLED_SECONDS = float(os.environ.get("CONVENE_ALERT_THROTTLED_SECONDS", "600"))

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Convene <convene@localhost>")

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
# Routine lines of the libraries (every task run, every HTTP request, every token lookup) only
# when debugging; their problems always. Convene itself logs one line per sync at INFO.
ROUTINE_LEVEL = "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # With a handler of its own configured here, run_huey leaves the "huey" logger as it is
        # (it would otherwise add one at INFO: two lines per task run).
        "huey": {"handlers": ["console"], "level": ROUTINE_LEVEL, "propagate": False},
        "httpx": {"level": ROUTINE_LEVEL},
        "httpcore": {"level": ROUTINE_LEVEL},
        "msal": {"level": "WARNING"},  # never DEBUG: it would log token request bodies
        # Django's default configuration gives "django" a console handler of its own (with
        # DEBUG on); its records also reach the root handler, so each was printed twice.
        "django": {"handlers": [], "propagate": True},
        # Axes says INFO for every sign-in; lockouts and repeated failures are WARNINGs.
        "axes": {"level": "WARNING"},
    },
}
