"""The per-mailbox request slots within one worker process."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from convene.outlook.mailboxes import limits

MAILBOX = "service@platform.test"


def test_threads_of_one_process_wait_for_each_other_without_polling_the_database(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    polls: list[float] = []
    real_sleep = time.sleep

    class Clock:
        """``time`` as mailboxes/limits.py sees it, counting its waits for a free database slot."""

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            polls.append(seconds)
            real_sleep(seconds)

    monkeypatch.setattr(limits, "time", Clock())
    in_flight = 0
    most = 0
    lock = threading.Lock()

    def request() -> None:
        nonlocal in_flight, most
        with limits.mailbox_slot(MAILBOX):
            with lock:
                in_flight += 1
                most = max(most, in_flight)
            real_sleep(0.05)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=request) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most == limits.CONCURRENCY
    assert polls == []


def test_a_slot_not_free_in_time_is_a_transient_failure(transactional_db: None) -> None:
    release = threading.Event()
    holding = threading.Barrier(limits.CONCURRENCY + 1)

    def hold() -> None:
        with limits.mailbox_slot(MAILBOX):
            holding.wait()
            release.wait(5)

    threads = [threading.Thread(target=hold) for _ in range(limits.CONCURRENCY)]
    for thread in threads:
        thread.start()
    holding.wait()
    try:
        with pytest.raises(limits.Transient), limits.mailbox_slot(MAILBOX, max_wait=0.2):
            pass
    finally:
        release.set()
        for thread in threads:
            thread.join()


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_batches_hold_all_four_slots_and_never_block_each_other(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch, processes: bool
) -> None:
    if processes:
        # Each thread its own process: nothing shared in memory, the database alone decides.
        monkeypatch.setattr(
            limits, "_local_slots", lambda mailbox: threading.BoundedSemaphore(limits.CONCURRENCY)
        )
        monkeypatch.setattr(limits, "_local_gatherer", lambda mailbox: threading.Lock())
    in_flight = 0
    most = 0
    done = 0
    lock = threading.Lock()

    def request(slots: int) -> None:
        nonlocal in_flight, most, done
        with limits.mailbox_slot(MAILBOX, slots=slots, max_wait=20):
            with lock:
                in_flight += slots
                most = max(most, in_flight)
            time.sleep(0.02)
            with lock:
                in_flight -= slots
        with lock:
            done += 1

    sizes = [limits.CONCURRENCY if n % 3 == 0 else 1 for n in range(18)]
    threads = [threading.Thread(target=request, args=(size,)) for size in sizes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert done == len(sizes)
    assert most == limits.CONCURRENCY


def test_a_mailbox_has_only_four_slots_to_hold(transactional_db: None) -> None:
    with pytest.raises(ValueError), limits.mailbox_slot(MAILBOX, slots=5):
        pass
