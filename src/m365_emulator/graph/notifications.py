"""Delivering change and lifecycle notifications to webhooks, as Graph does: POST, retry, give up.

Deliveries run as tasks on the server's event loop, never inside the request that caused the
change, so a slow receiver does not slow Graph calls down. A receiver that fails or answers more
slowly than ``timeout_seconds`` is retried after each of ``retry_delays`` seconds, then dropped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from m365_emulator.graph.store import GraphStore

log = logging.getLogger(__name__)


@dataclass
class DeliverySettings:
    enabled: bool = True
    # Graph's own HTTP client gives a receiver 3 seconds.
    timeout_seconds: float = 3.0
    retry_delays: tuple[float, ...] = (1.0, 4.0, 16.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "timeoutSeconds": self.timeout_seconds,
            "retryDelaysSeconds": list(self.retry_delays),
        }


class Notifier:
    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.settings = DeliverySettings()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        self.settings = DeliverySettings()
        for task in list(self._tasks):
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(task.cancel)
        self._tasks.clear()

    def bind(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Remember the server's loop (deliveries may be triggered from other threads).

        Returns True the first time this loop is seen.
        """
        if self._loop is loop:
            return False
        self._loop = loop
        self._client = None
        return True

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The server's loop, once a request was served on it."""
        return self._loop

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            # Receivers are local test servers: no proxies from the environment, no TLS checks.
            self._client = httpx.AsyncClient(verify=False, trust_env=False)  # noqa: S501
        return self._client

    def send(self, url: str, body: dict[str, Any], *, lifecycle: bool = False) -> None:
        """Queue one POST of ``body`` to ``url``; returns at once."""
        if not self.settings.enabled:
            self.store.stats.notification("suppressed")
            return
        loop = self._loop
        if loop is None or loop.is_closed():
            self.store.stats.notification("suppressed")
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._start(url, body, lifecycle)
        else:
            loop.call_soon_threadsafe(self._start, url, body, lifecycle)

    def _start(self, url: str, body: dict[str, Any], lifecycle: bool) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(url, body, lifecycle))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, body: dict[str, Any], lifecycle: bool) -> None:
        settings = self.settings
        outcome = "lifecycle" if lifecycle else ""
        for attempt in range(len(settings.retry_delays) + 1):
            if attempt:
                self.store.stats.notification("retried")
                await asyncio.sleep(settings.retry_delays[attempt - 1])
            try:
                response = await self.client().post(
                    url, json=body, timeout=settings.timeout_seconds
                )
                if 200 <= response.status_code < 300:
                    self.store.stats.notification(f"{outcome}Delivered" if outcome else "delivered")
                    return
            except httpx.HTTPError as exc:
                log.debug("notification to %s failed: %s", url, exc)
        self.store.stats.notification(f"{outcome}Failed" if outcome else "failed")

    async def validate(self, url: str, token: str, timeout: float) -> str | None:
        """Run the validation handshake; None when the endpoint echoed the token, else why not."""
        try:
            response = await self.client().post(
                url,
                params={"validationToken": token},
                content=b"",
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=timeout,
            )
        except httpx.TimeoutException:
            return "Subscription validation request timed out."
        except httpx.HTTPError:
            return (
                "Subscription validation request failed. Notification endpoint must respond with "
                "200 OK to validation request."
            )
        if response.status_code != 200:
            return (
                "Subscription validation request failed. Notification endpoint must respond with "
                "200 OK to validation request."
            )
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith("text/plain") or response.text != token:
            return (
                "Subscription validation request failed. Response must exactly match "
                "validationToken query parameter."
            )
        return None
