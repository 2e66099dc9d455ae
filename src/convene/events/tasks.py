"""Periodic events work: places offered from a waitlist and not claimed in time move on."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from convene.events import waitlist


@db_periodic_task(crontab(minute="*"))
def expire_waitlist_offers_task() -> None:
    waitlist.expire_offers()
