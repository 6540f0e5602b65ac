"""`kiosk central backup` / `kiosk central restore` on central's SQLite database, with a real
`kiosk central` ingesting from a real mosquitto while the backups are taken."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

from kiosk.wire.journal import Journal
from .broker2_harness import CentralProcess, read_rows, run_cli, wait_until
from .mqtt_broker import broker, bulk_events, env, kiosk_cmd, kiosk_config, needs_mosquitto  # noqa: F401

pytestmark = needs_mosquitto


def central_config(tmp_path, port):
    return kiosk_config(tmp_path / "central.toml", port)


def assert_consistent(path) -> int:
    """A backup is one snapshot of a central that stores each kiosk's events in seq order: it
    passes integrity_check, and holds every kiosk's seq 1..n with no hole. Returns n."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert conn.execute("pragma journal_mode").fetchone()[0] == "delete"  # one file, no -wal
        rows = conn.execute("select site, kiosk, count(*), min(seq), max(seq) from events group by 1, 2").fetchall()
    finally:
        conn.close()
    for site, kiosk, n, lo, hi in rows:
        assert (lo, hi) == (1, n), f"{site}/{kiosk}: seq {lo}..{hi} in {n} events: not one snapshot"
    return sum(r[2] for r in rows)


def backup_cli(db, out):
    return run_cli("central", "backup", "--db", str(db), "--out", str(out))


def is_pg(db) -> bool:
    return str(db).startswith("postgresql://")


def rows_of(db, sql: str) -> list[tuple]:
    """Rows from central's database of either engine ([] while it has no such table)."""
    if not is_pg(db):
        return read_rows(db, sql)
    from kiosk.central.db import open_conn

    conn = open_conn(db)
    try:
        if "events" not in conn.table_names():
            return []
        return conn.query(sql)
    finally:
        conn.close()


def stored(db) -> int:
    return (rows_of(db, "select count(*) from events") or [(0,)])[0][0]


def exists(db) -> bool:
    return bool(rows_of(db, "select 1")) if is_pg(db) else Path(db).exists()


def fill(tmp_path, port, n):
    cfg = kiosk_config(tmp_path / "kiosk.toml", port, mqtt="max_inflight = 1")
    db = tmp_path / "journal.db"
    journal = Journal(db, "demo", "kiosk-1")
    bulk_events(journal, n)
    journal.close()
    return cfg, db


def test_backups_are_consistent_snapshots_while_central_ingests(broker, tmp_path):
    total = 6000
    cfg, journal = fill(tmp_path, broker.port, total)
    central_db = tmp_path / "central.db"
    central = CentralProcess(central_config(tmp_path, broker.port), central_db, tmp_path / "central.log")
    central.start()
    wait_until(lambda: central_db.exists() and "connected to" in central.log(), what="central to connect")
    log = open(tmp_path / "sync.log", "ab")
    sync = subprocess.Popen(kiosk_cmd("--config", str(cfg), "sync", "--once", "--db", str(journal), "--timeout", "300"),
                            env=env(), stdout=log, stderr=log)
    sizes = []
    moving = 0
    try:
        wait_until(lambda: stored(central_db) > 0, what="the stream to start")
        # one backup surely mid-stream, whatever the machine's speed: the kiosk is paused for it
        os.kill(sync.pid, signal.SIGSTOP)
        try:
            done = backup_cli(central_db, tmp_path / "paused.db")
        finally:
            os.kill(sync.pid, signal.SIGCONT)
        assert done.returncode == 0, done.stderr
        paused = assert_consistent(tmp_path / "paused.db")
        assert 0 < paused < total
        n = 0
        while (before := stored(central_db)) < total:
            out = tmp_path / f"backup-{n}.db"
            done = backup_cli(central_db, out)
            assert done.returncode == 0, done.stderr
            doc = json.loads(done.stdout)
            assert doc["events"] == assert_consistent(out)
            sizes.append(doc["events"])
            moving += stored(central_db) > before  # central committed while this backup was made
            n += 1
        assert sync.wait(300) == 0
    finally:
        if sync.poll() is None:
            sync.kill()
        log.close()
        central.stop()
    print(f"backups taken while central ingested: events in each {sizes} of {total}; "
          f"{moving} of them while central committed")
    final = tmp_path / "final.db"
    assert backup_cli(central_db, final).returncode == 0
    assert assert_consistent(final) == total
    # the backup is a central database the tools read like the original
    a = run_cli("report", "--central", str(final))
    b = run_cli("report", "--central", str(central_db))
    assert a.returncode == 0 and a.stdout == b.stdout


