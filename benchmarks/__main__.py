"""``python -m benchmarks`` (``make bench``): run the scenarios, save and print the table.

Each scenario group runs in a fresh process (see ``scenarios.py``). ``--quick`` (or
``--size quick``) runs small sizes for development; ``--size ci`` is what the CI test runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import report, scenarios
from benchmarks.procs import REPOSITORY, machine
from benchmarks.report import Scenario

ORDER = [
    "backfill",
    "platform",
    "burst",
    "latency",
    "replies",
    "waitlist",
    "scale-out",
    "crash",
    "chaos",
    "reconcile",
    "audit-log",
    "series",
    "emulator",
    "free-busy",
    "pages",
    "big-event",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--size", choices=sorted(scenarios.SIZES), default="full")
    parser.add_argument("--quick", action="store_true", help="same as --size quick")
    parser.add_argument(
        "--only", default="", help="comma-separated groups or scenario numbers, e.g. 1,3,scale-out"
    )
    parser.add_argument(
        "--threads", type=int, default=16, help="threads per worker process (run_huey --workers)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the msgraph-sdk run")
    parser.add_argument("--profile", action="store_true", help="py-spy the workers in 1 and 8")
    args = parser.parse_args(argv)
    size = "quick" if args.quick else args.size
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    results: list[Scenario] = []
    crashed = []
    started = time.monotonic()
    for group in ORDER:
        numbers = scenarios.GROUPS[group][0]
        if wanted and group not in wanted and not wanted & set(numbers):
            continue
        print(f"== {group} ({', '.join(numbers)}), size {size}", flush=True)
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory) / "result.json"
            command_line = [
                sys.executable,
                "-m",
                "benchmarks.scenarios",
                group,
                "--size",
                size,
                "--threads",
                str(args.threads),
                "--out",
                str(out),
                *(["--no-baseline"] if args.no_baseline else []),
                *(["--profile"] if args.profile else []),
            ]
            finished = subprocess.run(command_line, cwd=REPOSITORY, check=False)
            if finished.returncode != 0 or not out.exists():
                crashed.append(group)
                continue
            results += [Scenario.from_json(r) for r in json.loads(out.read_text())]
    results.sort(key=lambda s: (s.number[0] == "E", s.number))
    where = machine()
    # Only a run of everything replaces the latest table; a partial run is kept beside it.
    name = f"latest-{size}" if not wanted else f"partial-{size}"
    json_path, md_path = report.save(name, where, results, command.strip())
    print()
    print(md_path.read_text())
    print(
        f"Saved {json_path.relative_to(REPOSITORY)} and {md_path.relative_to(REPOSITORY)} "
        f"({time.monotonic() - started:.0f} s)."
    )
    if crashed:
        print(f"These groups crashed (see above): {', '.join(crashed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
