"""Configuration from environment variables."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from convene.env import (
    WEB_POOL_SIZE,
    ConfigurationError,
    database_config,
    database_pool_size,
    env_bool,
    env_list,
    huey_config,
    load_or_create_secret_key,
)

REPO = Path(__file__).resolve().parents[2]


def test_database_defaults_to_a_sqlite_file_in_the_var_dir(tmp_path):
    config = database_config(None, tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "convene.sqlite3")


def test_database_url_for_postgresql_is_parsed():
    config = database_config("postgres://convene:secret@db.internal:5433/convene", Path("/x"))
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "convene")
    assert (config["USER"], config["PASSWORD"]) == ("convene", "secret")


def test_database_url_with_an_unknown_scheme_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        database_config("nosuchdb://somewhere/x", Path("/x"))


def test_secret_key_is_generated_once_and_kept_private(tmp_path):
    path = tmp_path / "var" / "secret_key"
    first = load_or_create_secret_key(path)
    assert len(first) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret_key(path) == first


def test_an_existing_secret_key_file_is_used(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("kept-from-before\n")
    assert load_or_create_secret_key(path) == "kept-from-before"


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("yes", True), ("off", False), ("", False)]
)
def test_env_bool_reads_common_words(raw, expected):
    assert env_bool("FLAG", default=not expected, environ={"FLAG": raw}) is expected


def test_env_bool_uses_the_default_when_unset():
    assert env_bool("FLAG", default=True, environ={}) is True


def test_env_bool_rejects_anything_else():
    with pytest.raises(ConfigurationError, match="FLAG"):
        env_bool("FLAG", default=False, environ={"FLAG": "maybe"})


def test_env_list_splits_on_commas():
    assert env_list("HOSTS", [], {"HOSTS": "a.test, b.test,,"}) == ["a.test", "b.test"]


def test_huey_uses_sqlite_under_var_by_default(tmp_path):
    config = huey_config(None, tmp_path, immediate=False)
    assert config["huey_class"] == "huey.SqliteHuey"
    assert config["connection"] == {"filename": str(tmp_path / "huey.sqlite3")}
    assert config["immediate"] is False
    # Idle worker threads poll the SQLite queue at least every half second.
    assert config["consumer"] == {"max_delay": 0.1}


def test_huey_uses_redis_when_a_url_is_given(tmp_path):
    config = huey_config("redis://cache:6379/2", tmp_path, immediate=False)
    assert config["huey_class"] == "huey.RedisHuey"
    assert config["connection"] == {"url": "redis://cache:6379/2"}
    assert "consumer" not in config  # Redis is waited on (blocking pop), not polled


PROBE = """
import json
from django.conf import settings
print(json.dumps({
    "debug": settings.DEBUG,
    "secret_key": settings.SECRET_KEY,
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "secure_cookies": settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE,
    "huey": settings.HUEY["huey_class"],
    "hosts": settings.ALLOWED_HOSTS,
    "time_zone": settings.TIME_ZONE,
}))
"""


def probe_settings(var_dir: Path, **env: str) -> dict[str, object]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "DEBUG"}
    }
    output = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "convene.settings",
            "CONVENE_VAR_DIR": str(var_dir),
            **env,
        },
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    return json.loads(output)


def test_settings_default_to_safe_values_in_the_var_dir(tmp_path):
    found = probe_settings(tmp_path)
    assert found["debug"] is False
    assert found["secure_cookies"] is True
    assert found["db_name"] == str(tmp_path / "convene.sqlite3")
    assert found["secret_key"] == (tmp_path / "secret_key").read_text()
    assert found["huey"] == "huey.SqliteHuey"
    assert found["time_zone"] == "UTC"


def test_settings_follow_the_environment(tmp_path):
    found = probe_settings(
        tmp_path,
        DEBUG="1",
        SECRET_KEY="from-env",
        ALLOWED_HOSTS="convene.example.org",
        TIME_ZONE="Europe/Berlin",
        HUEY_REDIS_URL="redis://localhost:6379/0",
    )
    assert found["debug"] is True
    assert found["secure_cookies"] is False
    assert found["secret_key"] == "from-env"
    assert not (tmp_path / "secret_key").exists()
    assert found["hosts"] == ["convene.example.org"]
    assert found["time_zone"] == "Europe/Berlin"
    assert found["huey"] == "huey.RedisHuey"


def test_a_key_another_process_put_in_place_first_wins_and_no_temporary_file_stays(
    tmp_path, monkeypatch
):
    path = tmp_path / "secret_key"
    link = os.link

    def another_process_first(source, destination):
        Path(destination).write_text("theirs")
        return link(source, destination)

    monkeypatch.setattr(os, "link", another_process_first)
    assert load_or_create_secret_key(path) == "theirs"
    assert list(tmp_path.iterdir()) == [path]


def test_postgresql_connections_come_from_a_pool_of_the_given_size():
    config = database_config("postgres://convene@db.internal/convene", Path("/x"), 18)
    assert config["CONN_MAX_AGE"] == 0
    assert config["OPTIONS"]["pool"]["max_size"] == 18


@pytest.mark.parametrize(
    ("argv", "size"),
    [
        (["manage.py", "run_huey", "--workers", "16"], 18),
        (["manage.py", "run_huey", "-w", "4"], 6),
        (["manage.py", "run_huey", "--workers=8"], 10),
        (["manage.py", "run_huey"], 3),
        (["uvicorn", "convene.asgi:application"], WEB_POOL_SIZE),
    ],
)
def test_the_pool_is_sized_for_the_process(argv, size):
    assert database_pool_size(argv, {}) == size


def test_the_pool_size_can_be_set_and_must_be_a_positive_number():
    assert database_pool_size(["manage.py", "run_huey"], {"DATABASE_POOL_SIZE": "5"}) == 5
    with pytest.raises(ConfigurationError, match="DATABASE_POOL_SIZE"):
        database_pool_size([], {"DATABASE_POOL_SIZE": "none"})
