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

PostgreSQL has its own tools for this: `pg_dump`/`pg_restore` (README, "Backups of central").
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import fcntl
import json
import os
import sqlite3
import sys
import time
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
        fd = os.open(part, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(part, out)
        _fsync_dir(out.parent)
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
            stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
            kept = db.with_name(f"{db.name}.before-restore-{stamp}")
            n = 1
            while kept.exists():  # two restores within one second: never overwrite a kept copy
                n += 1
                kept = db.with_name(f"{db.name}.before-restore-{stamp}-{n}")
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


# -- CLI: `kiosk central backup|restore` ------------------------------------------------------------

def _central_db(args) -> Path | str:
    if getattr(args, "db", None):
        return args.db
    from ..config import load

    config = load(args.config)
    value = str(config.central.db)
    return value if "://" in value else config.data_path(value)


def _main(args) -> int:
    db = _central_db(args)
    if "://" in str(db):
        print(f"{db} is not a SQLite file: back up PostgreSQL with pg_dump and pg_restore "
              "(README, \"Backups of central\")", file=sys.stderr)
        return 2
    try:
        if args.central_command == "backup":
            doc = backup(db, args.out)
        else:
            doc = restore(args.file, db, force=args.force)
    except BackupError as exc:
        print(f"{args.central_command}: {exc}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as exc:
        print(f"{args.central_command} failed: {exc}", file=sys.stderr)
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
    b = sub.add_parser("backup", help="copy central's SQLite database, consistent while central runs")
    b.add_argument("--db", default=argparse.SUPPRESS, help="central database (default: central.db in the config)")
    b.add_argument("--out", required=True, help="the backup file (replaced atomically when complete)")
    b.set_defaults(func=_main)
    r = sub.add_parser("restore", help="put a backup in place of central's database (keeps the old one)")
    r.add_argument("file", help="a file made by kiosk central backup")
    r.add_argument("--db", default=argparse.SUPPRESS, help="central database (default: central.db in the config)")
    r.add_argument("--force", action="store_true", help="restore even while another process has the database open")
    r.set_defaults(func=_main)
