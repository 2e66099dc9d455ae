"""Tokens, secrets and authorization codes stay out of logs and the audit log; keys rotate."""

from __future__ import annotations

import json
import logging
from io import StringIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msal
import pytest
from cryptography.fernet import Fernet
from django.apps import apps as django_apps
from django.core import serializers
from django.core.management import call_command

from convene.outlook.mailboxes import platform
from convene.outlook.microsoft import crypto
from convene.outlook.models import OutlookConnection, SyncLogEntry

from .conftest import CLIENT_SECRET, OutlookWorld
from .test_connect_and_sync import ADA, ALAN, create_event, update
from .test_platform import ADMIN, SERVICE, platform_seed, use_platform_calendar


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


@pytest.fixture
def all_logging() -> Any:
    handler = Everything()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)


def secrets_in_cache(cache: dict[str, Any]) -> set[str]:
    found = set()
    for section in ("AccessToken", "RefreshToken", "IdToken"):
        for entry in cache.get(section, {}).values():
            found.add(entry["secret"])
    return found


def test_no_token_secret_or_code_is_ever_logged(outlook: OutlookWorld, all_logging: Any) -> None:
    from convene.events import services

    client = outlook.browser(ADA)
    start = client.get("/outlook/connect/")
    back = outlook.emulator.sign_in(start["Location"], ADA)
    code = parse_qs(urlsplit(back).query)["code"][0]
    assert outlook.return_from_microsoft(client, back).status_code == 302
    first_cache = json.loads(crypto.decrypt(OutlookConnection.objects.get().encrypted_token_cache))
    event = create_event(outlook)
    services.enroll(event, outlook.people[ALAN], actor=None)
    outlook.wait_synced(event.pk)
    outlook.emulator.advance_clock(2 * 3600)  # the next sync refreshes and rotates
    update(event, title="After a refresh")
    outlook.wait_synced(event.pk)
    latest_cache = json.loads(crypto.decrypt(OutlookConnection.objects.get().encrypted_token_cache))

    secrets = {code, CLIENT_SECRET} | secrets_in_cache(first_cache) | secrets_in_cache(latest_cache)
    assert len(secrets) >= 6
    logged = "\n".join(all_logging.lines)
    audit = "\n".join(
        f"{entry.message} {json.dumps(entry.details)}" for entry in SyncLogEntry.objects.all()
    )
    assert logged, "logging was captured"
    for secret in secrets:
        assert secret not in logged
        assert secret not in audit


def test_rotate_keys_re_encrypts_every_authorization_under_the_newest_key(
    outlook: OutlookWorld, settings: Any
) -> None:
    outlook.connect(ADA)
    old_key = settings.OUTLOOK_TOKEN_KEYS[0]
    plaintext = crypto.decrypt(OutlookConnection.objects.get().encrypted_token_cache)
    new_key = Fernet.generate_key().decode()
    settings.OUTLOOK_TOKEN_KEYS = [new_key, old_key]
    out = StringIO()

    call_command("outlook", "rotate_keys", stdout=out)

    assert "1 authorizations re-encrypted" in out.getvalue()
    settings.OUTLOOK_TOKEN_KEYS = [new_key]  # the old key can now be dropped
    assert crypto.decrypt(OutlookConnection.objects.get().encrypted_token_cache) == plaintext
    settings.OUTLOOK_TOKEN_KEYS = [old_key]
    with pytest.raises(crypto.UndecryptableToken):
        crypto.decrypt(OutlookConnection.objects.get().encrypted_token_cache)


def app_only_tokens() -> set[str]:
    """The access tokens MSAL holds in this process for the platform calendar."""
    found = set()
    for tokens in platform._app_tokens.values():
        for app in tokens._apps.values():
            for entry in app.token_cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN):
                found.add(entry["secret"])
    return found


def test_platform_app_tokens_stay_in_memory_and_out_of_logs(
    outlook: OutlookWorld, all_logging: Any
) -> None:
    """Platform mode: Convene's own credentials (the client secret from the environment) buy
    app-only tokens per tenant; they live in MSAL's memory only: not in the database, not in
    the logs, not in the audit log."""
    from convene.events import services

    outlook.emulator.reset(platform_seed(consented=True))
    use_platform_calendar()
    platform._app_tokens.clear()
    event = create_event(outlook)
    services.enroll(event, outlook.people[ALAN], actor=None)
    outlook.wait_synced(event.pk)
    tested = outlook.browser(ADMIN).post(
        "/outlook/admin/test-connection/",
        {"enabled": "on", "mode": "platform", "service_mailbox": SERVICE},
    )
    assert tested.status_code == 200

    secrets = app_only_tokens() | {CLIENT_SECRET}
    assert len(secrets) >= 2, "the sync used an app-only token"
    logged = "\n".join(all_logging.lines)
    audit = "\n".join(
        f"{entry.message} {json.dumps(entry.details)}" for entry in SyncLogEntry.objects.all()
    )
    stored = "\n".join(
        serializers.serialize("json", model._default_manager.all())
        for model in django_apps.get_models()
    )
    assert logged, "logging was captured"
    for secret in secrets:
        assert secret not in logged
        assert secret not in audit
        assert secret not in stored
