"""Which barcodes billing has seen before, decided centrally from the store: a code on a day's
list is marked when central holds an accepted scan of it from an earlier time on another day or
at another kiosk (any site). Room "billing_codes" of `kiosk.central.db.migrate`:

  billing_codes(code, site, kiosk, day, ts): each kiosk day's accepted scans, as its latest
  billing list has them (an undone scan is gone), indexed by code.

Each pass that makes lists first records the codes of every day it makes a list of (`record`),
then `seen_before` looks each code up (`outbox.derive`). A sighting that reaches central after a
list was made marks that code in the next version of the list, if one is made. The first version backfills the table from every day central
already holds, so an upgraded central marks codes seen before it was installed.

The marking does not use what a kiosk says about its own history (a scan's `seen_before` in its
summary): the store knows every kiosk's days.
"""

from __future__ import annotations

import json

from ..db import Conn, Step, migrate
from . import billing

TABLE = ("create table if not exists billing_codes (code text not null, site text not null, kiosk text not null, "
         "day text not null, ts text not null, primary key (site, kiosk, day, code));\n"
         "create index if not exists billing_codes_code on billing_codes(code, ts)")


def _backfill(conn: Conn) -> None:
    days = conn.query("select distinct site, kiosk, day from events where type = 'scan_accepted'")
    for site, kiosk, day in days:
        _replace(conn, site, kiosk, day, _accepted(conn, site, kiosk, day))


MIGRATIONS = [Step(1, "billing_codes: every kiosk day's accepted codes, by code (backfilled)", TABLE,
                   run=_backfill)]


def ensure_schema(conn: Conn) -> None:
    """Room "billing_codes" (after the store's tables); a read-only look when it is current."""
    if "schema_migrations" in conn.table_names() and conn.query_one(
            "select 1 from schema_migrations where room = 'billing_codes' and version = ?",
            (MIGRATIONS[-1].version,)) is not None:
        return
    migrate(conn, "billing_codes", MIGRATIONS)


def _accepted(conn: Conn, site: str, kiosk: str, day: str) -> list[dict]:
    rows = conn.query("select payload from events where site = ? and kiosk = ? and day = ? "
                      "and type in ('scan_accepted', 'undone') order by ts, seq", (site, kiosk, day))
    return billing.accepted_scans(json.loads(r[0]) for r in rows)


def _replace(conn: Conn, site: str, kiosk: str, day: str, scans: list[dict]) -> None:
    conn.execute("delete from billing_codes where site = ? and kiosk = ? and day = ?", (site, kiosk, day))
    if scans:
        conn.executemany("insert into billing_codes(code, site, kiosk, day, ts) values (?,?,?,?,?) "
                         "on conflict (site, kiosk, day, code) do nothing",
                         [(s["code"], site, kiosk, day, s["ts"]) for s in scans])


def record(conn: Conn, days) -> None:
    """The accepted codes of these (site, kiosk, day) as the store now holds them: before any of
    their lists is made, so each list sees the others' codes whatever their order."""
    for site, kiosk, day in days:
        _replace(conn, site, kiosk, day, _accepted(conn, site, kiosk, day))


def seen_before(conn: Conn, site: str, kiosk: str, day: str, scans: list[dict]) -> dict[str, dict]:
    """For each code of the day's accepted `scans` (billing.accepted_scans) that central holds
    an earlier accepted scan of on another day or at another kiosk, the earliest such:
    {code: {"day", "site", "kiosk"}}."""
    out: dict[str, dict] = {}
    for s in scans:
        row = conn.query_one("select day, site, kiosk from billing_codes where code = ? and ts < ? and "
                             "not (site = ? and kiosk = ? and day = ?) order by ts limit 1",
                             (s["code"], s["ts"], site, kiosk, day))
        if row is not None and s["code"] not in out:
            out[s["code"]] = {"day": row[0], "site": row[1], "kiosk": row[2]}
    return out
