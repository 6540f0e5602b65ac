"""`kiosk report`: the follow-up sheet from a kiosk journal file."""

from __future__ import annotations

import sys
from pathlib import Path

from . import report
from .config import load
from .journal import Journal


def main(args) -> int:
    if getattr(args, "central", None):  # the sheet from central's database (kiosk/sync)
        from .central import report as central_report

        return central_report.main(args)
    config = load(args.config)
    db = Path(args.db) if args.db else config.journal_path
    if not db.exists():
        print(f"no journal at {db}", file=sys.stderr)
        return 2
    try:
        journal = Journal.open_existing(db)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    days = [d for d in journal.days()
            if (not args.date_from or d >= args.date_from) and (not args.date_to or d <= args.date_to)]
    rows = [report.follow_up_row(s, journal.site, journal.kiosk) for s in report.day_summaries(journal, days)]
    if args.format == "xlsx" or getattr(args, "out", None):  # file output (kiosk/sync)
        from .central import report as central_report

        return central_report.write(rows, args.format, args.out, source=str(db))
    sys.stdout.write(report.to_csv(rows) if args.format == "csv" else report.to_json(rows) + "\n")
    return 0
