"""`kiosk report --central`: the follow-up sheet from central's database, one row per day and
site/kiosk, with the days a seq gap touches named as problems.

The rows are the materialised days the web app and the month's workbook read
(`summaries.refresh`, then each day's `row`): every day folded from its events, in journal and seq
order, by the kiosk's own `routine.replay` -> `routine.summary` -> `followup.follow_up_row`. So
central's row equals the kiosk's row by construction, provided central holds all of that day's
events. The writers are the sheet's own (`kiosk.core.followup`).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from ..core import followup
from . import summaries
from .db import Conn, display_name, is_url


def rows(db_path: str | Path, date_from: str | None = None,
         date_to: str | None = None) -> tuple[list[dict], list[str]]:
    """(rows, problems) for the days in [date_from, date_to] (inclusive, YYYY-MM-DD); `db_path`:
    a SQLite file or a postgresql:// URL. Folds the days changed since the last refresh first."""
    from .store import CentralStore

    store = CentralStore(db_path)
    try:
        with store.db.connection() as conn:
            summaries.ensure_schema(conn)
            summaries.refresh(conn)
            return _rows(store, conn, date_from, date_to)
    finally:
        store.close()


def _rows(store, conn: Conn, date_from: str | None, date_to: str | None) -> tuple[list[dict], list[str]]:
    out = [summaries.follow_up_row(d) for d in summaries.iter_day_rows(conn, date_from, date_to, summary=False)]
    have = {(r["day"], r["site"], r["kiosk"]) for r in out}
    wanted = {(d, s, k) for d, s, k in summaries.event_days(conn, date_from, date_to)}
    # a day whose events do not fold (validated at ingest; still) is named, never hidden
    problems = [f"{day} {site}/{kiosk}: cannot replay its events (see central's log)"
                for day, site, kiosk in sorted(wanted - have)]
    for gap in store.gaps():
        days = _gap_days(conn, gap)
        hit = sorted(d for d in days if (d, gap["site"], gap["kiosk"]) in wanted)
        if hit or not days:
            problems.append(
                f"{gap['site']}/{gap['kiosk']}: seq {gap['from_seq']}..{gap['to_seq']} missing"
                + (f" (journal {gap['journal']})" if gap.get("journal") else "")
                + (f"; rows for {', '.join(hit)} may be incomplete" if hit else ""))
    return out, problems


def _gap_days(conn, gap: dict) -> set[str]:
    """The days an open seq range may belong to: from the day before it to the day after it."""
    jid = gap.get("journal") or ""
    before = conn.query_one("select day from events where site=? and kiosk=? and journal=? and seq<? "
                            "order by seq desc limit 1", [gap["site"], gap["kiosk"], jid, gap["from_seq"]])
    after = conn.query_one("select day from events where site=? and kiosk=? and journal=? and seq>? "
                           "order by seq limit 1", [gap["site"], gap["kiosk"], jid, gap["to_seq"]])
    if not before and not after:
        return set()
    lo = dt.date.fromisoformat((before or after)[0])
    hi = dt.date.fromisoformat((after or before)[0])
    return {(lo + dt.timedelta(days=i)).isoformat() for i in range((hi - lo).days + 1)}


def main(args) -> int:
    for flag, value in (("--from", args.date_from), ("--to", args.date_to)):
        try:
            if value is not None:
                dt.date.fromisoformat(value)
        except ValueError:
            print(f"{flag} {value!r}: use YYYY-MM-DD", file=sys.stderr)
            return 2
    db = args.central if is_url(args.central) else Path(args.central)
    if not is_url(db) and not Path(db).exists():
        print(f"no central database at {db}", file=sys.stderr)
        return 2
    rows_, problems = rows(db, args.date_from, args.date_to)
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    return followup.write(rows_, args.format, getattr(args, "out", None), problems, source=display_name(db))
