"""Floors in pyproject.toml that a feature depends on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def declared_floor(package: str) -> tuple[int, ...]:
    requirements = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    [requirement] = [r for r in requirements if re.match(rf"{package}\b", r)]
    found = re.search(r">=\s*([\d.]+)", requirement)
    assert found, f"{requirement} has no lower bound"
    return tuple(int(part) for part in found.group(1).split("."))


def test_msal_floor_accepts_a_certificate_without_a_thumbprint() -> None:
    # AppRegistration.client_credential passes {"private_key", "public_certificate"} with no
    # "thumbprint"; MSAL computes the thumbprint itself only from 1.35 on.
    assert declared_floor("msal") >= (1, 35)
