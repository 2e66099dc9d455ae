"""Every way the Microsoft sign-in can go wrong ends on a page that says what to do, and stores
nothing."""

from __future__ import annotations

import json
from http.client import RemoteDisconnected
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests
from django.contrib.sessions.models import Session
from django.test import Client
from url_access.hostile_urls import HOSTILE_NEXT, stays_on_convene
from urllib3.exceptions import ProtocolError

from convene.outlook.microsoft import crypto, identity
from convene.outlook.microsoft.registration import AppRegistration
from convene.outlook.models import OutlookConnection
from convene.outlook.web.views import CALLBACK_COOKIE

from .conftest import CLIENT_ID, OutlookWorld
from .test_connect_and_sync import ADA, GRACE


def start(outlook: OutlookWorld, email: str) -> tuple[Client, str]:
    client = outlook.browser(email)
    response = client.get("/outlook/connect/")
    assert response.status_code == 302
    return client, str(response["Location"])


def come_back(client: Client, url: str) -> Any:
    return OutlookWorld.return_from_microsoft(client, url)


def test_cancelling_at_microsoft(outlook: OutlookWorld) -> None:
    client, auth_uri = start(outlook, ADA)
    back = outlook.emulator.sign_in(auth_uri, ADA, consent=False)

    page = come_back(client, back)

    assert page.status_code == 400
    assert b"Microsoft did not give Convene access to your calendar" in page.content
    assert not OutlookConnection.objects.exists()


def test_a_tenant_that_needs_admin_approval_gets_the_admin_link_and_a_message(
    outlook: OutlookWorld,
) -> None:
    outlook.emulator.control(
        "POST",
        "/seed",
        {
            "tenants": [
                {
                    "domain": "strict.test",
                    "userConsent": False,
                    "users": [
                        {
                            "userPrincipalName": "olga@strict.test",
                            "displayName": "Olga",
                            "password": "Passw0rd!",
                        }
                    ],
                }
            ]
        },
    ).raise_for_status()
    from convene.accounts.models import Role, User

    outlook.people["olga@strict.test"] = User.objects.create_user(
        "olga@strict.test", "x", display_name="Olga", role=Role.ORGANIZER
    )
    client, auth_uri = start(outlook, "olga@strict.test")
    # Entra's "Need admin approval" page: the only way on is back to Convene, access_denied.
    back = outlook.emulator.sign_in(auth_uri, "olga@strict.test")
    assert parse_qs(urlsplit(back).query)["error"] == ["access_denied"]

    page = come_back(client, back)

    text = page.content.decode()
    assert page.status_code == 400
    assert "your organization only lets its administrators approve apps" in text
    assert "/v2.0/adminconsent?client_id=" + CLIENT_ID in text
    assert "Message to send your IT administrator" in text
    assert "no application permission" in text
    assert ".default" not in text
    assert not OutlookConnection.objects.exists()


@pytest.mark.django_db
def test_the_admin_consent_page_shows_microsofts_codes_but_not_words_from_the_link() -> None:
    """Anyone can link to this page: only error codes from the query are shown, never text."""
    page = Client().get(
        "/outlook/admin-consent/",
        {
            "error": "access_denied",
            "error_description": "AADSTS65004: To finish, call +1 555 0100 with your password.",
        },
    )

    assert page.status_code == 400
    assert b"Convene was not enabled" in page.content
    assert b"access_denied, AADSTS65004" in page.content
    assert b"555" not in page.content and b"password" not in page.content


def test_a_replayed_callback_is_refused(outlook: OutlookWorld) -> None:
    client, auth_uri = start(outlook, ADA)
    back = outlook.emulator.sign_in(auth_uri, ADA)
    parts = urlsplit(back)
    posted = client.post(parts.path, dict(parse_qsl(parts.query)))
    assert client.get(posted["Location"]).status_code == 302
    OutlookConnection.objects.all().delete()

    again = client.get(posted["Location"])

    assert again.status_code == 400
    assert b"That sign-in link cannot be used" in again.content
    assert not OutlookConnection.objects.exists()


def test_a_tampered_state_is_refused(outlook: OutlookWorld) -> None:
    client, auth_uri = start(outlook, ADA)
    back = outlook.emulator.sign_in(auth_uri, ADA)
    query = parse_qs(urlsplit(back).query)

    page = client.post("/outlook/callback/", {"code": query["code"][0], "state": "forged"})

    assert page.status_code == 400
    assert b"That sign-in link cannot be used" in page.content
    assert CALLBACK_COOKIE not in page.cookies
    assert not OutlookConnection.objects.exists()


def test_a_callback_in_another_persons_session_is_refused(outlook: OutlookWorld) -> None:
    _, auth_uri = start(outlook, ADA)
    back = outlook.emulator.sign_in(auth_uri, ADA)

    page = come_back(outlook.browser(GRACE), back)

    assert page.status_code == 400
    assert not OutlookConnection.objects.exists()


def test_microsoft_unreachable(outlook: OutlookWorld, settings: Any) -> None:
    settings.OUTLOOK = {**settings.OUTLOOK, "authority_host": "https://127.0.0.1:9"}
    client = outlook.browser(ADA)

    page = client.get("/outlook/connect/")

    assert page.status_code == 400
    assert b"Microsoft could not be reached" in page.content


