"""Every task retry honours the server's Retry-After (issue 22, item 4).

A throttled delta read (429 with ``Retry-After: 1``) was retried after Huey's fixed 30 s; now
it is retried after the second Microsoft asked for, on the real worker, over real HTTP.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from convene.outlook import tasks
from convene.outlook.microsoft.errors import Throttled, Transient
from convene.outlook.models import DeltaCursor

from .conftest import OutlookWorld
from .test_replies_world import ADA, ALAN, create_event


def test_a_throttled_delta_read_is_retried_after_the_retry_after(outlook: OutlookWorld) -> None:
    outlook.connect(ADA)
    create_event(outlook, ALAN)
    outlook.emulator.control(
        "POST",
        "/faults",
        {
            "rules": [
                {
                    "endpoint": "graph",
                    "path": "delta",
                    "status": 429,
                    "headers": {"Retry-After": "1"},
                    "count": 1,
                }
            ]
        },
    ).raise_for_status()

    tasks.delta_task(ADA)

    # Within a few seconds, not Huey's fixed delay of 30 s.
    outlook.wait_until(
        lambda: DeltaCursor.objects.filter(mailbox=ADA).exclude(link="").exists(), timeout=8
    )


@pytest.mark.parametrize(
    ("error", "delay"),
    [(Throttled("429", retry_after=2.5), 2.5), (Transient("503", retry_after=7.0), 7.0)],
)
def test_a_task_retry_waits_as_long_as_microsoft_asked(error: Transient, delay: float) -> None:
    task = SimpleNamespace(retries=tasks.RETRIES, retry_delay=30)
    with pytest.raises(Transient), tasks.retry_as_microsoft_asks(task):  # type: ignore[arg-type]
        raise error
    assert task.retry_delay == delay


def test_without_retry_after_a_task_retry_backs_off() -> None:
    task = SimpleNamespace(retries=1, retry_delay=30)
    with pytest.raises(Transient), tasks.retry_as_microsoft_asks(task):  # type: ignore[arg-type]
        raise Transient("503")
    assert 4 <= task.retry_delay <= 8  # third attempt: between 2**3 / 2 and 2**3
