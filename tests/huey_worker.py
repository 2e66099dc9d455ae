"""A real Huey consumer on threads, for tests that need tasks to run as the worker runs them.

Shared by the Outlook tests and the browser tests. Tasks go through the queue file given and
run on worker threads, polled every few milliseconds so tests wait little.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django import db
from huey.contrib.djhuey import HUEY
from huey.storage import SqliteStorage


@contextmanager
def running_worker(queue_file: Path, *, threads: int) -> Iterator[None]:
    immediate, storage = HUEY.immediate, HUEY.storage
    HUEY.immediate = False
    HUEY.storage = SqliteStorage(HUEY.name, filename=str(queue_file))
    # Each task closes its database connection when it ends (djhuey's close_db), as long as
    # connections are not kept for reuse: kept ones would outlive the worker threads and stop
    # PostgreSQL from dropping the test database at the end of the run.
    database = db.connections.settings[db.DEFAULT_DB_ALIAS]
    kept_for = database["CONN_MAX_AGE"]
    database["CONN_MAX_AGE"] = 0
    consumer = HUEY.create_consumer(
        workers=threads,
        worker_type="thread",
        periodic=False,
        initial_delay=0.01,
        backoff=1.1,
        max_delay=0.05,
        check_worker_health=False,
    )
    consumer.start()
    try:
        yield
    finally:
        consumer.stop(graceful=True)
        database["CONN_MAX_AGE"] = kept_for
        HUEY.immediate, HUEY.storage = immediate, storage
