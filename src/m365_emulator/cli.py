"""``python -m m365_emulator serve``: run the emulator until interrupted."""

from __future__ import annotations

import argparse
import gc
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from m365_emulator.config import EmulatorConfig
from m365_emulator.seed import SeedError
from m365_emulator.server import start_emulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m m365_emulator",
        description="A local Microsoft 365: identity platform and Graph calendar API.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API (TLS) and UI servers")
    serve.add_argument(
        "--data-dir",
        required=True,
        type=Path,
        help="keeps the CA, the server certificate and endpoints.json",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--api-port", type=int, default=8443, help="TLS API port (0: any free)")
    serve.add_argument("--ui-port", type=int, default=8080, help="UI port (0: any free)")
    serve.add_argument("--seed", type=Path, help="JSON seed file (tenants, users, apps)")
    serve.add_argument("--latency-ms", type=int, default=0, help="added to each Graph request")
    serve.add_argument("--jitter-ms", type=int, default=0, help="random extra latency, 0..N ms")
    serve.add_argument(
        "--public-host",
        help="host name for the pages a browser opens (sign-in, viewer), e.g. one mapped to "
        "127.0.0.1, so they are another site than the app's; added to the certificate",
    )
    serve.add_argument(
        "--service-ms",
        type=int,
        default=EmulatorConfig.mailbox_service_ms,
        help="Exchange's time on each mailbox request, holding a concurrency slot (+-50%%)",
    )
    serve.add_argument(
        "--recipients-per-day",
        type=int,
        default=EmulatorConfig.sending_recipients_per_day,
        help="recipients each mailbox may send meeting messages to in 24 hours",
    )
    serve.add_argument(
        "--allow-http-webhooks",
        action="store_true",
        help="accept plain http:// notificationUrls (local development; Graph requires https)",
    )
    return parser


def freeze_after_full_collections() -> None:
    """Keep the garbage collector's full collections short however much the mailboxes hold.

    A full collection walks every object the process has, and CPython runs one each time the
    objects grew by a quarter: in the platform backfill (1,000 meetings of 30 people, some
    60,000 events and messages) it stopped the whole emulator, every mailbox's requests, for
    0.1 s, then ever longer, 0.8 s near the end: time no request of Microsoft's waits. Objects
    that survived a full collection are moved out of the collector's sight (``gc.freeze``),
    so the next full collection walks only what is newer. The store's events and messages
    are still freed when deleted (by reference counting); only garbage cycles among frozen
    objects stay, which the emulator's model does not make."""

    def freeze(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info.get("generation") == 2:
            gc.freeze()

    if freeze not in gc.callbacks:
        gc.callbacks.append(freeze)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    freeze_after_full_collections()
    config = EmulatorConfig(
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        mailbox_service_ms=args.service_ms,
        sending_recipients_per_day=args.recipients_per_day,
        allow_http_notification_urls=args.allow_http_webhooks,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with start_emulator(
            data_dir=args.data_dir,
            seed=args.seed,
            config=config,
            host=args.host,
            api_port=args.api_port,
            ui_port=args.ui_port,
            public_host=args.public_host,
        ) as emulator:
            print(json.dumps(emulator.endpoints()), flush=True)
            print(f"endpoints written to {args.data_dir / 'endpoints.json'}", file=sys.stderr)
            while not stop.wait(0.5):
                if not emulator.running:
                    return 1
    except (OSError, SeedError, ValueError) as exc:
        print(f"m365_emulator: {exc}", file=sys.stderr)
        return 2
    return 0
