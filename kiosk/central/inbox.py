"""What central tells a kiosk's screen about its alerts: the inbox document (kiosk/wire/inbox.py
has its format and the kiosk's strict check), composed per kiosk for today from what the TLs did
(`web.state.alert_states`) and where the notifications are (`delivery.state.alert_notifications`).
The collector publishes it retained, QoS 1, on `returpost/v1/<site>/<kiosk>/inbox` whenever it
changed (`InboxPublisher.poll`, called from the collector's loop every POLL_EVERY seconds).

No customer data: alert ids, kinds, TL names and times, the TL's answer text.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import time
from pathlib import Path

from ..core.clock import TZ, local_day
from ..core.limits import clean_text
from ..wire import inbox as fmt
from ..wire import topics
from .db import is_url
from .delivery import outbox
from .summaries import refresh
from .delivery import state as delivery_state
from .web import state as web_state

log = logging.getLogger(__name__)
POLL_EVERY = 1.5  # seconds between looks at the database


def notified(targets: list[dict]) -> dict | None:
    """One notification state from the targets' rows: delivered once any target confirmed; failed
    while a target's last attempt failed (still retried: the operator tells the TL in person
    meanwhile); pending while any waits; None when no target wants the alert."""
    by = {}
    for t in targets:
        by.setdefault(t["state"], []).append(t)
    if "delivered" in by:
        return {"state": "delivered", "at": min(t["delivered_at"] or t["last_attempt_at"] for t in by["delivered"])}
    if "failing" in by:
        return {"state": "failed", "at": max(t["last_attempt_at"] or t["created_at"] for t in by["failing"])}
    if "pending" in by:
        return {"state": "pending", "at": min(t["created_at"] for t in by["pending"])}
    return None


def compose(conn: sqlite3.Connection, site: str, kiosk: str, day: str,
            delivery_conn: sqlite3.Connection | None = None) -> dict:
    """The inbox document of one kiosk for `day` (a dict that `kiosk.wire.inbox.parse` accepts).
    `conn`: central's database as the web side opens it; `delivery_conn`: as the outbox opens it
    (rows by name; default: the database file of `conn`)."""
    dconn = delivery_conn or outbox.connect(_path(conn))
    try:
        return _compose(conn, dconn, site, kiosk, day)
    finally:
        if delivery_conn is None:
            dconn.close()


def _path(conn) -> str:
    """The SQLite file of `conn` (on PostgreSQL give `compose` its `delivery_conn`)."""
    return next(r[2] for r in conn.execute("pragma database_list") if r[1] == "main")


def _compose(conn, dconn, site: str, kiosk: str, day: str, states: list[dict] | None = None) -> dict:
    alerts = []
    for a in web_state.alert_states(conn, site, kiosk, day) if states is None else states:
        if not a["kind"]:
            continue
        own = a["kiosk"] == kiosk
        withdrawal = notified(delivery_state.alert_notifications(dconn, a["alert"], withdrawn=True)) \
            if own and a["cancelled"] else None
        if a["cancelled"] and withdrawal is None:
            continue  # undone before any TL was told: nothing to tell the kiosk
        answer = a["answer"] if not a["cleared"] and not a["cancelled"] else None
        entry = {
            "id": a["alert"], "kind": a["kind"],
            "notified": notified(delivery_state.alert_notifications(dconn, a["alert"])) if own else None,
            "acknowledged": _who(a["acknowledged"]),
            "answer": ({"text": clean_text(answer["text"])[:fmt.ANSWER_MAX], **_who(answer)} if answer else None),
        }
        if withdrawal is not None:  # undone at the kiosk after a TL was told: the notice that it is withdrawn
            entry["withdrawn"] = withdrawal
        alerts.append(entry)
    return {"v": 1, "day": day, "alerts": alerts[-fmt.MAX_ALERTS:]}


def _who(x: dict | None) -> dict | None:
    return {"by": clean_text(x["by"])[:fmt.NAME_MAX] or "TL", "at": x["at"]} if x else None


def _site_states(conn, site: str, day: str) -> list[dict]:
    """`web.state.alerts` of a site's day (already refreshed), for `_kiosk_states`."""
    return sorted(web_state.alerts(conn, day=day, site=site), key=lambda a: (a["ts"] or "", a["alert"]))


def _kiosk_states(site_states: list[dict], kiosk: str) -> list[dict]:
    """What `web.state.alert_states` gives for one kiosk, from its site's alerts (one query per
    site and poll instead of one refresh and query per kiosk): its own alerts, and the uncleared
    answers to the site's other temporary mailings."""
    return [dict(a, cancelled=a["cancelled_at"] is not None) for a in site_states
            if a["kiosk"] == kiosk or (a["kind"] == "tillfalliga" and a["answer"] and not a["cleared"])]


class InboxPublisher:
    """Composes every known kiosk's document and publishes the changed ones. Owned by the collector's
    thread (its own read connection; `publish(topic, bytes)` is the collector's MQTT publish)."""

    def __init__(self, db_path: str | Path, clock=None):
        self.db_path = db_path if is_url(db_path) else Path(db_path)  # a file or a postgresql:// URL
        self.clock = clock
        self.sent: dict[tuple[str, str], bytes] = {}
        self.next_at = 0.0
        self._conn: sqlite3.Connection | None = None
        self._dconn: sqlite3.Connection | None = None

    def _now(self) -> dt.datetime:
        return self.clock.now() if self.clock else dt.datetime.now(dt.timezone.utc)

    def forget(self) -> None:
        """After a reconnect: publish every document again (the broker may have lost them)."""
        self.sent.clear()
        self.next_at = 0.0

    def due(self) -> bool:
        return time.monotonic() >= self.next_at

    def poll(self, kiosks, publish) -> int:
        """Publish the documents that changed; returns how many. Errors are logged, never raised."""
        self.next_at = time.monotonic() + POLL_EVERY
        day = local_day(self._now(), TZ).isoformat()
        n = 0
        try:
            if self._conn is None or self._dconn is None:
                self.close()
                self._conn = web_state.connect(self.db_path)
                self._dconn = outbox.connect(self.db_path)
                web_state.ensure_schema(self._conn)  # once a connection, not at every poll
            refresh(self._conn)  # the web side's materialised alerts, once per poll
            sites: dict[str, list[dict]] = {}
            for site, kiosk in kiosks:
                if site not in sites:
                    sites[site] = _site_states(self._conn, site, day)
                doc = _compose(self._conn, self._dconn, site, kiosk, day, _kiosk_states(sites[site], kiosk))
                payload = fmt.dumps(doc)
                if self.sent.get((site, kiosk)) == payload:
                    continue
                fmt.parse(payload)  # never publish what the kiosk would refuse
                if publish(topics.topic(site, kiosk, "inbox"), payload):
                    self.sent[(site, kiosk)] = payload
                    n += 1
        except Exception as exc:  # never let the inbox take ingest down
            log.warning("central: inbox not published: %s: %s", type(exc).__name__, exc)
            self.close()
        return n

    def close(self) -> None:
        for conn in (self._conn, self._dconn):
            if conn is not None:
                conn.close()
        self._conn = self._dconn = None
