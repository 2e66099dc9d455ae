"""The authorize and admin consent pages on the UI port, driven like a browser."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx

from m365_emulator.testing import CLIENT_ID, PASSWORD, EmulatorHandle, page_form

VERIFIER = "a" * 43
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")


def authorize_url(emulator: EmulatorHandle, tenant: str = "organizations", **extra: str) -> str:
    params = {
        "client_id": emulator.client_id,
        "response_type": "code",
        "redirect_uri": emulator.redirect_uri,
        "scope": "https://graph.microsoft.com/Calendars.ReadWrite openid offline_access",
        "state": "xyz",
        "nonce": "n-0S6",
        "code_challenge": CHALLENGE.decode(),
        "code_challenge_method": "S256",
        **extra,
    }
    return f"{emulator.ui_url}/{tenant}/oauth2/v2.0/authorize?{urlencode(params)}"


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def redeem(
    emulator: EmulatorHandle, code: str, verifier: str = VERIFIER, **extra: str
) -> httpx.Response:
    return emulator.http.post(
        emulator.token_endpoint("organizations"),
        data={
            "grant_type": "authorization_code",
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
            "code": code,
            "redirect_uri": emulator.redirect_uri,
            "code_verifier": verifier,
            **extra,
        },
    )


def seed_consent_off_tenant(emulator: EmulatorHandle) -> None:
    emulator.control(
        "POST",
        "/seed",
        {
            "tenants": [
                {
                    "domain": "fabrikam.test",
                    "userConsent": False,
                    "users": [
                        {"userPrincipalName": "ben@fabrikam.test", "password": PASSWORD},
                        {
                            "userPrincipalName": "boss@fabrikam.test",
                            "password": PASSWORD,
                            "isAdmin": True,
                        },
                    ],
                }
            ]
        },
    ).raise_for_status()


def test_sign_in_and_consent_redirect_with_code_and_state(emulator: EmulatorHandle) -> None:
    redirect = emulator.sign_in(authorize_url(emulator), "ada@contoso.test")

    assert redirect.startswith(emulator.redirect_uri + "?")
    assert query(redirect)["state"] == "xyz"
    assert query(redirect)["code"]


def test_code_redeems_once_with_the_nonce_in_the_id_token(emulator: EmulatorHandle) -> None:
    code = query(emulator.sign_in(authorize_url(emulator), "ada@contoso.test"))["code"]

    first = redeem(emulator, code)
    second = redeem(emulator, code)

    assert first.status_code == 200, first.text
    id_claims: dict[str, Any] = jwt_claims(first.json()["id_token"])
    assert id_claims["nonce"] == "n-0S6"
    assert id_claims["aud"] == emulator.client_id
    assert second.json()["error_codes"] == [54005]


def jwt_claims(token: str) -> dict[str, Any]:
    import jwt

    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_wrong_pkce_verifier_is_refused(emulator: EmulatorHandle) -> None:
    code = query(emulator.sign_in(authorize_url(emulator), "ada@contoso.test"))["code"]

    response = redeem(emulator, code, verifier="b" * 43)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_codes"] == [501481]


def test_redirect_uri_must_match_the_one_used_to_authorize(emulator: EmulatorHandle) -> None:
    code = query(emulator.sign_in(authorize_url(emulator), "ada@contoso.test"))["code"]

    response = redeem(emulator, code, redirect_uri="http://localhost/other")

    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_codes"] == [50011]


def test_unregistered_redirect_uri_shows_an_error_page_instead_of_redirecting(
    emulator: EmulatorHandle,
) -> None:
    with emulator.browser() as browser:
        response = browser.get(authorize_url(emulator, redirect_uri="http://evil.test/cb"))

    assert response.status_code == 400
    assert "AADSTS50011" in response.text


def test_cancel_on_the_sign_in_page_redirects_with_access_denied(emulator: EmulatorHandle) -> None:
    with emulator.browser() as browser:
        page = browser.get(authorize_url(emulator))
        action, fields = page_form(page.text)
        response = browser.post(emulator.ui_url + action, data={**fields, "decision": "cancel"})

    answer = query(response.headers["location"])
    assert answer["error"] == "access_denied"
    assert answer["state"] == "xyz"


def test_wrong_password_shows_the_form_again(emulator: EmulatorHandle) -> None:
    with emulator.browser() as browser:
        page = browser.get(authorize_url(emulator))
        action, fields = page_form(page.text)
        fields.update(username="ada@contoso.test", password="wrong", decision="signin")
        response = browser.post(emulator.ui_url + action, data=fields)

    assert response.status_code == 200
    assert "AADSTS50126" in response.text


def test_declining_consent_redirects_with_an_error(emulator: EmulatorHandle) -> None:
    redirect = emulator.sign_in(authorize_url(emulator), "ada@contoso.test", consent=False)

    assert query(redirect)["error"] == "access_denied"
    assert query(redirect)["error_description"].startswith("AADSTS65004")


def test_tenant_without_user_consent_shows_need_admin_approval(emulator: EmulatorHandle) -> None:
    seed_consent_off_tenant(emulator)
    browser = emulator.browser()
    page = browser.get(authorize_url(emulator))
    action, fields = page_form(page.text)

    answer = browser.post(
        emulator.ui_url + action,
        data={**fields, "username": "ben@fabrikam.test", "password": PASSWORD},
    )

    assert answer.status_code == 200
    assert "Need admin approval" in answer.text
    assert "Return to the application without granting consent" in answer.text


def test_returning_without_consent_answers_access_denied_65004(emulator: EmulatorHandle) -> None:
    seed_consent_off_tenant(emulator)

    redirect = emulator.sign_in(authorize_url(emulator), "ben@fabrikam.test")

    assert query(redirect)["error"] == "access_denied"
    assert query(redirect)["error_description"].startswith("AADSTS65004")
    assert query(redirect)["state"] == "xyz"


def test_need_admin_approval_lets_an_admin_sign_in_instead(emulator: EmulatorHandle) -> None:
    seed_consent_off_tenant(emulator)
    browser = emulator.browser()
    action, fields = page_form(browser.get(authorize_url(emulator)).text)
    page = browser.post(
        emulator.ui_url + action,
        data={**fields, "username": "ben@fabrikam.test", "password": PASSWORD},
    )
    action, fields = page_form(page.text)

    answer = browser.post(emulator.ui_url + action, data={**fields, "decision": "admin"})

    assert page_form(answer.text)[1]["step"] == "signin"


def test_admin_consent_flow_grants_the_app_in_that_tenant(emulator: EmulatorHandle) -> None:
    seed_consent_off_tenant(emulator)
    url = f"{emulator.ui_url}/organizations/v2.0/adminconsent?" + urlencode(
        {
            "client_id": CLIENT_ID,
            "scope": "https://graph.microsoft.com/.default",
            "redirect_uri": emulator.redirect_uri,
            "state": "s1",
        }
    )

    redirect = emulator.sign_in(url, "boss@fabrikam.test")

    fabrikam = emulator.backend.tenant("fabrikam.test")
    assert fabrikam is not None
    assert query(redirect) == {
        "admin_consent": "True",
        "tenant": fabrikam.id,
        "scope": "https://graph.microsoft.com/.default",
        "state": "s1",
    }
    after = emulator.sign_in(authorize_url(emulator), "ben@fabrikam.test")
    assert "code" in query(after)
    assert emulator.app_token(fabrikam.id)


DELEGATED_ONLY = (
    "https://graph.microsoft.com/Calendars.ReadWrite https://graph.microsoft.com/User.Read "
    "offline_access openid profile"
)


def test_admin_consent_to_named_scopes_grants_no_application_permission(
    emulator: EmulatorHandle,
) -> None:
    seed_consent_off_tenant(emulator)
    url = f"{emulator.ui_url}/organizations/v2.0/adminconsent?" + urlencode(
        {"client_id": CLIENT_ID, "scope": DELEGATED_ONLY, "redirect_uri": emulator.redirect_uri}
    )

    redirect = emulator.sign_in(url, "boss@fabrikam.test")

    fabrikam = emulator.backend.tenant("fabrikam.test")
    assert fabrikam is not None
    assert query(redirect)["admin_consent"] == "True"
    assert "code" in query(emulator.sign_in(authorize_url(emulator), "ben@fabrikam.test"))
    assert not emulator.backend.is_admin_consented(CLIENT_ID, fabrikam.id)
    token = emulator.app_token(fabrikam.id)
    assert emulator.graph("GET", "/users/ben@fabrikam.test/events", token).status_code == 403


def test_admin_consent_page_lists_only_the_named_scopes(emulator: EmulatorHandle) -> None:
    seed_consent_off_tenant(emulator)
    url = f"{emulator.ui_url}/fabrikam.test/v2.0/adminconsent?" + urlencode(
        {"client_id": CLIENT_ID, "scope": DELEGATED_ONLY, "redirect_uri": emulator.redirect_uri}
    )
    with emulator.browser() as browser:
        action, fields = page_form(browser.get(url).text)
        fields.update(username="boss@fabrikam.test", password=PASSWORD, decision="signin")
        page = browser.post(emulator.ui_url + action, data=fields)

    assert "Calendars.ReadWrite</code> (on behalf of signed-in users)" in page.text
    assert "(application, all mailboxes)" not in page.text


def test_admin_consent_refuses_a_non_administrator(emulator: EmulatorHandle) -> None:
    seed_consent_off_tenant(emulator)
    url = f"{emulator.ui_url}/fabrikam.test/v2.0/adminconsent?" + urlencode(
        {"client_id": CLIENT_ID, "redirect_uri": emulator.redirect_uri, "state": "s1"}
    )
    with emulator.browser() as browser:
        page = browser.get(url)
        action, fields = page_form(page.text)
        fields.update(username="ben@fabrikam.test", password=PASSWORD)
        response = browser.post(emulator.ui_url + action, data=fields)

    assert "AADSTS90094" in response.text
    assert not emulator.backend.is_admin_consented(
        CLIENT_ID, emulator.backend.tenant("fabrikam.test").id
    )  # type: ignore[union-attr]


def test_prompt_none_without_a_session_answers_login_required(emulator: EmulatorHandle) -> None:
    with emulator.browser() as browser:
        response = browser.get(authorize_url(emulator, prompt="none"))

    assert query(response.headers["location"])["error"] == "login_required"


def test_second_authorize_signs_in_silently_with_the_session(emulator: EmulatorHandle) -> None:
    with emulator.browser() as browser:
        from m365_emulator.testing import browser_sign_in

        browser_sign_in(browser, authorize_url(emulator), "ada@contoso.test", PASSWORD)
        response = browser.get(authorize_url(emulator, prompt="none"))

    assert "code" in query(response.headers["location"])


def test_form_post_response_mode_posts_the_code(emulator: EmulatorHandle) -> None:
    redirect = emulator.sign_in(
        authorize_url(emulator, response_mode="form_post"), "ada@contoso.test"
    )

    assert redirect.startswith(emulator.redirect_uri)
    assert "code" in query(redirect)


def sign_in_ada(emulator: EmulatorHandle, browser: httpx.Client) -> None:
    from m365_emulator.testing import browser_sign_in

    browser_sign_in(browser, authorize_url(emulator), "ada@contoso.test", PASSWORD)


def test_prompt_select_account_offers_the_signed_in_account(emulator: EmulatorHandle) -> None:
    ada = emulator.backend.user("ada@contoso.test")
    assert ada is not None
    with emulator.browser() as browser:
        sign_in_ada(emulator, browser)
        page = browser.get(authorize_url(emulator, prompt="select_account"))
        action, fields = page_form(page.text)
        chosen = browser.post(emulator.ui_url + action, data={**fields, "account": ada.id})

    assert fields["step"] == "select"
    assert "ada@contoso.test" in page.text
    assert "code" in query(chosen.headers["location"])


def test_prompt_login_asks_for_credentials_despite_the_session(emulator: EmulatorHandle) -> None:
    with emulator.browser() as browser:
        sign_in_ada(emulator, browser)
        page = browser.get(authorize_url(emulator, prompt="login"))

    assert page_form(page.text)[1]["step"] == "signin"


def test_prompt_consent_asks_again_after_consent(emulator: EmulatorHandle) -> None:
    with emulator.browser() as browser:
        sign_in_ada(emulator, browser)
        page = browser.get(authorize_url(emulator, prompt="consent"))

    assert page_form(page.text)[1]["step"] == "consent"


def test_user_of_another_tenant_cannot_sign_in_to_a_tenant_authority(
    emulator: EmulatorHandle,
) -> None:
    with emulator.browser() as browser:
        page = browser.get(authorize_url(emulator, tenant="convene-platform.test"))
        action, fields = page_form(page.text)
        fields.update(username="ada@contoso.test", password=PASSWORD)
        response = browser.post(emulator.ui_url + action, data=fields)

    assert "AADSTS50020" in response.text


def test_session_of_another_tenant_does_not_sign_in_silently(emulator: EmulatorHandle) -> None:
    with emulator.browser() as browser:
        sign_in_ada(emulator, browser)
        response = browser.get(
            authorize_url(emulator, tenant="convene-platform.test", prompt="none")
        )

    assert query(response.headers["location"])["error"] == "login_required"
