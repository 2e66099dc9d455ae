"""The production layout, run as documented: the commands of docs/deploy.md's "First start" and
the ExecStart lines of deploy/systemd's units (web under uvicorn, two workers, the scheduler),
with deploy/convene.env.example's variables (DEBUG off), on PostgreSQL and Redis, and the
Microsoft 365 emulator standing in for Microsoft. One event goes through to Outlook and one
decline comes back.

The test acts as the people would: the event is created through Convene's services in a
``manage.py shell`` (as the event form would), the attendee declines in "Outlook" (the
emulator's control API), and Microsoft's notification reaches the web over HTTP.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from cryptography.fernet import Fernet
from tests.convene.outlook.conftest import CLIENT_ID, CLIENT_SECRET
from tests.convene.outlook.test_platform import SERVICE, platform_seed

from m365_emulator.config import EmulatorConfig
from m365_emulator.server import RunningEmulator, start_emulator
from m365_emulator.testing import EmulatorHandle, ca_context

pytestmark = pytest.mark.postgres

REPOSITORY = Path(__file__).resolve().parents[2]
INSTALLED_AT = "/opt/convene"
DATABASE = "wt_ops_deploy"
REDIS_DB = 11
ALAN = "alan@contoso.test"
ADMIN_EMAIL = "admin@example.org"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def documented_commands() -> list[str]:
    """The manage.py commands of docs/deploy.md's "First start", in order."""
    text = (REPOSITORY / "docs" / "deploy.md").read_text()
    section = text.split("## First start", 1)[1].split("\n## ", 1)[0]
    return [
        line.strip()
        for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
        for line in block.splitlines()
        if line.startswith(f"{INSTALLED_AT}/.venv/bin/python")
    ]


def unit_command(unit: str, instance: str = "") -> str:
    text = (REPOSITORY / "deploy" / "systemd" / unit).read_text()
    (line,) = re.findall(r"^ExecStart=(.*)$", text, re.MULTILINE)
    return line.replace("%i", instance)


def argv(command: str, environment: dict[str, str]) -> list[str]:
    """As systemd and the shell would run it here: ${VAR} from the environment file, the
    installation at this checkout, this virtualenv's interpreter."""
    expanded = re.sub(r"\$\{(\w+)\}", lambda m: environment[m.group(1)], command)
    words = shlex.split(expanded.replace(INSTALLED_AT, str(REPOSITORY)))
    if words[0].endswith("/bin/python"):
        words[0] = sys.executable
    elif "/.venv/bin/" in words[0]:
        words[0] = str(Path(sys.executable).parent / Path(words[0]).name)
    return words


