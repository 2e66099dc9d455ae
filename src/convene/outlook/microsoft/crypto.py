"""Encryption at rest for Outlook authorizations.

Keys come from ``OUTLOOK_TOKEN_KEYS`` (comma-separated Fernet keys, newest first): the first
encrypts, every one decrypts, so keys rotate by prepending a new one, running
``manage.py outlook rotate_keys``, then dropping the old one.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class UndecryptableToken(Exception):
    """Stored ciphertext that none of the configured keys opens (a key was dropped too early)."""


@cache
def _keys(configured: tuple[str, ...]) -> MultiFernet:
    if not configured:
        raise RuntimeError("OUTLOOK_TOKEN_KEYS is empty: Convene cannot store authorizations.")
    return MultiFernet([Fernet(key.encode()) for key in configured])


def _fernet() -> MultiFernet:
    return _keys(tuple(settings.OUTLOOK_TOKEN_KEYS))


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise UndecryptableToken("No configured key decrypts this authorization.") from exc


def reencrypt(ciphertext: str) -> str:
    """The same plaintext under the newest key."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise UndecryptableToken("No configured key decrypts this authorization.") from exc


def seal(plaintext: str) -> str:
    """Encrypt something that must travel through the browser, e.g. in a URL."""
    return encrypt(plaintext)


def unseal(sealed: str, *, max_age_seconds: int) -> str:
    """Open what ``seal`` made, refusing it once older than ``max_age_seconds``."""
    try:
        return _fernet().decrypt(sealed.encode(), ttl=max_age_seconds).decode()
    except InvalidToken as exc:
        raise UndecryptableToken("Sealed value is forged, damaged or expired.") from exc


def new_key() -> str:
    return Fernet.generate_key().decode()
