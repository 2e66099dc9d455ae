"""Pytest fixtures for a running emulator; import them into any ``conftest.py``.

    from m365_emulator.pytest_plugin import emulator, emulator_http, emulator_server

``emulator_server`` (session scope) runs one emulator for the whole session on free ports with a
temporary CA; it accepts plain-http webhooks, as test receivers are local HTTP servers.
``emulator`` (function scope) resets it, seeds ``testing.STANDARD_SEED`` and returns
a ``testing.EmulatorHandle`` (endpoints, app credentials, ``token_for``, ``app_token``,
``graph``, ``control``, ``sign_in``...). See docs/emulator.md.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from m365_emulator.config import EmulatorConfig
from m365_emulator.server import RunningEmulator, start_emulator
from m365_emulator.testing import EmulatorHandle, ca_context


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[RunningEmulator]:
    with start_emulator(config=EmulatorConfig(allow_http_notification_urls=True)) as running:
        yield running


@pytest.fixture(scope="session")
def emulator_http(emulator_server: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(verify=ca_context(str(emulator_server.ca_path)), timeout=10) as client:
        yield client


@pytest.fixture
def emulator(emulator_server: RunningEmulator, emulator_http: httpx.Client) -> EmulatorHandle:
    handle = EmulatorHandle(emulator=emulator_server, http=emulator_http)
    handle.reset()
    return handle
