"""How many Graph requests per second the emulator answers (latency 0, throttling off).

Starts ``python -m m365_emulator serve`` in a subprocess on free ports, seeds the standard test
world, then fires event reads and creates from several concurrent HTTPS clients and prints
requests per second. Run: ``python -m benchmarks.emulator_throughput [--seconds 5]
[--clients 8]``; the suite runs it as scenario "E".
The issue asks for at least 1,000 requests/s on one core; this prints both the wall-clock rate
(with the load generator competing for the same cores) and requests per emulator CPU-second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.procs import cpu_seconds
from m365_emulator.testing import (
    CLIENT_ID,
    CLIENT_SECRET,
    PLATFORM_TENANT_ID,
    SERVICE_MAILBOX,
    STANDARD_SEED,
)


def start_emulator(data_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    seed = data_dir / "seed.json"
    seed.write_text(json.dumps(STANDARD_SEED))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "m365_emulator",
            "serve",
            "--data-dir",
            str(data_dir),
            "--api-port",
            "0",
            "--ui-port",
            "0",
            "--seed",
            str(seed),
            # The emulator's own speed: no simulated Exchange service time.
            "--service-ms",
            "0",
        ],
        stdout=subprocess.DEVNULL,
    )
    endpoints = data_dir / "endpoints.json"
    deadline = time.monotonic() + 20
    while not endpoints.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the emulator did not start")
        time.sleep(0.05)
    time.sleep(0.1)
    return process, json.loads(endpoints.read_text())


async def measure(endpoints: dict[str, str], seconds: float, clients: int) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=endpoints["ca_cert"])
    authority, graph = endpoints["authority"], endpoints["graph"]
    async with httpx.AsyncClient(verify=context) as setup:
        await setup.post(f"{authority}/_emulator/config", json={"throttling": False})
        token = (
            await setup.post(
                f"{authority}/{PLATFORM_TENANT_ID}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "scope": "https://graph.microsoft.com/.default",
                },
            )
        ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    events = f"{graph}/users/{SERVICE_MAILBOX}/events"
    body = {
        "subject": "Bench",
        "start": {"dateTime": "2030-01-01T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-01-01T11:00:00", "timeZone": "UTC"},
    }
    counts = {"requests": 0, "errors": 0}
    stop_at = time.monotonic() + seconds

    async def client_loop(index: int) -> None:
        async with httpx.AsyncClient(verify=context, headers=headers) as client:
            created: list[str] = []
            step = 0
            while time.monotonic() < stop_at:
                step += 1
                if step % 10 == 0 or not created:
                    response = await client.post(events, json=body)
                    if response.status_code == 201:
                        created.append(response.json()["id"])
                else:
                    response = await client.get(f"{events}/{created[step % len(created)]}")
                counts["requests"] += 1
                if response.status_code >= 400:
                    counts["errors"] += 1

    started = time.monotonic()
    await asyncio.gather(*(client_loop(i) for i in range(clients)))
    elapsed = time.monotonic() - started
    return {
        **counts,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(counts["requests"] / elapsed),
    }


def run(seconds: float = 5.0, clients: int = 8) -> dict[str, Any]:
    """Start an emulator of its own, measure, stop it; the figures as a dict."""
    with tempfile.TemporaryDirectory(prefix="m365-bench-") as directory:
        process, endpoints = start_emulator(Path(directory))
        try:
            cpu_before = cpu_seconds(process.pid)
            result = asyncio.run(measure(endpoints, seconds, clients))
            # The emulator is one asyncio process: its CPU time is one core's work. Requests
            # per CPU-second is what one core sustains, whatever the load generator costs.
            emulator_cpu = cpu_seconds(process.pid) - cpu_before
        finally:
            process.terminate()
            process.wait(10)
    result["clients"] = clients
    result["cpu_cores_available"] = len(os.sched_getaffinity(0))
    result["emulator_cpu_seconds"] = round(emulator_cpu, 2)
    result["requests_per_emulator_cpu_second"] = round(result["requests"] / max(emulator_cpu, 1e-9))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    result = run(args.seconds, args.clients)
    print(json.dumps(result))
    print(
        f"emulator throughput: {result['requests_per_second']} Graph requests/s wall clock "
        f"({args.clients} clients on the same machine, {result['errors']} errors); "
        f"{result['requests_per_emulator_cpu_second']} requests per emulator CPU-second "
        "(what one core sustains)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
