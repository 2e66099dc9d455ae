"""The waitlists' figures on /metrics (docs/operations.md): people waiting, places held for a
claim, and places given from a waitlist by how. Read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from convene.events.models import WaitlistEntry, WaitlistPromotion


def collect() -> Iterator[Metric]:
    now = timezone.now()
    yield GaugeMetricFamily(
        "convene_waitlist_people_waiting",
        "People on a waitlist, over all events (those with a place offered included).",
        value=WaitlistEntry.objects.count(),
    )
    yield GaugeMetricFamily(
        "convene_waitlist_offers_open",
        "Places held for someone from a waitlist until they claim it (claim window).",
        value=WaitlistEntry.objects.filter(offered_until__gt=now).count(),
    )
    promotions = CounterMetricFamily(
        "convene_waitlist_promotions",
        "Places given from a waitlist, by how: automatic (a place freed), claimed (an offer "
        "taken), by_hand (an organizer promoted someone).",
        labels=["how"],
    )
    counted = dict(
        WaitlistPromotion.objects.values_list("how").annotate(n=Count("pk")).values_list("how", "n")
    )
    for how in WaitlistPromotion.How.values:
        promotions.add_metric([how], counted.get(how, 0))
    yield promotions
