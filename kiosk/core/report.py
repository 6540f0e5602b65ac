"""The follow-up sheet (uppföljningsfilen): one row per day and kiosk, from a journal file.

`follow_up_row` is the one definition of the row; the central report uses it too.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Iterator, Protocol

from . import routine
from .domain import LETA_KUND_TYPES, PILES, WARNING_NAMES, warning_counts


class Journal(Protocol):
    """What the sheet reads of a journal (`kiosk.wire.journal.Journal`): the core imports no file."""

    def days(self) -> list[str]: ...

    def events(self, day: str | None = None) -> Iterator[dict]: ...

COLUMNS: tuple[str, ...] = (
    ("day", "site", "kiosk")
    + tuple(f"count_{p}" for p in PILES)
    + tuple(f"leta_kund_{t}" for t in LETA_KUND_TYPES)
    + ("leta_kund_apartments", "scans_accepted", "scans_rejected")
    + tuple(WARNING_NAMES)  # one column per warning kind
    + ("late_letters",
       "labels_printed", "label_reprints", "cover_slips_printed",
       "scan_done_at", "deadline_met", "alerts", "alerts_bestridan", "alerts_tillfalliga",
       "alerts_deadline_missed", "alerts_cancelled", "warnings")
)


def follow_up_row(summary: dict, site: str, kiosk: str) -> dict:
    """One day's row. Warning columns count letters (missing, extra, unscanned, labels and cover
    slips missing), print jobs (queued, failed) and alerts (unconfirmed); `warnings` is their Swedish text for a TL; `deadline_met` is "" while pending;
    alerts count those not cancelled by an undo."""
    every = summary.get("alerts", [])
    alerts = [a for a in every if not a.get("cancelled")]
    warnings = summary.get("warnings", [])
    row = {"day": summary["day"], "site": site, "kiosk": kiosk}
    for p in PILES:
        row[f"count_{p}"] = summary["counts"].get(p, 0)
    for t in LETA_KUND_TYPES:
        row[f"leta_kund_{t}"] = summary["leta_kund"].get(t, 0)
    row["leta_kund_apartments"] = summary["leta_kund"].get("apartments", 0)
    row["scans_accepted"] = len(summary["scans"]["accepted"])
    row["scans_rejected"] = len(summary["scans"]["rejected"])
    row.update(warning_counts(warnings))
    row["late_letters"] = len(summary.get("late", []))
    row["labels_printed"] = summary.get("labels_printed", 0)
    row["label_reprints"] = summary.get("label_reprints", 0)
    row["cover_slips_printed"] = summary.get("cover_slips_printed", 0)
    row["scan_done_at"] = summary.get("scan_done_at") or ""
    met = summary.get("deadline_met")
    row["deadline_met"] = "" if met is None else bool(met)
    row["alerts"] = len(alerts)
    for kind in ("bestridan", "tillfalliga", "deadline_missed"):
        row[f"alerts_{kind}"] = sum(1 for a in alerts if a["kind"] == kind)
    row["alerts_cancelled"] = len(every) - len(alerts)
    row["warnings"] = " ".join(w.get("text", w["kind"]) for w in warnings)
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
