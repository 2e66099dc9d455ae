"""``python -m m365_emulator serve`` as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import m365_emulator
from m365_emulator.testing import STANDARD_SEED, ca_context

# The subprocess imports the same copy of the package as this test does.
SOURCE_ROOT = str(Path(m365_emulator.__file__).resolve().parents[1])


def serve(data_dir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "m365_emulator", "serve", "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SOURCE_ROOT},
    )


@pytest.fixture
def seeded_cli(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(STANDARD_SEED))
    process = serve(tmp_path / "data", "--api-port", "0", "--ui-port", "0", "--seed", str(seed))
    try:
        assert process.stdout is not None
        endpoints = json.loads(process.stdout.readline())
        yield process, endpoints
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_serve_prints_and_writes_the_endpoints(
    tmp_path: Path, seeded_cli: tuple[subprocess.Popen[str], dict[str, str]]
) -> None:
    _, endpoints = seeded_cli

    written = json.loads((tmp_path / "data" / "endpoints.json").read_text())

    assert written == endpoints
    assert set(endpoints) == {"authority", "graph", "ui", "ca_cert"}
    assert endpoints["graph"] == endpoints["authority"] + "/v1.0"
    assert endpoints["authority"].startswith("https://127.0.0.1:")
    assert endpoints["ui"].startswith("http://127.0.0.1:")


def test_served_emulator_answers_over_tls_with_the_seed_loaded(
    seeded_cli: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    _, endpoints = seeded_cli

    response = httpx.get(
        f"{endpoints['authority']}/contoso.test/v2.0/.well-known/openid-configuration",
        verify=ca_context(endpoints["ca_cert"]),
    )

    assert response.status_code == 200
    assert response.json()["authorization_endpoint"].startswith(endpoints["ui"])


def test_sigterm_stops_the_server(seeded_cli: tuple[subprocess.Popen[str], dict[str, str]]) -> None:
    process, _ = seeded_cli

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=10) == 0


def test_a_bad_seed_file_is_reported(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"tenants": [{"users": []}]}))

    process = serve(tmp_path, "--api-port", "0", "--ui-port", "0", "--seed", str(seed))
    _, stderr = process.communicate(timeout=20)

    assert process.returncode == 2
    assert "tenants[0].domain" in stderr


def test_serve_keeps_full_collections_to_what_is_new() -> None:
    """What survived a full collection is frozen, so the next one does not walk the whole
    store again (in the served process; here in a subprocess of its own)."""
    program = (
        "import gc\n"
        "from m365_emulator.cli import freeze_after_full_collections\n"
        "kept = [[n] for n in range(100_000)]\n"
        "freeze_after_full_collections()\n"
        "gc.collect()\n"
        "print(gc.get_freeze_count())\n"
    )
    env = {**os.environ, "PYTHONPATH": SOURCE_ROOT}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, check=True
    )

    assert int(done.stdout) >= 100_000
