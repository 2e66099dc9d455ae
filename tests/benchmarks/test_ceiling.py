"""The ceiling the benchmarks hold backfills to (benchmarks/ceiling.py)."""

from __future__ import annotations

import pytest
from benchmarks.ceiling import ceiling, mailbox_seconds, mean_latency


def test_mean_latency_is_the_latency_plus_half_the_jitter() -> None:
    assert mean_latency(80, 40) == pytest.approx(0.1)


def test_a_mailbox_sends_four_requests_per_round_trip() -> None:
    # 50 requests, 4 in flight: 13 rounds of 100 ms.
    assert mailbox_seconds(50, 0.1) == pytest.approx(1.3)


def test_beyond_ten_thousand_requests_a_mailbox_waits_for_the_next_window() -> None:
    assert mailbox_seconds(10_004, 0.1) == pytest.approx(600 + 0.1)


def test_mailboxes_run_side_by_side_so_the_slowest_sets_the_wall_time() -> None:
    limit = ceiling([50] * 40, 0.1)

    assert limit.seconds == pytest.approx(1.3)
    assert limit.per_second == pytest.approx(2000 / 1.3)
