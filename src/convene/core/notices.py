"""Telling one person something that happened while they were away: in the app and by email.

Apps call ``notify``; the layout shows the unread count, ``/notices/`` lists them. The email goes
out after the surrounding transaction commits, and a mail outage never breaks the caller.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from convene.accounts.models import User
from convene.core.models import Notice
from convene.core.validators import one_line

log = logging.getLogger(__name__)


def notify(user: User, text: str, *, url: str = "", email_subject: str = "") -> Notice:
    """Leave ``user`` a notice; with ``email_subject``, also email it (``url`` made absolute
    by the caller when it should work outside the app)."""
    notice = Notice.objects.create(user=user, text=text[:500], url=url[:500])
    if email_subject and user.email:
        transaction.on_commit(lambda: _email(user.pk, user.email, email_subject, text, url))
    return notice


def unread_count(user: User) -> int:
    return Notice.objects.filter(user=user, read_at__isnull=True).count()


def mark_all_read(user: User) -> int:
    return Notice.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


def _email(user_id: int, address: str, subject: str, text: str, url: str) -> None:
    body = f"{text}\n\n{url}" if url else text
    try:
        send_mail(f"Convene: {one_line(subject)}", body, settings.DEFAULT_FROM_EMAIL, [address])
    except Exception as problem:
        # Whatever the mail system refuses (a server that is down, a header it will not
        # send), the caller's work is done and the notice in the app still tells them: a
        # worker that raised here would fail every other item of its batch.
        log.warning("Could not email notice to user %s: %s", user_id, type(problem).__name__)
