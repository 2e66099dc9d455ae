"""The processes one scenario runs against, as in production, on a fresh temporary var dir.

- the Microsoft 365 emulator: ``python -m m365_emulator serve`` with Microsoft's limits on and
  ``--latency-ms 80 --jitter-ms 40`` (100 ms +- 20 ms per Graph request), seeded from the
  scenario's people with ``convene.outlook.emulator_setup`` (as ``make run`` does);
- Convene's web server: ``uvicorn convene.asgi:application``;
- Huey workers: ``python manage.py run_huey --workers N`` (threads), one or more processes;
- the database: a SQLite file in the var dir, or a fresh PostgreSQL database; the queue: Huey's
  SQLite file in the var dir, or a flushed Redis database.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from cryptography.fernet import Fernet

from benchmarks.procs import REPOSITORY, cpu_seconds, peak_rss_mib
from convene.outlook import emulator_setup

LATENCY_MS = 80
JITTER_MS = 40
PASSWORD = "bench-Passw0rd!"
POSTGRES_URL = os.environ.get("POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# Databases are named after the scenario: BENCH_DATABASE_PREFIX keeps two runs apart (CI).
DATABASE_PREFIX = os.environ.get("BENCH_DATABASE_PREFIX", "convene_bench")
# Variables of the caller's shell that would point Convene elsewhere.
_FOREIGN = ("DATABASE_URL", "HUEY_REDIS_URL", "HUEY_IMMEDIATE", "CONVENE_PUBLIC_URL", "DEBUG")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class StackConfig:
    name: str
    postgres: bool = False  # else SQLite in the var dir
    redis: bool = False  # else Huey's SQLite queue in the var dir
    worker_processes: int = 1
    worker_threads: int = 8
    latency_ms: int = LATENCY_MS
    jitter_ms: int = JITTER_MS
    extra_env: dict[str, str] = field(default_factory=dict)


class Stack:
    """Start with ``with Stack(config) as stack``; then ``start_emulator(people)``, ``env`` for
    Django, ``start_web()``, ``start_workers()``. Everything stops on exit."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.var_dir = Path(tempfile.mkdtemp(prefix=f"convene-bench-{config.name}-"))
        self.env: dict[str, str] = {}
        self.endpoints: dict[str, str] = {}
        self.seed: dict[str, Any] = {}
        self.web_url = ""
        self.emulator: subprocess.Popen[bytes] | None = None
        self.web: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self._http: httpx.Client | None = None
        self._database_name = ""

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        # Workers first, gracefully (SIGINT lets Huey finish its tasks), then the rest.
        for process in self.workers:
            _signal(process, signal.SIGINT)
        for running in [*self.workers, self.web, self.emulator]:
            if running is not None:
                _stop(running)
        if self._http is not None:
            self._http.close()
        if self._database_name:
            _drop_database(self._database_name)
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(self.var_dir, ignore_errors=True)

    # --- the emulator -------------------------------------------------------------------

    def start_emulator(self, people: Iterable[emulator_setup.Mailbox]) -> None:
        """Seed it from ``people`` as ``make run`` does, start it, and build Convene's env."""
        api_port, self.web_port = free_port(), free_port()
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        data_dir = self.var_dir / "emulator"
        seed_file, outlook_env = emulator_setup.prepare(
            people,
            password=PASSWORD,
            data_dir=data_dir,
            api_port=api_port,
            public_url=self.web_url,
        )
        self.seed = json.loads(seed_file.read_text())
        self.emulator = self._spawn(
            "emulator",
            [
                sys.executable,
                "-m",
                "m365_emulator",
                "serve",
                "--data-dir",
                str(data_dir),
                "--api-port",
                str(api_port),
                "--ui-port",
                "0",
                "--seed",
                str(seed_file),
                "--latency-ms",
                str(self.config.latency_ms),
                "--jitter-ms",
                str(self.config.jitter_ms),
                # The latency above is Microsoft's whole answer time; no service time on top.
                "--service-ms",
                "0",
                # The backfills measure Graph's request limits. Exchange's daily limit of
                # 10,000 recipients per mailbox would hold most of the platform backfill
                # (1,000 events of 30 people from one mailbox) for days; the tests cover it.
                "--recipients-per-day",
                "10000000",
                # Convene's benchmark server is plain HTTP.
                "--allow-http-webhooks",
            ],
            env=os.environ.copy(),
        )
        endpoints = data_dir / "endpoints.json"
        _wait_for(lambda: endpoints.exists(), self.emulator, "the emulator", timeout=30)
        self.endpoints = json.loads(endpoints.read_text())
        self._http = httpx.Client(verify=outlook_env["OUTLOOK_CA_BUNDLE"], timeout=60)
        self.env = self._convene_env(outlook_env)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        assert self._http is not None, "start_emulator first"
        response = self._http.request(
            method, f"{self.endpoints['authority']}/_emulator{path}", json=body
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.control("GET", "/stats")
        return stats

    def reset_emulator(self) -> None:
        """Forget every mailbox and counter, and seed the same people again."""
        self.control("POST", "/reset")
        self.control("POST", "/seed", self.seed)
        self.control("POST", "/stats/reset")

    def tenant_id(self, domain: str) -> str:
        for tenant in self.control("GET", "/directory")["tenants"]:
            if tenant["domain"] == domain:
                return str(tenant["id"])
        raise LookupError(domain)

    # --- Convene ------------------------------------------------------------------------

    def _convene_env(self, outlook_env: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "convene.settings",
                "CONVENE_VAR_DIR": str(self.var_dir),
                "SECRET_KEY": secrets.token_urlsafe(50),
                "OUTLOOK_TOKEN_KEYS": Fernet.generate_key().decode(),
                # Plain HTTP on loopback, production otherwise (DEBUG off).
                "DEBUG": "0",
                "CONVENE_SECURE_COOKIES": "0",
                "PYTHONUNBUFFERED": "1",
                **outlook_env,
            }
        )
        if self.config.postgres:
            self._database_name = f"{DATABASE_PREFIX}_{self.config.name.replace('-', '_')}"
            env["DATABASE_URL"] = _create_database(self._database_name)
        if self.config.redis:
            _flush_redis(REDIS_URL)
            env["HUEY_REDIS_URL"] = REDIS_URL
        env.update(self.config.extra_env)
        return env

    def start_web(self) -> None:
        self.web = self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "convene.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.web_port),
                "--no-access-log",
                "--log-level",
                "warning",
                # BENCH_WEB_WORKERS=N: N uvicorn processes (each runs Django's synchronous
                # views one at a time).
                *(
                    ["--workers", os.environ["BENCH_WEB_WORKERS"]]
                    if os.environ.get("BENCH_WEB_WORKERS")
                    else []
                ),
            ],
        )

        def answers() -> bool:
            try:
                return httpx.get(f"{self.web_url}/accounts/sign-in/", timeout=2).status_code < 500
            except httpx.HTTPError:
                return False

        _wait_for(answers, self.web, "the web server", timeout=60)

    def start_workers(self) -> None:
        for number in range(self.config.worker_processes):
            self.workers.append(self.start_worker(number))
        time.sleep(1.0)  # let them import Django and start polling
        for process in self.workers:
            if process.poll() is not None:
                raise RuntimeError(f"a worker exited at start; see {self.var_dir}/worker*.log")

    def start_worker(self, number: int) -> subprocess.Popen[bytes]:
        """Worker process ``number`` (from 0), not yet in ``workers``; also a restart of it
        (its log goes on in the same file)."""
        return self._spawn(
            f"worker{number + 1}",
            [
                sys.executable,
                str(REPOSITORY / "manage.py"),
                "run_huey",
                "--workers",
                str(self.config.worker_threads),
                # e.g. "--max-delay 0.5": try consumer settings without editing code.
                *os.environ.get("BENCH_HUEY_ARGS", "").split(),
            ],
        )

    def emulator_cpu_seconds(self) -> float:
        assert self.emulator is not None
        return cpu_seconds(self.emulator.pid)

    def worker_cpu_seconds(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.workers)

    def peak_memory(self) -> dict[str, float]:
        memory = {f"worker{i + 1}": peak_rss_mib(p.pid) for i, p in enumerate(self.workers)}
        if self.web is not None:
            memory["web"] = peak_rss_mib(self.web.pid)
        return memory

    # --- plumbing -----------------------------------------------------------------------

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.var_dir / f"{name}.log").open("ab")
        return subprocess.Popen(
            command,
            cwd=REPOSITORY,
            env=env if env is not None else self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _wait_for(ready: Any, process: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {timeout:.0f} s")
        time.sleep(0.1)


def _signal(process: subprocess.Popen[bytes], number: int) -> None:
    if process.poll() is None:
        process.send_signal(number)


def _stop(process: subprocess.Popen[bytes]) -> None:
    _signal(process, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _create_database(name: str) -> str:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return _with_database(POSTGRES_URL, name)


def _drop_database(name: str) -> None:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass  # the next run drops it first anyway


def _flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def reachable(postgres_url: str = POSTGRES_URL, redis_url: str = REDIS_URL) -> dict[str, str]:
    """Which of PostgreSQL and Redis cannot be reached (name -> why); empty when both can."""
    problems = {}
    try:
        import psycopg

        psycopg.connect(postgres_url, connect_timeout=3).close()
    except Exception as exc:
        problems["PostgreSQL"] = f"{postgres_url}: {exc}"
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:
        problems["Redis"] = f"{redis_url}: {exc}"
    return problems
