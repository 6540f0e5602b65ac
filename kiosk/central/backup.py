"""Backup and restore of central's SQLite database, consistent while central runs.

    kiosk central backup  [--db CENTRAL] --out FILE
    kiosk central restore FILE [--db CENTRAL] [--force]

Backup goes through SQLite's online backup API (`sqlite3.Connection.backup`) in one step: the
copy is made inside one read transaction, so it is one consistent snapshot (every transaction
central committed before it, none after), and because central's database is in WAL mode the
collector keeps committing while the copy is made. The copy is written beside FILE, switched to
a single file (journal_mode DELETE: no -wal/-shm beside a backup), checked (`quick_check`),
fsynced and only then renamed to FILE, so FILE is always either the old or the complete new
backup.

Restore checks FILE (a SQLite database that passes `quick_check` and has central's `events`
table), refuses while another process has CENTRAL open (a running `kiosk central` or `kiosk web`)
unless `--force`, keeps the current database as `CENTRAL.before-restore-<UTC time>`, and copies
FILE into CENTRAL through the same backup API, i.e. through SQLite's own locking (never a file
copy, which a stale -wal beside CENTRAL would corrupt). Kiosk events stored after the backup was
taken are not in it; the kiosks send them again by themselves once central's end-to-end ack
(`.../ack`, the highest seq stored per journal) goes back to what the restored database holds.

"Open by another process" is read from SQLite's WAL index: every connection to a WAL database
holds a shared POSIX lock on the "DMS" byte of CENTRAL-shm for as long as it is open; if an
exclusive lock on that byte cannot be had, someone has the database open. (POSIX locks are per
process: call it before this process opens CENTRAL itself.)

On PostgreSQL (`central.db` or `--db` a postgresql:// URL) the same commands run PostgreSQL's own
tools: backup is `pg_dump -Fc` (one consistent snapshot, a repeatable-read transaction, while
central runs) into FILE.part, fsynced, renamed to FILE. Restore checks FILE is a pg_dump custom
archive, refuses while other sessions use the database unless `--force`, keeps the current
database as `<db>.before-restore-<UTC time>.dump` beside FILE, drops the tables the archive does
not hold (made by later migrations) and runs `pg_restore --clean --if-exists --single-transaction`.
The URL's password never reaches a command line or a message (PGPASSWORD in the tools' environment).
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

# os_unix.c: the WAL-index locks start at byte 120 of the -shm file (8 lock slots), and the
# "DMS" byte every open connection holds a shared lock on is the one after them.
SHM_DMS_BYTE = 120 + 8


class BackupError(Exception):
    """A refusal or failure with a message for the person running the command (exit 2)."""


def in_use(db: str | Path) -> bool:
    """Does another process have this WAL database open? (See the module doc.)"""
    shm = Path(f"{db}-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except FileNotFoundError:
        return False  # no WAL index: no connection has it open in WAL mode
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SHM_DMS_BYTE, os.SEEK_SET)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                return True
            raise
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, SHM_DMS_BYTE, os.SEEK_SET)
        return False
    finally:
        os.close(fd)


def _kept_name(folder: Path, name: str, suffix: str, now: dt.datetime | None) -> Path:
    """Where a restore keeps the database it replaces: `<name>.before-restore-<UTC stamp><suffix>`,
    numbered on for two restores within one second (a kept copy is never overwritten)."""
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    kept = folder / f"{name}.before-restore-{stamp}{suffix}"
    n = 1
    while kept.exists():
        n += 1
        kept = folder / f"{name}.before-restore-{stamp}-{n}{suffix}"
    return kept


def _install(part: Path, out: Path) -> None:
    """The finished copy `part` on disk (fsync), then atomically in place as `out`."""
    fd = os.open(part, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(part, out)
    _fsync_dir(out.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe(conn: sqlite3.Connection) -> dict:
    """What a central database holds, for the summary line: events and kiosks."""
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    if "events" not in tables:
        return {"events": None, "kiosks": None}
    events = conn.execute("select count(*) from events").fetchone()[0]
    kiosks = conn.execute("select count(*) from (select distinct site, kiosk from events)").fetchone()[0]
    return {"events": events, "kiosks": kiosks}


def _open_checked(path: Path, what: str) -> sqlite3.Connection:
    """A read-only connection to a central database that passes quick_check."""
    if not path.exists():
        raise BackupError(f"no {what} at {path}")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        check = conn.execute("pragma quick_check").fetchone()[0]
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite database central can use: {exc}") from exc
    if check != "ok":
        conn.close()
        raise BackupError(f"{path} fails SQLite's quick_check: {check}")
    if "events" not in tables:
        conn.close()
        raise BackupError(f"{path} is not a central database (no events table)")
    return conn


def backup(db: str | Path, out: str | Path) -> dict:
    """Copy central's database `db` into the file `out`, consistently, while central may run.
    Returns a summary (events, kiosks, bytes, seconds)."""
    db, out = Path(db), Path(out)
    if out.exists() and db.exists() and os.path.samefile(db, out):
        raise BackupError("--out is the database itself")
    started = time.monotonic()
    src = _open_checked(db, "central database")
    part = out.with_name(out.name + ".part")
    part.unlink(missing_ok=True)
    try:
        dst = sqlite3.connect(str(part))
        try:
            src.backup(dst)  # pages=-1: the whole copy in one read transaction, one snapshot
            dst.execute("pragma journal_mode=delete")
            check = dst.execute("pragma quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy fails SQLite's quick_check: {check}")
            summary = _describe(dst)
        finally:
            dst.close()
        _install(part, out)
    finally:
        src.close()
        part.unlink(missing_ok=True)
    return {"backup": str(out), "db": str(db), **summary, "bytes": out.stat().st_size,
            "seconds": round(time.monotonic() - started, 3)}


def restore(file: str | Path, db: str | Path, *, force: bool = False, now: dt.datetime | None = None) -> dict:
    """Put the backup `file` in place of central's database `db` (see the module doc)."""
    file, db = Path(file), Path(db)
    if db.exists() and file.exists() and os.path.samefile(db, file):
        raise BackupError("the backup is the database itself")
    busy = in_use(db)
    if busy and not force:
        raise BackupError(
            f"{db} is open by another process (a running kiosk central or kiosk web?): stop it first "
            "(systemctl stop returpost-central returpost-web), or give --force to restore under it")
    started = time.monotonic()
    src = _open_checked(file, "backup")
    try:
        kept = None
        if db.exists():
            kept = _kept_name(db.parent, db.name, "", now)
            backup(db, kept)
        db.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(str(db), timeout=30)
        try:
            dst.execute("pragma busy_timeout=30000")
            src.backup(dst)
            check = dst.execute("pragma quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"{db} fails SQLite's quick_check after the restore: {check}")
            summary = _describe(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return {"restored": str(file), "db": str(db), **summary, "kept": str(kept) if kept else None,
            "forced_while_open": busy, "seconds": round(time.monotonic() - started, 3)}


# -- PostgreSQL: pg_dump / pg_restore ---------------------------------------------------------------

PGDMP = b"PGDMP"  # the first bytes of a pg_dump custom-format archive


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return path


def _pg_env(url: str) -> tuple[str, dict]:
    """The URL without its password, and an environment that carries the password."""
    u = urllib.parse.urlsplit(url)
    env = dict(os.environ)
    if u.password is None:
        return url, env
    env["PGPASSWORD"] = urllib.parse.unquote(u.password)
    netloc = (urllib.parse.quote(urllib.parse.unquote(u.username or "")) + "@" if u.username else "") + (u.hostname or "")
    if u.port:
        netloc += f":{u.port}"
    return urllib.parse.urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment)), env