def test_restore_refuses_a_running_centrals_db_keeps_the_old_one_and_force(broker, tmp_path):
    cfg, journal = fill(tmp_path, broker.port, 300)
    central_db = tmp_path / "central.db"
    central = CentralProcess(central_config(tmp_path, broker.port), central_db, tmp_path / "central.log")
    central.start()
    try:
        wait_until(lambda: central_db.exists() and "connected to" in central.log(), what="central to connect")
        assert run_cli("--config", str(cfg), "sync", "--once", "--db", str(journal)).returncode == 0
        wait_until(lambda: stored(central_db) == 300, what="central to store the first 300")
        assert backup_cli(central_db, tmp_path / "at300.db").returncode == 0
        more = Journal(journal, "demo", "kiosk-1")
        bulk_events(more, 200)
        more.close()
        assert run_cli("--config", str(cfg), "sync", "--once", "--db", str(journal)).returncode == 0
        wait_until(lambda: stored(central_db) == 500, what="central to store the rest")

        refused = run_cli("central", "restore", str(tmp_path / "at300.db"), "--db", str(central_db))
        assert refused.returncode == 2
        assert "open by another process" in refused.stderr and "--force" in refused.stderr
        assert stored(central_db) == 500  # untouched
        assert not list(tmp_path.glob("central.db.before-restore-*"))

        forced = run_cli("central", "restore", str(tmp_path / "at300.db"), "--db", str(central_db), "--force")
        assert forced.returncode == 0, forced.stderr
        doc = json.loads(forced.stdout)
        assert doc["forced_while_open"] is True and doc["events"] == 300
        assert stored(central_db) == 300
        assert stored(doc["kept"]) == 500 and assert_consistent(doc["kept"]) == 500
    finally:
        central.stop()
    # stopped: restore needs no --force, and puts back exactly the backup's events
    done = run_cli("central", "restore", str(doc["kept"]), "--db", str(central_db))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["forced_while_open"] is False
    assert read_rows(central_db, "select id from events order by seq") == \
        read_rows(doc["kept"], "select id from events order by seq")


def test_restore_refuses_what_is_not_a_central_backup(tmp_path):
    central_db = tmp_path / "central.db"
    conn = sqlite3.connect(central_db)
    conn.execute("create table events (id text primary key, site text, kiosk text, seq int)")
    conn.execute("insert into events values ('a', 'demo', 'kiosk-1', 1)")
    conn.commit()
    conn.close()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)").connection.commit()
    for file, says in ((junk, "not a SQLite database"), (other, "no events table"),
                       (tmp_path / "missing.db", "no backup at")):
        done = run_cli("central", "restore", str(file), "--db", str(central_db))
        assert done.returncode == 2 and says in done.stderr, done.stderr
    assert read_rows(central_db, "select id from events") == [("a",)]
    assert not list(tmp_path.glob("central.db.before-restore-*"))
    same = run_cli("central", "backup", "--db", str(central_db), "--out", str(central_db))
    assert same.returncode == 2 and "itself" in same.stderr
    # a PostgreSQL URL goes to pg_dump (here to a port nothing listens on): refused, password unsaid
    pg = run_cli("central", "backup", "--db", "postgresql://central:s3cret@127.0.0.1:1/returpost", "--out", str(junk))
    assert pg.returncode == 2 and "pg_dump failed" in pg.stderr and "s3cret" not in pg.stderr


