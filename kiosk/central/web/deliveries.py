"""The TL's view of stuck deliveries (/leveranser): a notification, billing list or follow-up
workbook whose target is gone from the config, or that has kept failing for longer than
`delivery.stuck_after_minutes`: what, to whom, since when and the last error, with "Skicka igen"
(due at once) and "Släpp" (never sent; who and when kept). Texts in Swedish."""

from __future__ import annotations

import datetime as dt
import json

from ..clock_alerts import SITE_WIDE
from ..db import Database
from ..delivery import outbox
from ..delivery.config import DeliveryConfig
from . import views

CHANNEL_NAMES = {outbox.NOTIFY: "Avisering", outbox.BILLING_FILE: "Returlista till fakturering (fil)",
                 outbox.BILLING_POST: "Returlista till fakturering (POST)", outbox.FOLLOWUP: "Uppföljningsfil"}
NOTICES = {"retry": "Leveransen försöks igen inom några sekunder.", "release": "Leveransen är släppt och skickas inte.",
           "gone": "Mottagaren finns inte längre i inställningarna: rätta inställningarna eller släpp leveransen.",
           "missing": "Leveransen är redan levererad eller släppt."}


def _what(row: dict) -> str:
    try:
        payload = json.loads(row["payload"])
    except (TypeError, ValueError):
        payload = {}
    if row["channel"] == outbox.NOTIFY:  # the alert's day too: a stuck one may be of an earlier day
        title = str(payload.get("title") or "Avisering")
        return f"{title} ({row['day']})" if row.get("day") else title
    if row["channel"] == outbox.FOLLOWUP:
        return f"Uppföljningsfil {row['cause']}"
    kiosk = "alla kiosker" if row["kiosk"] == SITE_WIDE else row["kiosk"]
    return f"Returlista {row['day']} ({kiosk}, {row['site']})"


# The sender's error (English, from the library that sent it) explained for a TL, the raw text kept
# after it for IT: (words in the lower-cased error, the Swedish sentence)
ERRORS_SV = (
    (("timed out", "timeout"), "Mottagaren svarade inte i tid."),
    (("connection", "refused", "unreachable", "name or service", "resolve"), "Kunde inte ansluta till mottagaren."),
    (("http", "status", "response", "error=", "server error"), "Mottagaren svarade med ett fel."),
)


def error_text(raw: str) -> str:
    """The last error as a TL reads it: a Swedish sentence, then the technical text."""
    low = raw.lower()
    sv = next((text for words, text in ERRORS_SV if any(w in low for w in words)), "Mottagaren tog inte emot leveransen.")
    return f"{sv} (Tekniskt: {raw.strip()})"


def _target(row: dict, cfg: DeliveryConfig | None) -> str:
    """To whom: a notification target by its name and redacted URL, the others by their label."""
    t = cfg.target(row["target"]) if cfg is not None and row["channel"] == outbox.NOTIFY else None
    return f"{t.name} ({row['target_label']})" if t is not None and t.name else row["target_label"]


def stuck_page(database: Database, cfg: DeliveryConfig | None, now: dt.datetime) -> dict:
    """The rows to show, newest problem first, as plain data for `deliveries.html`."""
    if cfg is None or "delivery_outbox" not in database.table_names():
        return {"items": [], "configured": cfg is not None}
    items = []
    for r in outbox.stuck(database, cfg, now):
        items.append({
            "n": r["n"], "channel": CHANNEL_NAMES.get(r["channel"], r["channel"]), "what": _what(r),
            "to": _target(r, cfg), "since": views.local(r["created_at"], "%Y-%m-%d %H:%M"),
            "attempts": r["attempts"], "last": views.local(r["last_attempt_at"], "%Y-%m-%d %H:%M") if r["last_attempt_at"] else "",
            "error": "Mottagaren finns inte längre i inställningarna." if r["gone"] else
            (error_text(r["last_error"]) if r["last_error"] else ""),
            "gone": r["gone"], "alert": r["alert_id"] if r["channel"] == outbox.NOTIFY else None,
        })
    return {"items": items, "configured": True}


def act(database: Database, cfg: DeliveryConfig | None, n: int, action: str, who: str, now: dt.datetime) -> str:
    """"retry" or "release" of row `n`; returns the notice's key."""
    row = database.query_one("select target, state from delivery_outbox where n = ?", (n,))
    if row is None or row[1] not in outbox.OPEN:
        return "missing"
    if action == "release":
        return "release" if outbox.release(database, n, now, who) else "missing"
    if cfg is not None and row[0] not in cfg.lanes():
        return "gone"
    return "retry" if outbox.retry_now(database, n, now) else "missing"
