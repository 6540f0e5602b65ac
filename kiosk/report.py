"""The follow-up sheet (uppföljningsfilen): one row per day and kiosk, from a journal file.

`follow_up_row` is the one definition of the row; the central report uses it too.
"""

from __future__ import annotations

import csv
import io
import json

from . import routine
from .domain import LETA_KUND_TYPES, PILES
from .journal import Journal

COLUMNS: tuple[str, ...] = (
    ("day", "site", "kiosk")
    + tuple(f"count_{p}" for p in PILES)
    + tuple(f"leta_kund_{t}" for t in LETA_KUND_TYPES)
    + ("leta_kund_apartments", "scans_accepted", "scans_rejected", "missing_scans",
       "scan_done_at", "deadline_met", "alerts", "alerts_bestridan", "alerts_tillfalliga",
       "alerts_deadline_missed")
)


def follow_up_row(summary: dict, site: str, kiosk: str) -> dict:
    alerts = summary.get("alerts", [])
    row = {"day": summary["day"], "site": site, "kiosk": kiosk}
    for p in PILES:
        row[f"count_{p}"] = summary["counts"].get(p, 0)
    for t in LETA_KUND_TYPES:
        row[f"leta_kund_{t}"] = summary["leta_kund"].get(t, 0)
    row["leta_kund_apartments"] = summary["leta_kund"].get("apartments", 0)
    row["scans_accepted"] = len(summary["scans"]["accepted"])
    row["scans_rejected"] = len(summary["scans"]["rejected"])
    row["missing_scans"] = sum(w["sorted"] - w["scanned"] for w in summary.get("warnings", [])
                               if w["kind"] == "missing_scans")
    row["scan_done_at"] = summary.get("scan_done_at") or ""
    row["deadline_met"] = bool(summary.get("deadline_met"))
    row["alerts"] = len(alerts)
    for kind in ("bestridan", "tillfalliga", "deadline_missed"):
        row[f"alerts_{kind}"] = sum(1 for a in alerts if a["kind"] == kind)
    return row


def day_summaries(journal: Journal, days: list[str] | None = None) -> list[dict]:
    out = []
    for day in journal.days() if days is None else days:
        out.append(routine.summary(routine.replay(journal.events(day=day))))
    return out


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in COLUMNS})
    return buf.getvalue()


def to_json(rows: list[dict]) -> str:
    return json.dumps(rows, ensure_ascii=False, indent=2)