def environment_file() -> dict[str, str]:
    values = {}
    for line in (REPOSITORY / "deploy" / "convene.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


@pytest.fixture
def emulator() -> Iterator[tuple[RunningEmulator, EmulatorHandle]]:
    # Microsoft requires an https webhook; here the documented web server serves plain HTTP on
    # the loopback address (TLS is the reverse proxy's, which this test does not start).
    with start_emulator(config=EmulatorConfig(allow_http_notification_urls=True)) as running:
        http = httpx.Client(verify=ca_context(str(running.ca_path)), timeout=30)
        handle = EmulatorHandle(
            emulator=running, http=http, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
        )
        handle.reset(platform_seed(consented=True))
        yield running, handle
        http.close()


@pytest.fixture
def production(emulator: tuple[RunningEmulator, EmulatorHandle], tmp_path: Path) -> dict[str, str]:
    """The environment file as an operator fills it in, for this machine."""
    running, _ = emulator
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    redis.Redis.from_url(f"redis://127.0.0.1:6379/{REDIS_DB}").flushdb()
    port = free_port()
    values = environment_file()
    values.update(
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="127.0.0.1",
        CSRF_TRUSTED_ORIGINS=f"http://127.0.0.1:{port}",
        # The emulator's notifications come over plain HTTP here, not through a proxy.
        CONVENE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        CONVENE_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        HUEY_REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        OUTLOOK_CLIENT_ID=CLIENT_ID,
        OUTLOOK_CLIENT_SECRET=CLIENT_SECRET,
        OUTLOOK_TOKEN_KEYS=Fernet.generate_key().decode(),
        CONVENE_METRICS_TOKEN=secrets.token_urlsafe(30),
        EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
        CONVENE_PORT=str(port),
        CONVENE_WORKER_THREADS="4",
        # Microsoft, as the emulator plays it.
        OUTLOOK_AUTHORITY_HOST=running.authority,
        OUTLOOK_GRAPH_URL=running.graph_url,
        OUTLOOK_CA_BUNDLE=str(running.ca_path),
        DJANGO_SUPERUSER_PASSWORD=secrets.token_urlsafe(16),
        LOG_LEVEL="WARNING",
    )
    assert values["DEBUG"] == "0"
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return {**keep, **values}


@pytest.fixture
def start(production: dict[str, str]) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def run(command: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            argv(command, production),
            env=production,
            cwd=REPOSITORY,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, 2)  # SIGINT, as the units stop them
    for process in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def shell(production: dict[str, str], code: str) -> str:
    done = subprocess.run(
        [sys.executable, str(REPOSITORY / "manage.py"), "shell", "-c", code],
        env=production,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not after {timeout}s"
        time.sleep(1)


SET_UP = f"""
from datetime import timedelta
from django.utils import timezone
from convene.accounts.models import Role, User
from convene.events import services
from convene.outlook.models import Mode, OutlookSettings
OutlookSettings.objects.update_or_create(
    pk=1, defaults={{"enabled": True, "mode": Mode.PLATFORM, "service_mailbox": "{SERVICE}"}}
)
admin = User.objects.get(email="{ADMIN_EMAIL}")
alan = User.objects.create_user("{ALAN}", "pw-" + "x" * 12, display_name="Alan Turing")
start = timezone.now() + timedelta(days=3)
event = services.create_event(
    services.EventDetails(title="Launch review", start=start, end=start + timedelta(hours=1),
                          timezone="Europe/Berlin"),
    creator=admin,
)
services.enroll(event, alan, actor=alan)
print(event.pk)
"""


def test_the_documented_production_layout_syncs_an_event_and_takes_a_decline_back(
    production: dict[str, str],
    start: Callable[[str], subprocess.Popen[bytes]],
    emulator: tuple[RunningEmulator, EmulatorHandle],
) -> None:
    _, microsoft = emulator
    for command in documented_commands():
        subprocess.run(
            argv(command, production), env=production, cwd=REPOSITORY, check=True, timeout=300
        )
    start(unit_command("convene-web.service"))
    start(unit_command("convene-scheduler.service"))
    start(unit_command("convene-worker@.service", "1"))
    start(unit_command("convene-worker@.service", "2"))
    web = httpx.Client(base_url=production["CONVENE_PUBLIC_URL"], timeout=10)
    wait_for(lambda: _answers(web, "/readyz"), 60, "readyz")
    ready = web.get("/readyz").json()
    assert ready["status"] == "ok"
    scraped = web.get(
        "/metrics", headers={"Authorization": f"Bearer {production['CONVENE_METRICS_TOKEN']}"}
    ).text
    assert re.search(r"^convene_workers_seen (\d+)", scraped, re.MULTILINE).group(1) == "3"  # type: ignore[union-attr]

    event_id = int(shell(production, SET_UP).splitlines()[-1])

    def alans_copy() -> dict[str, Any] | None:
        events = microsoft.control("GET", f"/mailboxes/{ALAN}/events").json()["value"]
        return next((e for e in events if e["subject"] == "Launch review"), None)

    copy = wait_for(alans_copy, 60, "the invitation in Alan's Outlook")
    # Microsoft's notifications need the subscription the scheduler makes (every minute).
    wait_for(
        lambda: shell(
            production,
            "from convene.outlook.models import Subscription; "
            "print(Subscription.objects.filter(state='active').count())",
        ).endswith("1"),
        90,
        "the change subscription on the service mailbox",
    )
    microsoft.control(
        "POST", f"/mailboxes/{ALAN}/events/{copy['id']}/respond", {"response": "decline"}
    ).raise_for_status()

    wait_for(
        lambda: shell(
            production,
            "from convene.events.models import Enrollment; "
            f"print(Enrollment.objects.filter(event_id={event_id}, user__email='{ALAN}').count())",
        ).endswith("0"),
        60,
        "Alan unenrolled after declining in Outlook",
    )
    assert web.get("/healthz").json() == {"status": "ok"}


def _answers(web: httpx.Client, path: str) -> bool:
    try:
        return web.get(path).status_code == 200
    except httpx.TransportError:
        return False