def _pg_run(args: list[str], url: str, what: str) -> str:
    bare, env = _pg_env(url)
    done = subprocess.run([*args, f"--dbname={bare}"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        from .db import display_name

        raise BackupError(f"{what} failed on {display_name(url)}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _pg_describe(url: str) -> dict:
    from .db import open_conn

    conn = open_conn(url)
    try:
        if "events" not in conn.table_names():
            return {"events": None, "kiosks": None}
        events = conn.query_one("select count(*) from events")
        kiosks = conn.query_one("select count(*) from (select distinct site, kiosk from events) k")
        return {"events": events[0] if events else 0, "kiosks": kiosks[0] if kiosks else 0}
    finally:
        conn.close()


def pg_backup(url: str, out: str | Path) -> dict:
    """`pg_dump -Fc` of central's PostgreSQL database into the file `out` (atomically)."""
    from .db import display_name

    out = Path(out)
    started = time.monotonic()
    part = out.with_name(out.name + ".part")
    part.unlink(missing_ok=True)
    try:
        _pg_run([_pg_tool("pg_dump"), "-Fc", "--no-owner", "--no-privileges", "-f", str(part)], url, "pg_dump")
        _install(part, out)
    finally:
        part.unlink(missing_ok=True)
    return {"backup": str(out), "db": display_name(url), **_pg_describe(url), "bytes": out.stat().st_size,
            "seconds": round(time.monotonic() - started, 3)}


def pg_in_use(url: str) -> int:
    """Other sessions on this database (a running kiosk central, kiosk web, delivery worker)."""
    from .db import open_conn

    conn = open_conn(url)
    try:
        row = conn.query_one("select count(*) from pg_stat_activity where datname = current_database() "
                             "and pid <> pg_backend_pid() and backend_type = 'client backend'")
        return int(row[0]) if row else 0
    finally:
        conn.close()


def _archive_tables(file: Path) -> set[str]:
    listing = subprocess.run([_pg_tool("pg_restore"), "-l", str(file)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupError(f"{file} is not a pg_dump archive pg_restore can read: {listing.stderr.strip()[-500:]}")
    names = set()
    for line in listing.stdout.splitlines():
        parts = line.split()
        # "215; 1259 16390 TABLE public events owner"
        if len(parts) >= 6 and not line.startswith(";") and parts[3] == "TABLE":
            names.add(parts[5])
    return names


def pg_restore(file: str | Path, url: str, *, force: bool = False, now: dt.datetime | None = None) -> dict:
    """Put the pg_dump archive `file` in place of central's PostgreSQL database (module doc)."""
    from .db import display_name, open_conn

    file = Path(file)
    if not file.exists():
        raise BackupError(f"no backup at {file}")
    with open(file, "rb") as f:
        if f.read(len(PGDMP)) != PGDMP:
            raise BackupError(f"{file} is not a pg_dump custom archive (kiosk central backup of a PostgreSQL central)")
    tables = _archive_tables(file)
    if "events" not in tables:
        raise BackupError(f"{file} is not a central database (no events table)")
    busy = pg_in_use(url)
    if busy and not force:
        raise BackupError(
            f"{display_name(url)} is open by another process ({busy} sessions: a running kiosk central or "
            "kiosk web?): stop it first (systemctl stop returpost-central returpost-web), or give --force "
            "to restore under it")
    started = time.monotonic()
    dbname = urllib.parse.urlsplit(url).path.lstrip("/") or "central"
    kept = _kept_name(file.parent, dbname, ".dump", now)
    pg_backup(url, kept)
    conn = open_conn(url)
    try:
        with conn.transaction():
            for table in sorted(conn.table_names() - tables):
                conn.execute(f'drop table if exists "{table}" cascade')
    finally:
        conn.close()
    _pg_run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--single-transaction", "--no-owner",
             "--no-privileges", str(file)], url, "pg_restore")
    return {"restored": str(file), "db": display_name(url), **_pg_describe(url), "kept": str(kept),
            "forced_while_open": bool(busy), "seconds": round(time.monotonic() - started, 3)}


# -- CLI: `kiosk central backup|restore` ------------------------------------------------------------

def _central_db(args) -> Path | str:
    if getattr(args, "db", None):
        return args.db
    from .delivery.config import load

    config = load(args.config)
    value = str(config.central.db)
    return value if "://" in value else config.data_path(value)


def _main(args) -> int:
    db = _central_db(args)
    pg = str(db).startswith(("postgresql://", "postgres://"))
    if "://" in str(db) and not pg:
        print("--db: a SQLite file or a postgresql:// URL", file=sys.stderr)
        return 2
    try:
        if args.central_command == "backup":
            doc = pg_backup(str(db), args.out) if pg else backup(db, args.out)
        elif pg:
            doc = pg_restore(args.file, str(db), force=args.force)
        else:
            doc = restore(args.file, db, force=args.force)
    except BackupError as exc:
        print(f"{args.central_command}: {exc}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as exc:
        print(f"{args.central_command} failed: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # psycopg's errors (imported only on PostgreSQL)
        if type(exc).__module__.split(".")[0] != "psycopg":
            raise
        print(f"{args.central_command} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.central_command == "restore":
        if doc["forced_while_open"]:
            print(f"restore: {db} was open by another process; restart it now, it still holds what it "
                  "read before the restore", file=sys.stderr)
        print(f"restore: kiosks resend what is newer than the backup once central runs again; the "
              f"previous database is kept as {doc['kept']}" if doc["kept"] else
              "restore: kiosks resend what is newer than the backup once central runs again", file=sys.stderr)
    print(json.dumps(doc))
    return 0


def add_commands(sub) -> None:
    """Add `backup` and `restore` to the subcommands of `kiosk central` (which stays the collector
    when no subcommand is given)."""
    b = sub.add_parser("backup", help="copy central's database (SQLite online backup, or pg_dump -Fc), "
                       "consistent while central runs")
    b.add_argument("--db", default=argparse.SUPPRESS, help="central database (default: central.db in the config)")
    b.add_argument("--out", required=True, help="the backup file (replaced atomically when complete)")
    b.set_defaults(func=_main)
    r = sub.add_parser("restore", help="put a backup in place of central's database (keeps the old one)")
    r.add_argument("file", help="a file made by kiosk central backup (for PostgreSQL: its pg_dump archive)")
    r.add_argument("--db", default=argparse.SUPPRESS, help="central database (default: central.db in the config)")
    r.add_argument("--force", action="store_true", help="restore even while another process has the database open")
    r.set_defaults(func=_main)
