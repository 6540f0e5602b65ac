"""Delivery state for people and other parts of central: per alert and target (the kiosk's
screen, the web app), and a summary for `kiosk central --gaps`/status. No URL or secret appears
in what these return: targets are shown by their redacted label."""

from __future__ import annotations

from ..db import Conn, using
from . import outbox

FIELDS = ("target", "state", "attempts", "last_error", "created_at", "last_attempt_at", "next_attempt_at",
          "delivered_at")


def _has_outbox(conn: Conn) -> bool:
    return "delivery_outbox" in conn.table_names()


def alert_notifications(db, alert_id: str, withdrawn: bool = False) -> list[dict]:
    """Per target of an alert: state (pending / delivered / failing / cancelled), attempts, the last
    error, and the times (UTC ISO). Empty when no target wants the alert (or none yet). `db`: a
    Database, a Conn, or a path/URL (opened and closed here). `withdrawn`: the notices that the
    alert is withdrawn instead of the alert's own notifications."""
    with using(db) as conn:
        if not _has_outbox(conn):
            return []
        rows = conn.dicts(
            "select target_label as target, state, attempts, last_error, created_at, last_attempt_at, "
            "next_attempt_at, delivered_at from delivery_outbox where alert_id = ? and channel = ? "
            f"and cause {'' if withdrawn else 'not '}like ? order by n",
            (alert_id, outbox.NOTIFY, "%" + outbox.WITHDRAWN))
        return [{k: r[k] for k in FIELDS} for r in rows]


def summary(db) -> dict:
    """Counts by state and channel, the oldest open delivery, and up to 10 failing ones."""
    with using(db) as conn:
        out = {"pending": 0, "failing": 0, "delivered": 0, "superseded": 0, "cancelled": 0, "released": 0,
               "by_channel": {}, "oldest_open": None, "failing_items": []}
        if not _has_outbox(conn):
            return out
        for channel, state, n in conn.query(
                "select channel, state, count(*) from delivery_outbox group by channel, state order by channel, state"):
            out[state] = out.get(state, 0) + int(n)
            out["by_channel"].setdefault(channel, {})[state] = int(n)
        row = conn.query_one("select min(created_at) from delivery_outbox where state in (?, ?)", outbox.OPEN)
        out["oldest_open"] = row[0] if row else None
        out["failing_items"] = list(conn.dicts(
            "select channel, cause, target_label as target, attempts, last_error, last_attempt_at, next_attempt_at "
            "from delivery_outbox where state = ? order by n limit 10", (outbox.FAILING,)))
        return out


def summary_lines(db) -> list[str]:
    """`summary(db)` as the lines `kiosk central --gaps` prints (English, like all CLI output)."""
    s = summary(db)
    lines = [f"deliveries: {s['pending']} pending, {s['failing']} failing, {s['delivered']} delivered"
             + (f" (oldest open since {s['oldest_open']})" if s["oldest_open"] else "")]
    for f in s["failing_items"]:
        lines.append(f"  failing: {f['channel']} {f['cause']} -> {f['target']}: {f['attempts']} attempt(s), "
                     f"last error: {f['last_error']}; next try {f['next_attempt_at']}")
    return lines
