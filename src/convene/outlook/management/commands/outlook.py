"""``manage.py outlook status | resync [--event ID | --all] | rotate_keys``."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, F

from convene.events import series
from convene.outlook import tasks
from convene.outlook.microsoft import crypto
from convene.outlook.models import (
    CalendarLink,
    ConnectionStatus,
    LinkState,
    OutlookConnection,
    OutlookSettings,
)
from convene.outlook.outbound import queueing
from convene.outlook.outbound import series as outbound_series


class Command(BaseCommand):
    help = "Outlook integration: see where sync stands, sync again, rotate encryption keys."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("status", help="Counts of events by sync state, and connections.")
        resync = actions.add_parser("resync", help="Queue events for sync now.")
        which = resync.add_mutually_exclusive_group(required=True)
        which.add_argument("--event", type=int, help="One event, by id.")
        which.add_argument("--all", action="store_true", help="Every upcoming event.")
        actions.add_parser(
            "rotate_keys", help="Re-encrypt stored authorizations under the newest key."
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"_{action}")(**options)

    def _status(self, **options: Any) -> None:
        outlook = OutlookSettings.load()
        state = "on" if outlook.enabled else "off"
        self.stdout.write(f"Outlook sync: {state} ({outlook.get_mode_display()})")
        counts = dict(
            CalendarLink.objects.values_list("state").annotate(n=Count("pk")).order_by("state")
        )
        for value, label in LinkState.choices:
            self.stdout.write(f"  {label:<28} {counts.get(value, 0):>6}")
        behind = CalendarLink.objects.filter(synced_version__lt=F("desired_version")).count()
        self.stdout.write(f"  {'Behind (changes not sent)':<28} {behind:>6}")
        linked = series.counts_of(outbound_series.linked_series())
        self.stdout.write(
            f"Series: {linked.series} (one Outlook series each), {linked.in_words()}; "
            "changed and cancelled sessions are exceptions of their series"
        )
        lost = OutlookConnection.objects.filter(status=ConnectionStatus.NEEDS_AUTHORIZATION)
        self.stdout.write(
            f"Connections: {OutlookConnection.objects.count()}, needing authorization: "
            f"{lost.count()}"
        )
        for connection in lost.select_related("user"):
            self.stdout.write(f"  {connection.user.email} ({connection.account_username})")

    def _resync(self, event: int | None = None, all: bool = False, **options: Any) -> None:
        if not OutlookSettings.load().enabled:
            raise CommandError("Outlook sync is switched off; switch it on first.")
        if event is not None:
            link = CalendarLink.objects.filter(event_id=event).first()
            if link is None:
                raise CommandError(f"Event {event} is not tracked in Outlook.")
            queueing.retry_now(link, tasks.enqueue_sync, compare_again=True)
            words = series.summary(link.event)
            what = f"{words} ({event})" if words else f"Event {event}"
            self.stdout.write(f"{what} queued for sync.")
            return
        links = list(CalendarLink.objects.all())
        for done, link in enumerate(links, start=1):
            queueing.retry_now(link, tasks.enqueue_sync, compare_again=True)
            self._progress(done, len(links))
        among = series.counts_of(outbound_series.linked_series())
        self.stdout.write(
            f"\n{len(links)} events queued for sync"
            + (f", {among.series} of them series ({among.in_words()})." if among.series else ".")
        )

    def _rotate_keys(self, **options: Any) -> None:
        connections = list(OutlookConnection.objects.all())
        for done, connection in enumerate(connections, start=1):
            OutlookConnection.objects.filter(pk=connection.pk).update(
                encrypted_token_cache=crypto.reencrypt(connection.encrypted_token_cache)
            )
            self._progress(done, len(connections))
        self.stdout.write(f"\n{len(connections)} authorizations re-encrypted under the newest key.")

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        bar = "#" * filled + "-" * (width - filled)
        end = "\r" if sys.stdout.isatty() else "\n" if done == total else ""
        if end:
            self.stdout.write(f"[{bar}] {done}/{total}", ending=end)
