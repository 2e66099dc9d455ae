"""Browser tests: Debian's Chromium, driven by Playwright, against Convene's live server, a real
Huey worker and the Microsoft 365 emulator.

Chromium comes from Debian's package (``make browser``, part of ``make test``), never from
Playwright's own downloads. Without ``/usr/bin/chromium`` these tests are skipped, except in CI
(``CI=true``), where they fail.

Fixtures:

- ``page`` (pytest-playwright): a fresh browser context per test, desktop size (1280x800).
- ``world``: the test world of tests/world.py (the one the Outlook tests and the benchmarks'
  checks use), with Convene's app registered for the live server's redirect URIs, the same
  people in Convene, and ``settings.OUTLOOK`` pointed at the emulator. Outlook sync is off until
  a test turns it on.
- ``worker``: a Huey consumer on worker threads, on a queue file of the test's own.
- ``shot(page, name)``: saves a full-page screenshot under ``test-artifacts/e2e/<test>/``.
- ``sign_in(page, email)``, ``axe_violations(page)``.

Playwright's sync API keeps an asyncio loop running in the main thread while it is started,
which breaks ``asyncio.run`` in later tests and trips Django's async-safety check; so Playwright
lives only as long as this package's tests (package scope, not pytest-playwright's session).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from django.test.utils import override_settings
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from huey.storage import SqliteStorage
from playwright.sync_api import Browser, BrowserType, Page, Playwright, expect, sync_playwright
from tests.huey_worker import running_worker
from tests.world import (
    ADA,
    ADMIN,
    ALAN,
    CLIENT_ID,
    CLIENT_SECRET,
    EDSGER,
    GRACE,
    PASSWORD,
    PLATFORM_ADMIN,
    PLATFORM_DOMAIN,
    SERVICE_MAILBOX,
    create_people,
    enter_world,
    wait_until,
)
from tests.world import World as BaseWorld

from m365_emulator.config import EmulatorConfig
from m365_emulator.server import RunningEmulator, start_emulator
from m365_emulator.testing import EmulatorHandle, ca_context

CHROMIUM = Path("/usr/bin/chromium")
MICROSOFT_HOST = "login.microsoftonline.test"
# Without the background-networking flags Chromium keeps trying to reach Google's services,
# which a closed network refuses (and which tests have no business calling anyway).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    # Microsoft's pages live on another site than Convene (login.microsoftonline.com); the
    # emulator's pages get a name of another site too, so cookies follow production's rules.
    f"--host-resolver-rules=MAP {MICROSOFT_HOST} 127.0.0.1",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

REPOSITORY = Path(__file__).resolve().parents[2]
ARTIFACTS = REPOSITORY / "test-artifacts" / "e2e"
DOCS_SCREENSHOTS = REPOSITORY / "docs" / "screenshots"
AXE = REPOSITORY / "node_modules" / "axe-core" / "axe.min.js"

__all__ = [
    "ADA",
    "ADMIN",
    "ALAN",
    "EDSGER",
    "GRACE",
    "PASSWORD",
    "PLATFORM_ADMIN",
    "PLATFORM_DOMAIN",
    "SERVICE_MAILBOX",
    "wait_until",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


# --- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = (
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium package "
            "('make browser', or 'apt-get install chromium')."
        )
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    # Django refuses database calls from a thread with a running event loop; Playwright's
    # loop is only a driver here, the tests themselves are synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright) -> BrowserType:
    return playwright.chromium


@pytest.fixture(scope="package")
def browser_type_launch_args() -> dict[str, Any]:
    return {"executable_path": str(CHROMIUM), "args": CHROMIUM_FLAGS, "headless": True}


@pytest.fixture(scope="package")
def launch_browser(
    browser_type_launch_args: dict[str, Any], browser_type: BrowserType
) -> Callable[..., Browser]:
    def launch(**overrides: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **overrides})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    chromium = launch_browser()
    yield chromium
    chromium.close()


@pytest.fixture(scope="package")
def browser_context_args() -> dict[str, Any]:
    return {"viewport": DESKTOP, "locale": "en-GB", "timezone_id": "Europe/Berlin"}


# --- Convene and the emulator ---------------------------------------------------------------


@pytest.fixture(scope="package")
def m365() -> Iterator[RunningEmulator]:
    # The live server's webhook is plain HTTP (Graph itself requires https).
    with start_emulator(
        config=EmulatorConfig(allow_http_notification_urls=True), public_host=MICROSOFT_HOST
    ) as emulator:
        yield emulator


@pytest.fixture(scope="package")
def convene_url(m365: RunningEmulator, request: pytest.FixtureRequest) -> Iterator[str]:
    """The live server's address, with settings fit for a browser on plain HTTP.

    The live server's middleware reads the HTTPS settings when it starts, so they are
    changed before ``live_server`` is first used.
    """
    plain_http = override_settings(
        SECURE_SSL_REDIRECT=False,
        SECURE_HSTS_SECONDS=0,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    plain_http.enable()
    try:
        live_server = request.getfixturevalue("live_server")
        yield str(live_server.url)
    finally:
        plain_http.disable()


@dataclass
class World(BaseWorld):
    url: str = ""

    def viewer(self, email: str) -> str:
        """The emulator's mailbox viewer for that person (what Outlook would show them)."""
        return f"{self.emulator.ui_url}/mailboxes/{email}"