def test_after_restoring_an_older_backup_the_kiosks_send_the_rest_by_themselves(broker, tmp_path, central_db):
    """Central is restored from a backup older than what the kiosk has had confirmed: once central
    runs again its end-to-end ack names the lower seq, and the kiosk's publisher (`kiosk sync`,
    as it runs beside the kiosk) sends the rest again with no person involved."""
    cfg, journal = fill(tmp_path, broker.port, 300)
    backup = tmp_path / ("at300.dump" if is_pg(central_db) else "at300.db")
    central = CentralProcess(central_config(tmp_path, broker.port), central_db, tmp_path / "central.log")
    central.start()
    try:
        wait_until(lambda: exists(central_db) and "connected to" in central.log(), what="central to connect")
        assert run_cli("--config", str(cfg), "sync", "--once", "--db", str(journal)).returncode == 0
        assert stored(central_db) == 300  # --once returns when central confirmed: stored
        assert backup_cli(central_db, backup).returncode == 0
        more = Journal(journal, "demo", "kiosk-1")
        bulk_events(more, 200)
        more.close()
        done = run_cli("--config", str(cfg), "sync", "--once", "--db", str(journal))
        assert done.returncode == 0, done.stderr
        assert stored(central_db) == 500
    finally:
        central.stop()
    restored = run_cli("central", "restore", str(backup), "--db", str(central_db))
    assert restored.returncode == 0, restored.stderr
    assert stored(central_db) == 300
    status = json.loads(run_cli("--config", str(cfg), "status", "--db", str(journal)).stdout)
    assert status["pending"] == 0  # the kiosk had all 500 confirmed before the restore
    log = open(tmp_path / "sync.log", "ab")
    sync = subprocess.Popen(kiosk_cmd("--config", str(cfg), "sync", "--db", str(journal)),
                            env=env(), stdout=log, stderr=log)
    central.start()
    try:
        wait_until(lambda: stored(central_db) == 500, what="the 200 events since the backup")
        wait_until(lambda: json.loads(run_cli("--config", str(cfg), "status", "--db", str(journal)).stdout)
                   ["pending"] == 0, what="the kiosk to see them confirmed again")
    finally:
        sync.terminate()
        sync.wait(20)
        log.close()
        central.stop()
    assert "resending from 301" in (tmp_path / "sync.log").read_text()
    assert rows_of(central_db, "select id from events order by seq") == \
        read_rows(journal, "select id from events order by seq")
    gaps = json.loads(run_cli("central", "--gaps", "--db", str(central_db)).stdout)
    assert gaps["gaps"] == []


def test_postgresql_backup_and_restore_refusals_and_the_kept_dump(tmp_path):
    """On PostgreSQL: restore refuses a SQLite file and a database other sessions use (unless
    --force), keeps the current database as a dump beside the archive, drops tables the archive
    does not hold, and never prints the URL's password."""
    from kiosk.central.db import open_conn
    from kiosk.central.store import CentralStore
    from kiosk_dev.pgtest import temp_database
    from .test_central_store import T, journal_day

    _, raw = journal_day(tmp_path)
    with temp_database() as url:
        store = CentralStore(url)
        store.ingest([(T, p) for p in raw[:30]])
        store.close()
        dump = tmp_path / "at30.dump"
        done = run_cli("central", "backup", "--db", url, "--out", str(dump))
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["events"] == 30 and dump.read_bytes()[:5] == b"PGDMP"
        store = CentralStore(url)
        store.ingest([(T, p) for p in raw[30:]])
        store.close()
        conn = open_conn(url)
        conn.execute("create table later_room (x integer)")
        sqlite_file = tmp_path / "central.db"
        CentralStore(str(sqlite_file)).close()
        wrong = run_cli("central", "restore", str(sqlite_file), "--db", url)
        assert wrong.returncode == 2 and "not a pg_dump" in wrong.stderr
        busy = run_cli("central", "restore", str(dump), "--db", url)  # `conn` is another session
        assert busy.returncode == 2 and "--force" in busy.stderr
        conn.close()
        restored = run_cli("central", "restore", str(dump), "--db", url)
        assert restored.returncode == 0, restored.stderr
        doc = json.loads(restored.stdout)
        assert doc["events"] == 30 and doc["forced_while_open"] is False
        assert stored(url) == 30
        assert "later_room" not in {r[0] for r in rows_of(url, "select table_name from information_schema.tables "
                                                           "where table_schema = 'public'")}
        kept = run_cli("central", "restore", doc["kept"], "--db", url)
        assert kept.returncode == 0 and json.loads(kept.stdout)["events"] == len(raw)
        secret = url.replace("postgresql://postgres@", "postgresql://postgres:hunter2@")
        out = run_cli("central", "backup", "--db", secret, "--out", str(tmp_path / "s.dump"))
        assert "hunter2" not in out.stdout + out.stderr
