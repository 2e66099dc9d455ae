"""Start Convene for development: web server, Huey worker and, when installed, the bundled
Microsoft 365 emulator; stop them all together."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from convene.accounts.models import Role, User
from convene.core.processes import ChildSpec, Supervisor
from convene.events.demo import DEMO_PASSWORD, sign_in_lines
from convene.outlook import emulator_setup

EMULATOR_API_PORT = 8443
EMULATOR_UI_PORT = 8080


def emulator_installed() -> bool:
    try:
        return importlib.util.find_spec("m365_emulator.__main__") is not None
    except ModuleNotFoundError:
        return False


def dev_children(
    *,
    python: str,
    manage_py: Path,
    port: int,
    var_dir: Path,
    with_emulator: bool,
    emulator_seed: Path | None = None,
) -> list[ChildSpec]:
    children = [
        ChildSpec("web", [python, str(manage_py), "runserver", f"127.0.0.1:{port}"]),
        # Threads: sync work mostly waits on Microsoft, so a few run side by side.
        ChildSpec("worker", [python, str(manage_py), "run_huey", "--workers", "4"]),
    ]
    if with_emulator:
        children.insert(
            0,
            ChildSpec(
                "emulator",
                [
                    python,
                    "-m",
                    "m365_emulator",
                    "serve",
                    "--data-dir",
                    str(var_dir / "emulator"),
                    "--api-port",
                    str(EMULATOR_API_PORT),
                    "--ui-port",
                    str(EMULATOR_UI_PORT),
                    # Convene's dev server is plain HTTP; Graph itself takes only https webhooks.
                    "--allow-http-webhooks",
                    *(["--seed", str(emulator_seed)] if emulator_seed else []),
                ],
            ),
        )
    return children


def dev_environment(environ: dict[str, str]) -> dict[str, str]:
    """The children's environment: DEBUG on unless set, output unbuffered so logs interleave."""
    return {**environ, "DEBUG": environ.get("DEBUG", "1"), "PYTHONUNBUFFERED": "1"}


class Command(BaseCommand):
    help = "Run the web server, the Huey worker and the Microsoft 365 emulator together."

    def handle(self, *args: Any, **options: Any) -> None:
        # What the web server, worker and emulator create (databases and their -wal/-shm,
        # queue, keys, the emulator's CA and seed) is theirs alone, whatever the shell's umask.
        os.umask(0o077)
        port = int(os.environ.get("CONVENE_PORT", "8000"))
        with_emulator = emulator_installed()
        environ = dict(os.environ)
        seed_file = None
        # The emulator stands in for Microsoft unless a real app registration is configured.
        if with_emulator and not environ.get("OUTLOOK_CLIENT_ID"):
            seed_file, outlook_environment = emulator_setup.prepare(
                (
                    emulator_setup.Mailbox(user.email, user.name, user.role == Role.ADMIN)
                    for user in User.objects.filter(is_active=True)
                ),
                password=DEMO_PASSWORD,
                data_dir=Path(settings.VAR_DIR) / "emulator",
                api_port=EMULATOR_API_PORT,
                public_url=f"http://127.0.0.1:{port}",
            )
            environ.update(outlook_environment)
        children = dev_children(
            python=sys.executable,
            manage_py=Path(settings.BASE_DIR) / "manage.py",
            port=port,
            var_dir=Path(settings.VAR_DIR),
            with_emulator=with_emulator,
            emulator_seed=seed_file,
        )
        self._announce(port, with_emulator, seeded=seed_file is not None)
        supervisor = Supervisor(children, env=dev_environment(environ))
        signal.signal(signal.SIGINT, supervisor.request_stop)
        signal.signal(signal.SIGTERM, supervisor.request_stop)
        outcome = supervisor.run()
        if outcome.died is not None:
            raise CommandError(
                f"The {outcome.died} process exited (code {outcome.returncode}); "
                "stopped the others."
            )
        self.stdout.write("Stopped.")

    def _announce(self, port: int, with_emulator: bool, seeded: bool) -> None:
        write = self.stdout.write
        write(f"Convene:             http://127.0.0.1:{port}/")
        if with_emulator:
            write(f"Microsoft 365 (UI):  http://127.0.0.1:{EMULATOR_UI_PORT}/")
            write(
                f"Outlook mailboxes:   http://127.0.0.1:{EMULATOR_UI_PORT}/mailboxes (sign in as "
                "the mailbox's owner: same email and password as on Convene)"
            )
            write(f"Microsoft 365 (API): https://127.0.0.1:{EMULATOR_API_PORT}/")
        else:
            write("Microsoft 365 emulator: not installed, skipped.")
        write("Demo sign-ins:")
        for line in sign_in_lines():
            write(line)
        if seeded:
            write(
                "Microsoft sign-in (emulator): every person above has a mailbox with the same "
                f"email and password; the platform mailbox is {emulator_setup.SERVICE_MAILBOX}."
            )
            write("Outlook sync starts off: Admin > Calendar Integration > Microsoft Outlook.")
        write("Press Ctrl-C to stop everything.")
