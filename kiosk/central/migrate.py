"""`kiosk central migrate --to postgresql://... [--db central.db]`: move a SQLite central to
PostgreSQL.

The target must be an empty database (created by the DBA: `createdb -O central returpost`); its
schema is made here by every room's migrations, exactly as `kiosk central` would make it. Then
every table of the SQLite file is copied (PostgreSQL's COPY, in batches) and the row counts of
both sides compared, all in ONE transaction on the target: a failure (a count that differs, a
value PostgreSQL refuses) leaves the target as empty as it was. Identity columns (`dead_letters.n`,
...) continue after the highest copied value; the rooms' triggers do not fire for the copied
rows (they are copies, not new events). The SQLite file is only read, apart from the
store's own migrations (what `kiosk central` applies at its start).

Stop central, the web app and the delivery worker first (otherwise rows stored meanwhile stay
behind in the SQLite file); then point `central.db` at the URL.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

from . import db as dbm

BATCH = 5000
# tables that are not copied: SQLite's own, the migrations log (made by the target's migrations)
# and the summaries' old rowid cursor (replaced by summary_dirty)
NOT_COPIED = {"sqlite_sequence", "sqlite_stat1", "schema_migrations", "web_cursor"}
FIRST = ["events", "journals", "event_aliases", "kiosks", "alerts", "dead_letters", "central_meta", "summary_dirty"]


class MigrateError(RuntimeError):
    pass


def _schema_makers() -> list[tuple[str, Callable[[dbm.Conn], object]]]:
    """Every room's schema on one connection, as `kiosk central` makes them (`rooms.makers`)."""
    from . import rooms

    return rooms.makers()


def _tables(conn: dbm.Conn) -> list[str]:
    names = sorted(n for n in conn.table_names() if n not in NOT_COPIED and not n.startswith("sqlite_"))
    return [n for n in FIRST if n in names] + [n for n in names if n not in FIRST]


def _count(conn: dbm.Conn, table: str) -> int:
    row = conn.query_one(f'select count(*) from "{table}"')
    return int(row[0]) if row else 0


def migrate(source: str | Path, target: str, out=sys.stderr) -> dict[str, int]:
    """Copy the SQLite central `source` into the empty PostgreSQL database `target`; returns
    {table: rows}. Raises MigrateError (nothing written) on any refusal or difference."""
    if not dbm.is_url(target):
        raise MigrateError(f"--to must be a postgresql:// URL, not {target!r}")
    if dbm.is_url(str(source)):
        raise MigrateError("--db must be the SQLite central to copy from (a file)")
    if not Path(source).exists():
        raise MigrateError(f"no central database at {source}")
    from .store import CentralStore

    CentralStore(source).close()  # the store's migrations on the source: its columns as today's
    _delivery_on_source(source)
    src = dbm.SqliteDatabase(source, readonly=True)
    dst = dbm.PostgresDatabase(target, min_size=1, max_size=2)
    try:
        with dst.transaction() as d:
            busy = [t for t in d.table_names() if _count(d, t)]
            if busy:
                raise MigrateError(f"{dst.name} is not empty (rows in {', '.join(sorted(busy))}); "
                                   "give an empty database")
            failed = []
            for room, make in _schema_makers():
                try:
                    with d.transaction():  # a savepoint: a room that fails leaves the others intact
                        make(d)
                except Exception as exc:  # named below if one of its tables has rows to copy
                    failed.append(f"the {room} schema failed: {type(exc).__name__}: {exc}")
            # the summaries' ensure_schema may mark days dirty on the (empty) target: the copy brings them
            d.execute("delete from summary_dirty")
            counts: dict[str, int] = {}
            with src.connection() as s:
                have = d.table_names()
                for table in _tables(s):
                    if table not in have:
                        raise MigrateError(f"the target's schema has no table {table} (of {source})"
                                           + "".join(f"; {f}" for f in failed))
                    counts[table] = _copy(s, d, table)
                    print(f"migrate: {table}: {counts[table]} rows", file=out)
                for table, n in counts.items():
                    if _count(s, table) != n or _count(d, table) != n:
                        raise MigrateError(f"{table}: {_count(s, table)} rows in {source}, "
                                           f"{_count(d, table)} in {dst.name}: not copied")
            _continue_identities(d)
        return counts
    finally:
        src.close()
        dst.close()


def _delivery_on_source(source: str | Path) -> None:
    """A source whose delivery outbox ran: its migrations first, so the rows it had not derived
    yet (after its old rowid cursors) are in its queue, and the queue is copied with the rest."""
    with dbm.SqliteDatabase(source) as db:
        if "delivery_outbox" in db.table_names():
            from .delivery import outbox

            outbox.ensure_schema(db)


def _copy(s: dbm.Conn, d: dbm.Conn, table: str) -> int:
    target_cols = set(d.columns(table))
    cols = [c for c in s.columns(table) if c in target_cols]
    missing = [c for c in s.columns(table) if c not in target_cols]
    if missing:
        raise MigrateError(f"{table}: the target has no column {', '.join(missing)}")
    names = ", ".join(f'"{c}"' for c in cols)
    n = 0
    cur = s.raw.execute(f'select {names} from "{table}"')
    # a copy, not new rows: the rooms' own triggers (e.g. one feeding the delivery queue from
    # events) stay off while it runs; what they made in the source is copied with its table
    d.execute(f'alter table "{table}" disable trigger user')
    with d.raw.cursor() as pg:
        with pg.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            while True:
                rows = cur.fetchmany(BATCH)
                if not rows:
                    break
                for row in rows:
                    copy.write_row(row)
                n += len(rows)
    d.execute(f'alter table "{table}" enable trigger user')
    return n


def _continue_identities(d: dbm.Conn) -> None:
    for table, column in d.query(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = current_schema() and is_identity = 'YES'"):
        d.execute(f'select setval(pg_get_serial_sequence(?, ?), coalesce((select max("{column}") from "{table}"), 0) + 1, '
                  "false)", (f'"{table}"', column))


def main(source: str | Path, target: str) -> int:
    try:
        counts = migrate(source, target)
    except MigrateError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 2
    except dbm.errors("operational") + dbm.errors("data") + dbm.errors("integrity") as exc:
        print(f"migrate: nothing copied: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"from": str(source), "to": dbm.display_name(target), "tables": counts}, indent=2))
    return 0