@pytest.fixture
def world(
    m365: RunningEmulator, convene_url: str, transactional_db: None, settings: Any
) -> Iterator[World]:
    """The test world (tests/world.py), Convene pointed at it, Outlook sync still off."""
    http = httpx.Client(verify=ca_context(str(m365.ca_path)), timeout=30)
    handle = EmulatorHandle(
        emulator=m365, http=http, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    enter_world(handle, settings, convene_url)
    try:
        yield World(emulator=handle, people=create_people(), url=convene_url)
    finally:
        http.close()


@pytest.fixture(autouse=True)
def task_queue(tmp_path: Path) -> Iterator[None]:
    """Background tasks go to a queue file of the test's own (nothing runs them unless the
    test asks for ``worker``), never to the developer's queue under var/."""
    immediate, storage = HUEY.immediate, HUEY.storage
    HUEY.immediate = False
    HUEY.storage = SqliteStorage(HUEY.name, filename=str(tmp_path / "queue.sqlite3"))
    try:
        yield
    finally:
        HUEY.immediate, HUEY.storage = immediate, storage


@pytest.fixture
def worker(task_queue: None, transactional_db: None, tmp_path: Path) -> Iterator[None]:
    """A real Huey consumer: tasks go through the queue and run on worker threads."""
    with running_worker(tmp_path / "queue.sqlite3", threads=2):
        yield


# --- helpers for the tests ------------------------------------------------------------------

Shot = Callable[..., Path]


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shot:
    """``shot(page, "name")`` saves a full-page screenshot as a test artifact, numbered in the
    order taken. ``docs=True`` also refreshes ``docs/screenshots/<name>.png`` when the
    environment has ``UPDATE_DOCS_SCREENSHOTS=1``."""
    name = request.node.name.removeprefix("test_").replace("chromium", "")
    folder = ARTIFACTS / re.sub(r"[^\w.]+", "-", name).strip("-")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    taken = iter(range(1, 100))

    def take(page: Page, name: str, *, docs: bool = False, full_page: bool = True) -> Path:
        path = folder / f"{next(taken):02d}-{name}.png"
        page.screenshot(path=path, full_page=full_page, animations="disabled")
        if docs and os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            (DOCS_SCREENSHOTS / f"{name}.png").write_bytes(path.read_bytes())
        return path

    return take


@pytest.fixture
def sign_in(world: World) -> Callable[[Page, str], None]:
    """Sign a person in to Convene on its sign-in page, in that page's browser context."""

    def sign_in_as(page: Page, email: str) -> None:
        page.goto(f"{world.url}/accounts/sign-in/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/(\?.*)?$"))

    return sign_in_as


def open_mailbox(page: Page, url: str) -> None:
    """Open a page of the emulator's mailbox viewer, signing in as the mailbox's owner when it
    asks (as Outlook on the web does; the sign-in page names the owner already)."""
    page.goto(url)
    if "/mailboxes/sign-in" in page.url:
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda address: "/mailboxes/sign-in" not in address)


SERIOUS = {"serious", "critical"}