class ClosedForBeingIdle(requests.adapters.HTTPAdapter):
    """Every pooled connection is one Microsoft closes for being idle as the request goes out."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        closed = RemoteDisconnected("Remote end closed connection without response")
        raise requests.ConnectionError(ProtocolError("Connection aborted.", closed))


def test_a_pooled_connection_closed_by_microsoft_does_not_spoil_the_code(
    outlook_without_worker: OutlookWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code is good for one try; it once went out on a keep-alive connection that the
    emulator closed at that very moment (after 5 s idle), and the sign-in failed."""
    outlook_without_worker.connect(GRACE)  # discovery is cached from here on
    shared = identity._http_session(AppRegistration.from_settings())
    monkeypatch.setitem(shared.adapters, "https://", ClosedForBeingIdle())

    assert outlook_without_worker.connect(ADA) == "/outlook/"
    assert OutlookConnection.objects.filter(user__email=ADA).exists()


@pytest.mark.parametrize("hostile", HOSTILE_NEXT)
def test_the_next_url_cannot_leave_convene(
    outlook_without_worker: OutlookWorld, hostile: str
) -> None:
    back = outlook_without_worker.connect(ADA, next_url=hostile)
    assert stays_on_convene(back), back
    if "%" not in hostile:
        assert back == "/outlook/"


def test_a_next_url_on_convene_is_where_the_sign_in_returns(
    outlook_without_worker: OutlookWorld,
) -> None:
    assert outlook_without_worker.connect(ADA, next_url="/my-events/") == "/my-events/"


def test_a_forged_answer_is_refused(outlook: OutlookWorld) -> None:
    client = outlook.browser(ADA)
    client.cookies[CALLBACK_COOKIE] = "not-a-sealed-answer"
    page = client.get("/outlook/callback/")
    assert page.status_code == 400
    assert b"That sign-in link cannot be used" in page.content


def test_the_callback_seals_nothing_for_an_unknown_caller() -> None:
    """Issue 19: the callback sealed any fields anyone posted, with the key of the tokens."""
    anybody = Client()
    page = anybody.post(
        "/outlook/callback/", {"code": "x", "state": "made-up", "anything": "y" * 5000}
    )
    assert page.status_code == 400
    assert CALLBACK_COOKIE not in page.cookies
    assert "Location" not in page


def test_nothing_sealed_travels_in_a_url(outlook: OutlookWorld) -> None:
    client, auth_uri = start(outlook, ADA)
    back = outlook.emulator.sign_in(auth_uri, ADA)
    parts = urlsplit(back)
    posted = client.post(parts.path, {**dict(parse_qsl(parts.query)), "extra": "z" * 100})
    assert posted.status_code == 303
    assert posted["Location"] == "/outlook/callback/"
    sealed = posted.cookies[CALLBACK_COOKIE]
    assert sealed["httponly"] and sealed["path"] == "/outlook/callback/"
    opened = json.loads(crypto.unseal(sealed.value, max_age_seconds=60))
    assert set(opened) <= {"code", "state", "error", "error_description"}
    finished = client.get(posted["Location"])
    assert finished.status_code == 302
    assert finished.cookies[CALLBACK_COOKIE].value == ""


def test_a_database_read_alone_cannot_finish_a_pending_sign_in(outlook: OutlookWorld) -> None:
    """The PKCE verifier and nonce are sealed with a key that is not in the database."""
    client, _ = start(outlook, ADA)
    decoded = json.dumps(Session.objects.get(session_key=client.session.session_key).get_decoded())
    (entry,) = client.session[identity.SESSION_KEY].values()
    flow = json.loads(crypto.unseal(entry["flow"], max_age_seconds=60))
    assert flow["code_verifier"] not in decoded
    assert flow["nonce"] not in decoded


def test_the_code_never_travels_in_a_url(outlook: OutlookWorld) -> None:
    client, auth_uri = start(outlook, ADA)
    back = outlook.emulator.sign_in(auth_uri, ADA)
    code = parse_qs(urlsplit(back).query)["code"][0]
    posted = client.post("/outlook/callback/", dict(parse_qsl(urlsplit(back).query)))
    assert code not in posted["Location"]


def test_disconnecting_forgets_the_authorization(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    response = outlook.browser(ADA).post("/outlook/disconnect/")
    assert response.status_code == 302
    assert not OutlookConnection.objects.exists()


def test_a_server_error_while_the_code_is_redeemed(outlook: OutlookWorld) -> None:
    client, auth_uri = start(outlook, ADA)
    back = outlook.emulator.sign_in(auth_uri, ADA)
    outlook.emulator.control(
        "POST", "/faults", {"rules": [{"endpoint": "token", "status": 503, "count": 1}]}
    ).raise_for_status()

    page = come_back(client, back)

    assert page.status_code == 400
    assert b"Microsoft could not be reached" in page.content
    assert not OutlookConnection.objects.exists()
    # MSAL would replay that 503 to the next sign-ins for a while; they must not be refused.
    assert outlook.connect(GRACE) == "/outlook/"
