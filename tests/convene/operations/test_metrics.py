"""/metrics: Prometheus' format, only for Prometheus, the figures docs/operations.md lists, and
a rules file whose every expression names metrics that /metrics exports."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from convene.events.models import Event
from convene.operations import heartbeat
from convene.outlook.mailboxes import limits
from convene.outlook.models import CalendarLink, LinkState, LogKind, OutlookSettings, record

pytestmark = pytest.mark.django_db

RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "convene-rules.yml"
TOKEN = "metrics-token-for-tests"
# PromQL's own words, and metrics Prometheus makes itself.
PROMQL_WORDS = {"sum", "by", "le", "rate", "clamp_min", "histogram_quantile", "and", "on", "up"}


@pytest.fixture
def metrics_token(settings: Any) -> str:
    settings.CONVENE_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client: Client) -> dict[str, float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


@pytest.fixture
def some_activity(client: Client) -> None:
    """A Graph request in the audit log and one (refused) notification answered, so that the
    labelled figures have samples."""
    record(LogKind.GRAPH, "update", status="ok", mailbox="ada@contoso.test")
    client.post("/outlook/webhook/", "{}", content_type="application/json")


def sample_names(samples: dict[str, float]) -> set[str]:
    return {name.split("{")[0] for name in samples}


def test_metrics_are_refused_without_the_token(client: Client, metrics_token: str) -> None:
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


def test_metrics_are_refused_to_everyone_when_nothing_is_configured(client: Client) -> None:
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_metrics_answer_an_allowed_address(client: Client, settings: Any) -> None:
    settings.CONVENE_METRICS_ALLOWED_ADDRESSES = ["10.1.0.0/16"]

    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 403


def test_the_metrics_include_every_documented_figure(
    client: Client, metrics_token: str, some_activity: None
) -> None:
    names = sample_names(scrape(client))

    documented = set(
        re.findall(r"`(convene_[a-z0-9_]+)", (RULES.parents[2] / "docs/operations.md").read_text())
    )
    assert documented, "docs/operations.md lists the metrics"
    missing = {
        name
        for name in documented
        if not {name, f"{name}_total", f"{name}_count", f"{name}_bucket"} & names
    }
    assert missing == set()


def test_every_alert_rule_names_metrics_that_are_exported(
    client: Client, metrics_token: str, some_activity: None
) -> None:
    exported = sample_names(scrape(client))
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]

    for rule in rules:
        words = set(
            re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", re.sub(r'"[^"]*"|\[\w+\]', "", rule["expr"]))
        )
        named = {word for word in words if word.startswith("convene_")}
        assert named, rule["alert"]
        assert named <= exported, f"{rule['alert']} names {sorted(named - exported)}"
        assert words - named <= PROMQL_WORDS | {"outcome", "state"}, rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"] and rule["annotations"]["fix"]


def test_the_rules_alert_on_no_worker_for_2_minutes_and_sync_lag_over_5() -> None:
    rules = {r["alert"]: r for r in yaml.safe_load(RULES.read_text())["groups"][0]["rules"]}

    assert rules["ConveneNoWorker"]["expr"] == "convene_workers_seen == 0"
    assert rules["ConveneNoWorker"]["for"] == "2m"
    assert rules["ConveneSyncLag"]["expr"] == "convene_outlook_sync_lag_seconds > 300"


def test_workers_seen_counts_recent_heartbeats(client: Client, metrics_token: str) -> None:
    heartbeat.beat("a:1")
    heartbeat.beat("b:2")

    assert scrape(client)["convene_workers_seen"] == 2


def test_sync_lag_is_the_age_of_the_oldest_change_not_in_outlook(
    client: Client, metrics_token: str, event: Event, make_event: Any
) -> None:
    other = make_event()
    now = timezone.now()
    CalendarLink.objects.create(
        event=event,
        state=LinkState.PENDING,
        desired_version=2,
        synced_version=1,
        behind_since=now - timedelta(minutes=10),
    )
    # In step with Outlook: its old behind_since does not count.
    CalendarLink.objects.create(
        event=other,
        state=LinkState.SYNCED,
        desired_version=3,
        synced_version=3,
        behind_since=now - timedelta(days=3),
    )

    samples = scrape(client)

    assert 600 <= samples["convene_outlook_sync_lag_seconds"] < 660
    assert samples["convene_outlook_links_behind"] == 1
    assert samples["convene_outlook_links{state=pending}"] == 1


def test_a_change_to_an_event_in_step_with_outlook_starts_the_lag_now(
    event: Event, organizer: Any
) -> None:
    from convene.events import services

    OutlookSettings.objects.update_or_create(pk=1, defaults={"enabled": True})
    long_ago = timezone.now() - timedelta(days=2)
    CalendarLink.objects.create(
        event=event,
        state=LinkState.SYNCED,
        desired_version=1,
        synced_version=1,
        behind_since=long_ago,
    )

    services.update_event(
        event,
        services.EventDetails(
            title="Renamed", start=event.start, end=event.end, timezone=event.timezone
        ),
        actor=organizer,
    )

    link = CalendarLink.objects.get(event=event)
    assert link.desired_version == 2
    assert link.behind_since is not None and link.behind_since > long_ago


def test_throttling_counts_answers_and_the_time_waited(client: Client, metrics_token: str) -> None:
    limits.pause("ada@contoso.test", 2.0)
    limits.pause("ada@contoso.test", 3.5)

    samples = scrape(client)

    assert samples["convene_outlook_throttled_answers_total"] == 2
    assert samples["convene_outlook_throttled_wait_seconds_total"] == 5.5
    assert samples["convene_outlook_mailboxes_paused"] == 1


def test_series_counters(client: Client, metrics_token: str, organizer: Any, regular: Any) -> None:
    """Running, over and cancelled series; the coming sessions of running series that were
    changed or cancelled, and those someone will miss (past ones are not counted)."""
    from convene.events import series, services
    from convene.events.models import SessionChange
    from convene.events.recurrence import Frequency, Rule

    def weekly(title: str, first: Any, count: int = 6) -> Event:
        return series.create_series(
            services.EventDetails(
                title=title, start=first, end=first + timedelta(hours=1), timezone="UTC"
            ),
            Rule(Frequency.WEEKLY, weekdays=(first.weekday(),), count=count),
            creator=organizer,
            allow_past=True,
        )

    soon = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    running = weekly("Course", soon - timedelta(days=14))
    services.enroll(running, regular, actor=None)
    past, coming = series.sessions(running)[0], series.sessions(running)[4]
    SessionChange.objects.create(event=running, on=past.on, is_cancelled=True)
    series.cancel_session(running, series.sessions(running)[3].on, actor=None, message="Off")
    series.change_session(
        running,
        coming.on,
        series.SessionDetails(coming.start, coming.end, "Room 2", False, ""),
        actor=None,
    )
    series.will_miss(running, series.sessions(running)[5].on, regular, actor=None)
    series.will_miss(running, past.on, regular, actor=None)
    weekly("Finished course", soon - timedelta(days=100), count=3)
    services.cancel_event(weekly("Dropped course", soon), actor=None, reason="No room")

    samples = scrape(client)

    assert samples["convene_series{state=running}"] == 1
    assert samples["convene_series{state=over}"] == 1
    assert samples["convene_series{state=cancelled}"] == 1
    assert samples["convene_series_sessions_differing{kind=changed}"] == 1
    assert samples["convene_series_sessions_differing{kind=cancelled}"] == 1
    assert samples["convene_series_sessions_missed"] == 1
