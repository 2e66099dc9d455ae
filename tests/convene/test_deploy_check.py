"""`manage.py check --deploy` finds nothing to fix with production settings."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_deploy_check_is_clean_with_production_settings(tmp_path: Path) -> None:
    production = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "convene.example.org",
        "CONVENE_SSL_REDIRECT": "1",
        "CONVENE_VAR_DIR": str(tmp_path),
    }
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
