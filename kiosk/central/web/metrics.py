"""/metrics of the web app: central's state in Prometheus' text format (prometheus-client).

Read from central's database at each scrape (a few grouped queries over small tables), plus this
process's request latency. Every name starts `returpost_`:

  returpost_events_stored{site,kiosk}                   events central holds per kiosk
  returpost_dead_letters_total{site,kiosk}              messages dead-lettered per kiosk (ever)
  returpost_shed_messages_total{site,kiosk}             messages dropped from a flooding kiosk (ever)
  returpost_kiosk_last_seen_timestamp_seconds{site,kiosk}  last status or event from the kiosk
  returpost_kiosk_online{site,kiosk}                    1 online, 0 offline (its last will), absent if unknown
  returpost_kiosk_unconfirmed_events{site,kiosk}        events the kiosk has that central has not stored
  returpost_deliveries{state,target}                    delivery rows (notifications, billing, follow-up)
  returpost_open_alerts{kind}                           alerts neither acknowledged, answered nor cancelled
  returpost_heartbeat_timestamp_seconds{name}           collector / delivery worker last heartbeat
  returpost_http_request_duration_seconds{method,route} this process's request latency (histogram)
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ...core.clock import parse_iso
from .. import heartbeat
from ..db import Database

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _ts(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return parse_iso(iso).timestamp()
    except ValueError:
        return None


class CentralCollector:
    """A prometheus-client collector reading central's database at each scrape."""

    def __init__(self, db: Database):
        self.db = db

    def describe(self):
        return []  # read at scrape time only (no query at registration)

    def collect(self):
        with self.db.connection() as conn:
            tables = conn.table_names()
            kiosks = conn.query("select site, kiosk, events, dead_letters, status_at, last_event_at, online, "
                                "status_last_seq, max_seq from kiosks order by site, kiosk")
            shed = conn.query("select site, kiosk, messages from shed_senders") if "shed_senders" in tables else []
            deliveries = (conn.query("select state, target_label, count(*) from delivery_outbox "
                                     "group by state, target_label") if "delivery_outbox" in tables else [])
            alerts = conn.query("select a.kind, count(*) from web_alerts a where a.kind is not null and "
                                "a.cancelled_at is null and not exists (select 1 from web_alert_actions x where "
                                "x.alert_id = a.id and x.action in ('ack', 'answer')) group by a.kind")
            beats = heartbeat.read(conn)
        labels = ["site", "kiosk"]
        stored = GaugeMetricFamily("returpost_events_stored", "Events central holds, per kiosk", labels=labels)
        dead = CounterMetricFamily("returpost_dead_letters", "Messages dead-lettered, per kiosk", labels=labels)
        seen = GaugeMetricFamily("returpost_kiosk_last_seen_timestamp_seconds",
                                 "Last status or event from the kiosk (Unix time)", labels=labels)
        online = GaugeMetricFamily("returpost_kiosk_online", "1 online, 0 offline (last will)", labels=labels)
        lag = GaugeMetricFamily("returpost_kiosk_unconfirmed_events",
                                "Events the kiosk reports having that central has not stored yet", labels=labels)
        for site, kiosk, events, dl, status_at, last_event_at, on, status_seq, max_seq in kiosks:
            key = [site, kiosk]
            stored.add_metric(key, float(events or 0))
            dead.add_metric(key, float(dl or 0))
            last = max(filter(None, (_ts(status_at), _ts(last_event_at))), default=None)
            if last is not None:
                seen.add_metric(key, last)
            if on is not None:
                online.add_metric(key, 1.0 if on else 0.0)
            lag.add_metric(key, float(max(0, (status_seq or 0) - (max_seq or 0))))
        shed_m = CounterMetricFamily("returpost_shed_messages", "Messages dropped from a flooding kiosk",
                                     labels=labels)
        for site, kiosk, n in shed:
            shed_m.add_metric([site, kiosk], float(n or 0))
        deliv = GaugeMetricFamily("returpost_deliveries", "Delivery rows by state and target",
                                  labels=["state", "target"])
        for state, target, n in deliveries:
            deliv.add_metric([state, target], float(n))
        open_m = GaugeMetricFamily("returpost_open_alerts", "Open alerts by kind", labels=["kind"])
        for kind, n in alerts:
            open_m.add_metric([kind], float(n))
        beat_m = GaugeMetricFamily("returpost_heartbeat_timestamp_seconds",
                                   "Last heartbeat of the collector and the delivery worker (Unix time)",
                                   labels=["name"])
        for name, at in sorted(beats.items()):
            beat_m.add_metric([name], at.timestamp())
        yield from (stored, dead, seen, online, lag, shed_m, deliv, open_m, beat_m)


class Metrics:
    """This app's registry: central's state and the request latency histogram."""

    def __init__(self, db: Database):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(CentralCollector(db))
        self.latency = Histogram("returpost_http_request_duration_seconds", "Time to answer a request",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class Timing:
    """ASGI middleware: each request's time into the histogram, by its route's path template."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        import time

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "(other)"
            self.metrics.latency.labels(scope.get("method", ""), path).observe(time.perf_counter() - start)
