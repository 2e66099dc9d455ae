"""Reading configuration from the environment.

Pure functions, so that settings parsing can be tested without reloading ``convene.settings``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import dj_database_url

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


class ConfigurationError(ValueError):
    """An environment variable holds a value Convene cannot use."""


def env_bool(name: str, default: bool, environ: Mapping[str, str] = os.environ) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigurationError(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")


def env_list(name: str, default: list[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


# Connections one web process may hold (PostgreSQL): its threads (ASGI runs Django's views on
# one, the webhook's views on a few more) and room for a burst.
WEB_POOL_SIZE = 10
# Connections a worker needs beyond one per thread: the lease renewer and Huey's scheduler.
WORKER_POOL_EXTRA = 2
# How long a request or task waits for a free pooled connection before it fails (503 page).
POOL_TIMEOUT_SECONDS = 10.0


def database_pool_size(argv: list[str], environ: Mapping[str, str] = os.environ) -> int:
    """The most PostgreSQL connections this process holds: ``DATABASE_POOL_SIZE`` when set;
    for a worker (``manage.py run_huey --workers N``) one per thread plus
    ``WORKER_POOL_EXTRA``; for the web process ``WEB_POOL_SIZE``."""
    raw = environ.get("DATABASE_POOL_SIZE")
    if raw:
        return _positive("DATABASE_POOL_SIZE", raw)
    if "run_huey" not in argv:
        return WEB_POOL_SIZE
    threads = 1  # Huey's default
    for number, word in enumerate(argv):
        if word in ("-w", "--workers") and number + 1 < len(argv):
            threads = _positive("run_huey --workers", argv[number + 1])
        elif word.startswith("--workers="):
            threads = _positive("run_huey --workers", word.partition("=")[2])
    return threads + WORKER_POOL_EXTRA


def _positive(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigurationError(f"{name} must be a whole number of at least 1; got {raw!r}")
    return value


def database_config(
    url: str | None, var_dir: Path, pool_size: int = WEB_POOL_SIZE
) -> dict[str, Any]:
    """Django's DATABASES['default'] from a DATABASE_URL; a SQLite file under var/ when unset.

    PostgreSQL connections come from a pool of at most ``pool_size`` per process (psycopg's
    pool, Django 5.1+): threads borrow one for a request or task and give it back, so a
    process never holds more than its size, whatever its threads do. ``pool_size`` 0: one
    connection per thread, no pool."""
    if not url:
        url = f"sqlite:///{var_dir / 'convene.sqlite3'}"
    try:
        config = dict(dj_database_url.parse(url, conn_max_age=60))
    except ValueError as error:
        raise ConfigurationError(
            f"DATABASE_URL is not a database URL Django knows: {error}"
        ) from error
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Persistent connections buy nothing for SQLite and keep the file open between tests.
        config["CONN_MAX_AGE"] = 0
        # Web, worker threads and worker processes write at once: WAL lets readers carry on,
        # IMMEDIATE transactions queue writers on the timeout instead of failing with "locked".
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        # Tests with worker threads need a real file, shared by every connection.
        config["TEST"] = {"NAME": str(var_dir / "test.sqlite3")}
    elif config["ENGINE"] == "django.db.backends.postgresql":
        config["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not as well
        if pool_size:
            config["OPTIONS"] = {
                "pool": {"min_size": 1, "max_size": pool_size, "timeout": POOL_TIMEOUT_SECONDS}
            }
    return config


def load_or_create_secret_key(
    path: Path, generate: Callable[[], str] = lambda: secrets.token_urlsafe(50)
) -> str:
    """The key stored at ``path``, creating it (readable by the owner only) on first use."""
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate()
    # Written whole under a name of its own, then linked into place: two processes starting
    # together (parallel test workers in a fresh clone) never both write different keys, and
    # neither ever reads the other's file half-written.
    fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key)
    try:
        os.link(fresh, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        fresh.unlink()
    return key


def huey_config(redis_url: str | None, var_dir: Path, immediate: bool) -> dict[str, Any]:
    """The HUEY setting for huey.contrib.djhuey: Redis when a URL is given, else a SQLite file."""
    if redis_url:
        return {
            "huey_class": "huey.RedisHuey",
            "name": "convene",
            "immediate": immediate,
            "connection": {"url": redis_url},
        }
    return {
        "huey_class": "huey.SqliteHuey",
        "name": "convene",
        "immediate": immediate,
        "connection": {"filename": str(var_dir / "huey.sqlite3")},
        # A SQLite queue is polled. Huey's default lets an idle worker thread back off to
        # one poll every 10 s, so a backfill or a burst waited seconds for threads to notice
        # it; at most 0.1 s costs four idle threads about 1% of one core (0.6% at 0.5 s).
        # (Redis is waited on, not polled.)
        "consumer": {"max_delay": SQLITE_QUEUE_MAX_POLL_SECONDS},
    }


SQLITE_QUEUE_MAX_POLL_SECONDS = 0.1
