"""Exchange's transport: a new meeting's invitations reach the attendees after the create is
answered.

Outlook answers a create once the organizer's event is saved; the meeting requests go out
through Exchange's transport and land in the attendees' mailboxes a little later (they are
not part of the create's answer time). The emulator delivers them on its event loop right
after the answer, one attendee at a time, so a meeting of 500 people does not hold its
create (and every other request the one loop serves) for the time 500 deliveries take.

Nobody can see the difference by reading: any use of a mailbox (a Graph request, the control
API, the viewer, free/busy) first delivers what is due to it, in the order sent, and a search
over every mailbox first delivers everything. Deliveries to rooms stay immediate (their
booking attendant's answer is part of the same model as before: ``places``), and so do
updates and cancellations, which find the invitation delivered first (they use the
attendee's mailbox).

Without a running server loop (the store used on its own), invitations are delivered at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from m365_emulator.graph.store import GraphStore

log = logging.getLogger(__name__)

Delivery = Callable[[], None]


class Transport:
    def __init__(self, store: GraphStore) -> None:
        self.store = store
        # Recipient mailbox id -> its deliveries, oldest first.
        self._pending: dict[str, list[Delivery]] = {}
        self._running = False

    def reset(self) -> None:
        with self.store.lock:
            self._pending.clear()
            # A background run of a loop gone (a server stopped) must not keep the next
            # server's from starting; a run still going ends on its own (nothing pending).
            self._running = False

    @property
    def pending(self) -> int:
        """Deliveries not made yet."""
        with self.store.lock:
            return sum(len(due) for due in self._pending.values())

    def post(self, mailbox_id: str, delivery: Delivery) -> None:
        """Deliver to ``mailbox_id`` after the current request (at once without a loop)."""
        loop = self.store.notifier.loop
        if loop is None or loop.is_closed():
            delivery()
            return
        with self.store.lock:
            self._pending.setdefault(mailbox_id, []).append(delivery)
            if self._running:
                return
            self._running = True
        loop.call_soon_threadsafe(self._start)

    def deliver_due(self, mailbox_id: str) -> None:
        """Make every delivery still due to this mailbox, in the order they were sent."""
        if not self._pending:  # the common case, without taking the lock
            return
        with self.store.lock:
            due = self._pending.pop(mailbox_id, None)
            for delivery in due or ():
                delivery()

    def deliver_all(self) -> None:
        with self.store.lock:
            while self._pending:
                self.deliver_due(next(iter(self._pending)))

    def _start(self) -> None:
        asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        """Deliver in the background, one mailbox's due deliveries at a time, letting the
        loop serve requests in between."""
        try:
            while True:
                with self.store.lock:
                    if not self._pending:
                        self._running = False
                        return
                    mailbox_id = next(iter(self._pending))
                    try:
                        self.deliver_due(mailbox_id)
                    except Exception:
                        log.exception("delivering to mailbox %s failed", mailbox_id)
                await asyncio.sleep(0)
        except BaseException:
            with self.store.lock:
                self._running = False
            raise