def axe_violations(page: Page) -> list[str]:
    """Serious and critical axe-core findings on the page, one readable line each; and anything
    the page's Content-Security-Policy blocked (an inline script or style left somewhere)."""
    if page.evaluate("typeof window.axe") == "undefined":
        # Evaluated through the DevTools protocol, which the page's CSP does not govern (a
        # <script> tag with axe's text would be refused as inline script).
        page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return csp_violations(page) + [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(node["target"][0] if node["target"] else "?" for node in v["nodes"][:5])
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]


# Chromium keeps the page's reports: a buffered observer receives those from before it existed.
_CSP_REPORTS = """() => new Promise((resolve) => {
  const seen = [];
  const observer = new ReportingObserver((reports) => seen.push(...reports),
                                         {types: ['csp-violation'], buffered: true});
  observer.observe();
  setTimeout(() => {
    seen.push(...observer.takeRecords());
    observer.disconnect();
    resolve(seen.map((r) => `${r.body.effectiveDirective} ${r.body.blockedURL || ''}`.trim()));
  }, 100);
})"""


def csp_violations(page: Page) -> list[str]:
    """What the page's Content-Security-Policy refused since it loaded, one line each."""
    return [f"csp: {line}" for line in page.evaluate(_CSP_REPORTS)]


def next_weekday(weekday: int, hour: int, zone: str, weeks_ahead: int = 1) -> datetime:
    """That weekday (0 = Monday) of a coming week, at ``hour`` in ``zone``."""
    today = timezone.now().astimezone(ZoneInfo(zone)).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=weeks_ahead)
    day = monday + timedelta(days=weekday)
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(zone))


def microsoft_sign_in(
    page: Page, email: str, *, shot: Shot | None = None, name: str = "microsoft", docs: bool = False
) -> None:
    """On the emulator's Microsoft sign-in page: sign in as ``email`` and consent (for
    themselves, or as an administrator for their organization). Screenshots ``<name>-sign-in``
    and ``<name>-consent`` when given ``shot``."""
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email or username").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    if shot:
        shot(page, f"{name}-sign-in", docs=docs)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Permissions requested")).to_be_visible()
    if shot:
        shot(page, f"{name}-consent")
    page.get_by_role("button", name="Accept").click()


def connect_outlook(
    page: Page, world: World, sign_in: Callable[[Page, str], None], email: str
) -> None:
    """``email`` signs in to Convene and connects Outlook through Microsoft's pages, and is back
    on Convene's home page, which says so."""
    sign_in(page, email)
    page.goto(f"{world.url}/outlook/connect/?next=/")
    microsoft_sign_in(page, email)
    expect(page.get_by_text(f"Outlook connected as {email}.")).to_be_visible()


def reload_until_visible(page: Page, text: str, timeout: float = 20.0) -> None:
    """Reload the page until ``text`` shows (what a person waiting for the worker does)."""
    deadline = time.monotonic() + timeout
    while not page.get_by_text(text, exact=True).first.is_visible():
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} still not on {page.url} after {timeout}s")
        time.sleep(0.25)
        page.reload()


def send_meeting(
    world: World, organizer: str, subject: str, start: datetime, minutes: int, *invitees: str
) -> dict[str, Any]:
    """``organizer`` sends a meeting from Outlook (through Graph); returns the organizer's copy."""

    def graph_time(moment: datetime) -> dict[str, str]:
        return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": str(moment.tzinfo)}

    created = world.emulator.graph(
        "POST",
        "/me/events",
        world.emulator.token_for(organizer),
        json={
            "subject": subject,
            "body": {"contentType": "text", "content": f"{subject}, sent from Outlook."},
            "start": graph_time(start),
            "end": graph_time(start + timedelta(minutes=minutes)),
            "location": {"displayName": "Room 4.12"},
            "attendees": [
                {"emailAddress": {"address": email}, "type": "required"} for email in invitees
            ],
        },
    )
    created.raise_for_status()
    event: dict[str, Any] = created.json()
    return event


def copy_in(world: World, email: str, subject: str) -> dict[str, Any]:
    """That person's copy of the meeting with that subject."""
    return next(e for e in world.mailbox(email) if e["subject"].endswith(subject))
