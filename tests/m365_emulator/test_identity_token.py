"""The token endpoint, discovery and keys, called as raw HTTP."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from m365_emulator.testing import PASSWORD, EmulatorHandle


def token_request(emulator: EmulatorHandle, tenant: str, **data: str) -> httpx.Response:
    return emulator.http.post(emulator.token_endpoint(tenant), data=data)


def password_grant(
    emulator: EmulatorHandle, upn: str, password: str = PASSWORD, **extra: str
) -> httpx.Response:
    return token_request(
        emulator,
        "organizations",
        grant_type="password",
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        username=upn,
        password=password,
        scope="Calendars.ReadWrite offline_access openid",
        **extra,
    )


def consent(emulator: EmulatorHandle, upn: str) -> None:
    emulator.control(
        "POST", f"/apps/{emulator.client_id}/consent", {"userPrincipalName": upn}
    ).raise_for_status()


def test_discovery_document_points_sign_in_at_the_ui_port(emulator: EmulatorHandle) -> None:
    tenant = emulator.customer_tenant_id

    document = emulator.http.get(
        f"{emulator.authority}/contoso.test/v2.0/.well-known/openid-configuration"
    ).json()

    assert document["issuer"] == f"{emulator.authority}/{tenant}/v2.0"
    assert document["authorization_endpoint"] == (
        f"{emulator.ui_url}/contoso.test/oauth2/v2.0/authorize"
    )
    assert document["token_endpoint"] == f"{emulator.authority}/contoso.test/oauth2/v2.0/token"


def test_discovery_for_an_unknown_tenant_is_invalid_tenant(emulator: EmulatorHandle) -> None:
    response = emulator.http.get(
        f"{emulator.authority}/nowhere.test/v2.0/.well-known/openid-configuration"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_tenant"
    assert response.json()["error_codes"] == [90002]


def test_access_tokens_verify_with_the_published_keys(emulator: EmulatorHandle) -> None:
    token = emulator.app_token()
    jwks = emulator.http.get(f"{emulator.authority}/common/discovery/v2.0/keys").json()

    [key] = jwks["keys"]
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]
    claims = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience="https://graph.microsoft.com",
        options={"verify_iat": False, "verify_nbf": False},
    )
    assert claims["appid"] == emulator.client_id


def test_error_bodies_have_microsofts_shape(emulator: EmulatorHandle) -> None:
    consent(emulator, "ada@contoso.test")

    response = password_grant(emulator, "ada@contoso.test", password="wrong")

    body = response.json()
    assert response.status_code == 400
    assert set(body) >= {
        "error",
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
    }
    assert body["error"] == "invalid_grant"
    assert body["error_codes"] == [50126]
    assert body["error_description"].startswith("AADSTS50126: ")
    assert f"\r\nTrace ID: {body['trace_id']}" in body["error_description"]


def test_password_grant_without_consent_is_consent_required(emulator: EmulatorHandle) -> None:
    body = password_grant(emulator, "ada@contoso.test").json()

    assert body["error"] == "invalid_grant"
    assert body["error_codes"] == [65001]
    assert body["suberror"] == "consent_required"


def test_password_grant_returns_the_full_token_response(emulator: EmulatorHandle) -> None:
    consent(emulator, "ada@contoso.test")

    body = password_grant(emulator, "ada@contoso.test").json()

    assert set(body) >= {
        "token_type",
        "scope",
        "expires_in",
        "ext_expires_in",
        "access_token",
        "refresh_token",
        "id_token",
        "client_info",
    }
    assert body["token_type"] == "Bearer"
    padded = body["client_info"] + "=" * (-len(body["client_info"]) % 4)
    info = base64.urlsafe_b64decode(padded)
    assert emulator.customer_tenant_id in info.decode()


def test_token_lifetime_follows_the_config(emulator: EmulatorHandle) -> None:
    emulator.control("POST", "/config", {"access_token_lifetime": 600}).raise_for_status()
    consent(emulator, "ada@contoso.test")

    assert password_grant(emulator, "ada@contoso.test").json()["expires_in"] == 600


def test_access_tokens_live_a_random_60_to_90_minutes_by_default(
    emulator: EmulatorHandle,
) -> None:
    consent(emulator, "ada@contoso.test")
    lifetimes = {
        password_grant(emulator, "ada@contoso.test").json()["expires_in"] for _ in range(8)
    }
    assert all(3600 <= seconds <= 5400 for seconds in lifetimes)
    assert len(lifetimes) > 1


def test_refresh_token_expires_after_its_lifetime(emulator: EmulatorHandle) -> None:
    emulator.control("POST", "/config", {"refresh_token_lifetime": 3600}).raise_for_status()
    consent(emulator, "ada@contoso.test")
    refresh_token = password_grant(emulator, "ada@contoso.test").json()["refresh_token"]
    emulator.advance_clock(3601)

    response = token_request(
        emulator,
        "organizations",
        grant_type="refresh_token",
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        refresh_token=refresh_token,
    )

    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_codes"] == [700082]


def test_client_credentials_needs_consent_in_that_tenant(emulator: EmulatorHandle) -> None:
    response = token_request(
        emulator,
        emulator.customer_tenant_id,
        grant_type="client_credentials",
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        scope="https://graph.microsoft.com/.default",
    )

    assert response.json()["error"] == "unauthorized_client"
    assert response.json()["error_codes"] == [700016]


def test_client_credentials_needs_the_default_scope(emulator: EmulatorHandle) -> None:
    response = token_request(
        emulator,
        emulator.platform_tenant_id,
        grant_type="client_credentials",
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        scope="https://graph.microsoft.com/Calendars.ReadWrite",
    )

    assert response.json()["error_codes"] == [1002012]


def test_client_credentials_without_a_credential_is_refused(emulator: EmulatorHandle) -> None:
    response = token_request(
        emulator,
        emulator.platform_tenant_id,
        grant_type="client_credentials",
        client_id=emulator.client_id,
        scope="https://graph.microsoft.com/.default",
    )

    assert response.status_code == 401
    assert response.json()["error_codes"] == [7000218]


def test_client_secret_may_come_in_http_basic(emulator: EmulatorHandle) -> None:
    response = emulator.http.post(
        emulator.token_endpoint(emulator.platform_tenant_id),
        data={"grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"},
        auth=(emulator.client_id, emulator.client_secret),
    )

    assert response.status_code == 200, response.text


def test_expired_authorization_code_is_refused(emulator: EmulatorHandle) -> None:
    from test_identity_authorize import authorize_url, query, redeem

    code = query(emulator.sign_in(authorize_url(emulator), "ada@contoso.test"))["code"]
    emulator.advance_clock(601)

    assert redeem(emulator, code).json()["error_codes"] == [70008]


def test_unsupported_grant_type(emulator: EmulatorHandle) -> None:
    response = token_request(
        emulator, "organizations", grant_type="urn:magic", client_id=emulator.client_id
    )

    assert response.json()["error"] == "unsupported_grant_type"


def _certificate() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "convene-test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert


@pytest.fixture(scope="module")
def certificate() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    return _certificate()


def _assertion(
    emulator: EmulatorHandle, client_id: str, key: rsa.RSAPrivateKey, cert: x509.Certificate
) -> str:
    thumbprint = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).rstrip(b"=")
    claims: dict[str, Any] = {
        "aud": emulator.token_endpoint(emulator.platform_tenant_id),
        "iss": client_id,
        "sub": client_id,
        "jti": str(uuid.uuid4()),
        "nbf": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"x5t": thumbprint.decode()})


def test_certificate_client_assertion_authenticates_the_app(
    emulator: EmulatorHandle, certificate: tuple[rsa.RSAPrivateKey, x509.Certificate]
) -> None:
    key, cert = certificate
    client_id = str(uuid.uuid4())
    emulator.control(
        "POST",
        "/seed",
        {
            "tenants": [
                {
                    "id": emulator.platform_tenant_id,
                    "domain": "convene-platform.test",
                    "apps": [
                        {
                            "clientId": client_id,
                            "applicationPermissions": ["Calendars.ReadWrite"],
                            "adminConsented": True,
                            "certificates": [
                                cert.public_bytes(serialization.Encoding.PEM).decode()
                            ],
                        }
                    ],
                }
            ]
        },
    ).raise_for_status()

    response = token_request(
        emulator,
        emulator.platform_tenant_id,
        grant_type="client_credentials",
        client_id=client_id,
        scope="https://graph.microsoft.com/.default",
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=_assertion(emulator, client_id, key, cert),
    )

    assert response.status_code == 200, response.text
    assert (
        jwt.decode(response.json()["access_token"], options={"verify_signature": False})["appidacr"]
        == "2"
    )


def test_assertion_signed_by_an_unregistered_certificate_is_refused(
    emulator: EmulatorHandle, certificate: tuple[rsa.RSAPrivateKey, x509.Certificate]
) -> None:
    key, cert = certificate

    response = token_request(
        emulator,
        emulator.platform_tenant_id,
        grant_type="client_credentials",
        client_id=emulator.client_id,
        scope="https://graph.microsoft.com/.default",
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=_assertion(emulator, emulator.client_id, key, cert),
    )

    assert response.status_code == 401
    assert response.json()["error_codes"] == [700027]
