"""Checks Django runs at start-up (runserver, migrate, ``manage.py check``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from convene.private_files import sqlite_companions, wider_than_private


def convene_files() -> list[Path]:
    """What Convene keeps under var/: the folder, databases and their companions, keys, the
    emulator's data folder and what is in it."""
    var_dir = Path(settings.VAR_DIR)
    paths = [var_dir, var_dir / "secret_key", var_dir / "outlook_token_key"]
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        paths += sqlite_companions(Path(database["NAME"]))
    filename = settings.HUEY.get("connection", {}).get("filename")
    if filename:
        paths += sqlite_companions(Path(filename))
    emulator = var_dir / "emulator"
    if emulator.is_dir():
        paths += [emulator, *sorted(emulator.iterdir())]
    return paths


@register(Tags.security)
def files_are_private(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [
        Warning(
            f"{path} is mode {mode:o}: other local users may read it.",
            hint=f"chmod {'700' if path.is_dir() else '600'} {path}",
            id="convene.W001",
        )
        for path, mode in wider_than_private(convene_files())
    ]
