"""Convene's own files under var/ are its owner's only: folders 0700, files 0600.

The SQLite database holds sessions (a signed-in admin's key is enough to act as them), the
queue holds task arguments, the key files open stored authorizations. Modes are set when
Convene creates them, whatever the process's umask; SQLite gives a database's ``-wal`` and
``-shm`` files the database file's mode, so creating the database file first covers those too.
``wider_than_private`` lists what already exists with more (the startup check warns).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def private_folder(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700; an existing folder is left as it is."""
    if not path.exists():
        path.mkdir(parents=True, mode=PRIVATE_FOLDER, exist_ok=True)
        os.chmod(path, PRIVATE_FOLDER)  # mkdir's mode is filtered by the umask
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty as 0600 unless it exists (an empty file is a valid SQLite
    database, so SQLite and Huey open it as their own)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return path
    os.fchmod(descriptor, PRIVATE_FILE)
    os.close(descriptor)
    return path


def sqlite_companions(database: Path) -> list[Path]:
    return [
        database,
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
    ]


def wider_than_private(paths: Iterable[Path]) -> list[tuple[Path, int]]:
    """Each existing path that others (group or anyone) may read, write or enter, with its
    mode."""
    wider = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            wider.append((path, mode))
    return wider
