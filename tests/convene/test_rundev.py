"""`manage.py rundev`: which children it starts, and how they are supervised."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from convene.core.management.commands.rundev import dev_children, dev_environment
from convene.core.processes import ChildSpec, Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def names(children: list[ChildSpec]) -> list[str]:
    return [child.name for child in children]


def test_dev_children_are_web_and_worker_without_the_emulator():
    children = dev_children(
        python="py",
        manage_py=Path("manage.py"),
        port=8123,
        var_dir=Path("var"),
        with_emulator=False,
    )
    assert names(children) == ["web", "worker"]
    assert children[0].argv == ["py", "manage.py", "runserver", "127.0.0.1:8123"]
    assert children[1].argv == ["py", "manage.py", "run_huey", "--workers", "4"]


def test_dev_children_include_the_emulator_with_its_data_dir_and_ports():
    children = dev_children(
        python="py", manage_py=Path("manage.py"), port=8000, var_dir=Path("var"), with_emulator=True
    )
    assert names(children) == ["emulator", "web", "worker"]
    assert children[0].argv == [
        "py", "-m", "m365_emulator", "serve", "--data-dir", str(Path("var") / "emulator"),
        "--api-port", "8443", "--ui-port", "8080", "--allow-http-webhooks",
    ]  # fmt: skip


def test_dev_environment_turns_debug_on_unless_set():
    assert dev_environment({})["DEBUG"] == "1"
    assert dev_environment({"DEBUG": "0"})["DEBUG"] == "0"


def test_supervisor_stops_everything_when_one_child_dies():
    supervisor = Supervisor(
        [ChildSpec("steady", SLEEPER), ChildSpec("fragile", [sys.executable, "-c", "exit(3)"])]
    )
    outcome = supervisor.run()
    assert (outcome.died, outcome.returncode) == ("fragile", 3)
    assert supervisor.running["steady"].poll() is not None


def test_supervisor_stops_everything_when_asked(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    # A child that starts a grandchild, as Django's autoreloader does.
    parent = (
        "import subprocess, sys, time;"
        f"p = subprocess.Popen({SLEEPER!r});"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid));"
        "time.sleep(60)"
    )
    supervisor = Supervisor(
        [ChildSpec("a", SLEEPER), ChildSpec("b", [sys.executable, "-c", parent])]
    )
    runner = threading.Thread(target=supervisor.run)
    runner.start()
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the grandchild never started"
        time.sleep(0.05)
    supervisor.request_stop()
    runner.join(timeout=15)
    assert not runner.is_alive()
    assert all(process.poll() is not None for process in supervisor.running.values())
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while is_running(grandchild):
        assert time.monotonic() < deadline, "the grandchild outlived the supervisor"
        time.sleep(0.05)


def is_running(pid: int) -> bool:
    """Alive and not a zombie (an orphan may wait a while for someone to reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_the_start_message_says_how_to_sign_in_to_the_mailbox_viewer():
    from io import StringIO

    from convene.core.management.commands.rundev import Command

    out = StringIO()
    Command(stdout=out)._announce(8000, with_emulator=True, seeded=True)

    viewer = [line for line in out.getvalue().splitlines() if "/mailboxes" in line]
    assert viewer == [
        "Outlook mailboxes:   http://127.0.0.1:8080/mailboxes (sign in as the mailbox's owner: "
        "same email and password as on Convene)"
    ]
