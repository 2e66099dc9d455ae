"""The two HTTP servers of the emulator and the thread that runs them.

* API port (TLS): identity platform (discovery, keys, token), Graph under ``/v1.0`` and the
  control API under ``/_emulator``.
* UI port (plain HTTP): pages a person opens - sign-in, consent, the mailbox viewer.

``start_emulator`` runs both with uvicorn on one event loop in a background thread. The CLI and
the test fixtures use it alike, so tests exercise exactly what ``python -m m365_emulator`` runs.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount

from m365_emulator.backend import Backend
from m365_emulator.certs import ensure_tls_files
from m365_emulator.config import EmulatorConfig
from m365_emulator.control import routes as control
from m365_emulator.errors import GraphError
from m365_emulator.faults import FaultMiddleware, KeepRawSend
from m365_emulator.graph import routes as graph
from m365_emulator.identity import routes as identity
from m365_emulator.middleware import (
    RequestIdMiddleware,
    graph_error_response,
    not_found_response,
)
from m365_emulator.ui import home_routes


def build_api_app(backend: Backend) -> Starlette:
    async def on_graph_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GraphError)
        return graph_error_response(backend, request, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return not_found_response(backend, request, exc)

    routes: list[BaseRoute] = [
        Mount("/v1.0", routes=graph.api_routes(backend)),
        Mount("/_emulator", routes=[*control.routes(backend), *graph.control_routes(backend)]),
        *identity.api_routes(backend),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(FaultMiddleware, backend=backend),
        ],
        exception_handlers={GraphError: on_graph_error, HTTPException: on_http_error},
    )


def build_ui_app(backend: Backend) -> Starlette:
    routes: list[BaseRoute] = [
        *home_routes(backend, links=[{"url": "/mailboxes", "label": "Open the mailbox viewer"}]),
        *identity.ui_routes(backend),
        *graph.ui_routes(backend),
    ]
    return Starlette(routes=routes)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):  # noqa: S104 - a name, not a bind
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


class RunningEmulator:
    """Both servers running in a background thread; use ``start_emulator`` to get one."""

    def __init__(
        self,
        backend: Backend,
        data_dir: Path,
        host: str = "127.0.0.1",
        api_port: int = 0,
        ui_port: int = 0,
        public_host: str | None = None,
    ) -> None:
        self.backend = backend
        self.data_dir = data_dir
        self.host = host
        tls = ensure_tls_files(data_dir, _url_host(host), [public_host] if public_host else [])
        self.ca_path = tls.ca_cert
        self._api_socket = _bind(host, api_port)
        self._ui_socket = _bind(host, ui_port)
        self.api_port = int(self._api_socket.getsockname()[1])
        self.ui_port = int(self._ui_socket.getsockname()[1])
        self.authority = f"https://{_url_host(host)}:{self.api_port}"
        self.graph_url = f"{self.authority}/v1.0"
        # The pages a person opens (sign-in, consent, mailbox viewer) may be named by a host of
        # another site, as login.microsoftonline.com is for a real app; the API stays on
        # ``host`` for the clients that call it.
        self.ui_url = f"http://{public_host or _url_host(host)}:{self.ui_port}"
        backend.authority = self.authority
        backend.ui_url = self.ui_url
        common: dict[str, Any] = {
            "log_config": None,
            "log_level": "warning",
            "access_log": False,
            "lifespan": "off",
            # httptools parses HTTP in C: roughly a third more requests per CPU second than h11.
            "http": "httptools",
            "timeout_graceful_shutdown": 1,
        }
        self._api = uvicorn.Server(
            uvicorn.Config(
                KeepRawSend(build_api_app(backend)),
                ssl_certfile=str(tls.server_cert),
                ssl_keyfile=str(tls.server_key),
                **common,
            )
        )
        self._ui = uvicorn.Server(uvicorn.Config(build_ui_app(backend), **common))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    # ----- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(ready))
            except BaseException as exc:  # reported to the starting thread
                self._failure = exc
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="m365-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or self._failure is not None:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {self._failure!r}")

    async def _serve(self, ready: threading.Event) -> None:
        api = asyncio.ensure_future(self._api.serve(sockets=[self._api_socket]))
        ui = asyncio.ensure_future(self._ui.serve(sockets=[self._ui_socket]))
        while not (self._api.started and self._ui.started):
            if api.done() or ui.done():
                break
            await asyncio.sleep(0.005)
        ready.set()
        await asyncio.gather(api, ui)

    def stop(self, timeout: float = 10.0) -> None:
        self._api.should_exit = True
        self._ui.should_exit = True
        if self._loop is not None and self.running:
            # Idle keep-alive TLS connections would otherwise hold shutdown until the graceful
            # timeout, waiting for a close_notify the client never sends.
            self._loop.call_soon_threadsafe(self._abort_connections)
        if self._thread is not None:
            self._thread.join(timeout)
        for sock in (self._api_socket, self._ui_socket):
            sock.close()

    def _abort_connections(self) -> None:
        for server in (self._api, self._ui):
            for connection in list(server.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self) -> None:
        """Block until the servers stop (the CLI's main loop)."""
        while self.running:
            assert self._thread is not None
            self._thread.join(0.5)

    # ----- conveniences --------------------------------------------------------------------

    def endpoints(self) -> dict[str, str]:
        """What ``endpoints.json`` holds (see docs/emulator.md)."""
        return {
            "authority": self.authority,
            "graph": self.graph_url,
            "ui": self.ui_url,
            "ca_cert": str(self.ca_path),
        }

    def write_endpoints(self) -> Path:
        path = self.data_dir / "endpoints.json"
        path.write_text(json.dumps(self.endpoints(), indent=2) + "\n")
        return path


@contextmanager
def start_emulator(
    data_dir: str | Path | None = None,
    seed: Mapping[str, Any] | str | Path | None = None,
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    api_port: int = 0,
    ui_port: int = 0,
    public_host: str | None = None,
) -> Iterator[RunningEmulator]:
    """Run the emulator until the ``with`` block ends.

    ``data_dir`` keeps the CA and ``endpoints.json``; without one a temporary directory is used
    and removed afterwards. ``seed`` is a seed document or the path of a JSON file with one.
    ``public_host`` names the pages a browser opens (``ui_url``) with a host of its own, e.g. one
    mapped to the loopback address, so they are another site than the app's; the server
    certificate covers it too.
    """
    temporary = data_dir is None
    directory = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="m365-"))
    try:
        backend = Backend(config=config)
        if seed is not None:
            backend.seed(load_seed(seed))
        emulator = RunningEmulator(backend, directory, host, api_port, ui_port, public_host)
        emulator.start()
        try:
            emulator.write_endpoints()
            yield emulator
        finally:
            emulator.stop()
    finally:
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)


def load_seed(seed: Mapping[str, Any] | str | Path) -> Mapping[str, Any]:
    if isinstance(seed, Mapping):
        return seed
    data = json.loads(Path(seed).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{seed}: a seed file holds a JSON object")
    return data
