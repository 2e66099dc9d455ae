"""Convene's files under var/ are readable by their owner only, whatever the umask, and the
start-up check names any that are wider.

Issue 19: var/convene.sqlite3 (with -wal/-shm) and var/huey.sqlite3 were 0644 in a 0755 var/;
a local user read an admin's session key from django_session and used it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from convene.core.checks import files_are_private
from convene.outlook import emulator_setup

REPOSITORY = Path(__file__).resolve().parents[2]

# Run in a fresh process (settings are read once per process): start Convene with a new var/
# under a permissive umask, write to the database, and report every file's mode while the
# connection (and so the -wal and -shm files) is open.
START_AND_REPORT = """
import json, os, stat, django
django.setup()
from django.conf import settings
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE probe (x integer)")
    cursor.execute("INSERT INTO probe VALUES (1)")
var = settings.VAR_DIR
print(json.dumps({p.name: stat.S_IMODE(p.stat().st_mode) for p in [var, *var.iterdir()]}))
"""


def test_a_new_var_folder_and_everything_in_it_are_private_under_umask_022(tmp_path):
    environment = {
        **os.environ,
        "CONVENE_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "convene.settings",
        "PYTHONPATH": str(REPOSITORY / "src"),
    }
    environment.pop("DATABASE_URL", None)
    environment.pop("HUEY_REDIS_URL", None)
    finished = subprocess.run(
        [sys.executable, "-c", START_AND_REPORT],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: os.umask(0o022),
    )
    modes = json.loads(finished.stdout.strip().splitlines()[-1])
    assert modes.pop("var") == 0o700
    for name in [
        "convene.sqlite3",
        "convene.sqlite3-wal",
        "convene.sqlite3-shm",
        "huey.sqlite3",
        "secret_key",
        "outlook_token_key",
    ]:
        assert modes.pop(name) == 0o600, name
    assert modes == {}


def test_the_emulators_data_folder_and_seed_are_private(tmp_path):
    previous = os.umask(0o022)
    try:
        seed_file, _ = emulator_setup.prepare(
            [],
            password="demo",
            data_dir=tmp_path / "emulator",
            api_port=8443,
            public_url="http://127.0.0.1:8000",
        )
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "emulator").stat().st_mode) == 0o700
    assert stat.S_IMODE(seed_file.stat().st_mode) == 0o600


def test_the_start_up_check_names_each_file_others_may_read(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    tmp_path.chmod(0o700)
    (tmp_path / "secret_key").write_text("x")
    (tmp_path / "secret_key").chmod(0o644)
    (tmp_path / "outlook_token_key").write_text("y")
    (tmp_path / "outlook_token_key").chmod(0o600)

    # (The test database and queue live elsewhere; only this var/ is looked at here.)
    warnings = [w for w in files_are_private() if str(tmp_path) in w.msg]

    assert [w.id for w in warnings] == ["convene.W001"]
    assert "secret_key is mode 644" in warnings[0].msg
    assert warnings[0].hint == f"chmod 600 {tmp_path / 'secret_key'}"
