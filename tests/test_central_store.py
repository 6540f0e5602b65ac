"""Central's store without a broker: the poison message, an id reused
with other content, the re-imaged kiosk, a journal restored from a backup, dead-letter cap and
retention, and `kiosk central import`; each on both engines (`central_db`: a SQLite file and a
real PostgreSQL database), and concurrent writers on one database."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import subprocess
import threading
import uuid

from kiosk.core import followup
from kiosk.shelf import simulate
from kiosk.central import report as central_report
from kiosk.central.store import CentralStore
from kiosk.core.clock import TZ
from kiosk.wire.journal import Journal
from kiosk.shelf.publisher import read_ack
from .mqtt_broker import env, example_lines, kiosk_cmd, kiosk_config, load

T = "returpost/v1/demo/kiosk-1/events"
T2 = "returpost/v1/demo/kiosk-2/events"


def journal_day(tmp_path, name="journal.db", kiosk="kiosk-1", days=1):
    """The example day in a real journal: (path, raw payloads in seq order)."""
    config = load(kiosk_config(tmp_path / f"{name}.toml", 1883, kiosk=kiosk))
    db = tmp_path / name
    simulate.run(example_lines(days), config, db, tmp_path / f"sim-{name}")
    return db, raw_payloads(db)


@contextlib.contextmanager
def another_db(tmp_path, central_db, name="c2.db"):
    """A second empty central database of the same engine as `central_db`."""
    if not central_db.startswith("postgresql://"):
        yield str(tmp_path / name)
        return
    from kiosk_dev.pgtest import temp_database

    with temp_database() as url:
        yield url


def raw_payloads(db) -> list[bytes]:
    j = Journal.open_existing(db)
    try:
        return [p.encode() for (p,) in j.db.execute("select payload from events order by seq")]
    finally:
        j.close()


def test_a_lone_surrogate_is_dead_lettered_alone_and_the_batch_is_stored(tmp_path, central_db):
    """The poison message: valid JSON whose `operator` holds a lone surrogate (which
    SQLite cannot encode; kiosk/core/schema.py now refuses it at validation, the store's isolation is
    the backstop: see the next test). It is dead-lettered on its own; the rest of its batch, from
    this and other kiosks, is stored and acknowledged; the next batch is stored as usual."""
    _, raw1 = journal_day(tmp_path, "k1.db")
    _, raw2 = journal_day(tmp_path, "k2.db", kiosk="kiosk-2")
    poison = json.loads(raw1[0])
    poison.update({"id": str(uuid.uuid4()), "seq": 500, "operator": "AN\ud800NA"})
    text = json.dumps(poison)  # ensure_ascii: the surrogate travels as the escape \ud800
    assert "\\ud800" in text
    store = CentralStore(central_db)
    try:
        batch = [(T, p) for p in raw1[:30]] + [(T, text.encode())] + [(T2, p) for p in raw2]
        counts = store.ingest(batch)
        assert counts["dead"] == 1 and counts["stored"] == 30 + len(raw2)
        reason = store.conn.execute("select reason from dead_letters").fetchone()[0]
        assert "UnicodeEncodeError" in reason or "surrogate" in reason
        assert store.ingest([(T, p) for p in raw1[30:]])["stored"] == len(raw1) - 30
        assert store.count("events") == len(raw1) + len(raw2)
        assert store.kiosks()[0]["dead_letters"] == 1
        # the ack covers every stored event of both journals
        for site, kiosk, raws in (("demo", "kiosk-1", raw1), ("demo", "kiosk-2", raw2)):
            jid = json.loads(raws[0])["journal"]
            assert store.ack(site, kiosk)["journals"][jid]["upto"] == len(raws)
    finally:
        store.close()


def test_an_id_reused_with_other_content_is_dead_lettered_not_a_redelivery(tmp_path, central_db):
    _, raw = journal_day(tmp_path)
    store = CentralStore(central_db)
    try:
        assert store.ingest([(T, p) for p in raw[:10]])["stored"] == 10
        first = json.loads(raw[0])
        other = {**first, "seq": 11, "data": {"pile": "faktura"}, "type": "sorted"}
        assert store.ingest([(T, raw[0])])["duplicate"] == 1  # the same event again: a redelivery
        out = store.ingest([(T, json.dumps(other).encode())])
        assert out["dead"] == 1 and out.get("duplicate", 0) == 0
        reason = store.conn.execute("select reason from dead_letters order by n desc").fetchone()[0]
        assert "already stored with other content" in reason
        # the same id from another kiosk is not a redelivery either
        theirs = {**first, "kiosk": "kiosk-2"}
        assert store.ingest([(T2, json.dumps(theirs).encode())])["dead"] == 1
        assert store.count("events") == 10
    finally:
        store.close()


def test_a_reimaged_kiosk_gets_every_new_event_in_and_the_old_tail_is_reported(tmp_path, central_db):
    """A kiosk re-imaged before its journal was all sent: the new journal starts at seq 1 again
    under a new journal id. Every new event is accepted; the old journal's unsent tail is a
    named gap; the sheet holds both journals' days."""
    old_db, old_raw = journal_day(tmp_path, "old.db")  # 2026-11-23
    old_jid = json.loads(old_raw[0])["journal"]
    store = CentralStore(central_db)
    try:
        store.ingest([(T, p) for p in old_raw[:40]])  # the rest never left the old SD card
        status = {"v": 1, "site": "demo", "kiosk": "kiosk-1", "online": True, "pending": len(old_raw) - 40,
                  "last_seq": len(old_raw), "journal": old_jid, "journal_start": 1}
        store.ingest([("returpost/v1/demo/kiosk-1/status", json.dumps(status).encode())])
        # re-imaged: a new journal file, seq from 1 again, the next day
        config = load(kiosk_config(tmp_path / "new.toml", 1883))
        new_db = tmp_path / "new.db"
        lines = example_lines(1, start=dt.date(2026, 11, 24))
        simulate.run(lines, config, new_db, tmp_path / "sim-new")
        new_raw = raw_payloads(new_db)
        new_jid = json.loads(new_raw[0])["journal"]
        assert new_jid != old_jid and json.loads(new_raw[0])["seq"] == 1
        counts = store.ingest([(T, p) for p in new_raw])
        assert counts["stored"] == len(new_raw) and counts.get("dead", 0) == 0
        status = {**status, "pending": 0, "last_seq": len(new_raw), "journal": new_jid}
        store.ingest([("returpost/v1/demo/kiosk-1/status", json.dumps(status).encode())])
        ack = store.ack("demo", "kiosk-1")["journals"]
        assert ack[new_jid]["upto"] == len(new_raw) and ack[old_jid]["upto"] == 40
        assert store.gaps() == [{"site": "demo", "kiosk": "kiosk-1", "journal": old_jid, "from_seq": 41,
                                 "to_seq": len(old_raw),
                                 "note": "missing tail of an old journal (the kiosk has a new one)"}]
    finally:
        store.close()
    rows, problems = central_report.rows(central_db)
    assert [r["day"] for r in rows] == ["2026-11-23", "2026-11-24"]
    j = Journal(new_db, "demo", "kiosk-1")
    assert rows[1] == followup.follow_up_row(followup.day_summaries(j)[0], "demo", "kiosk-1")
    j.close()
    assert any("41.." in p and old_jid in p for p in problems)


def test_a_day_that_no_longer_folds_is_named_not_shown_with_its_earlier_numbers(tmp_path, central_db):
    """Events are validated at ingest, so a day that does not fold is a defect; should it happen
    after the day was folded once, `kiosk report --central` names the day instead of keeping the
    row of its earlier events."""
    _db, raw = journal_day(tmp_path)
    store = CentralStore(central_db)
    try:
        assert store.ingest([(T, p) for p in raw[:20]])["stored"] == 20
        rows, problems = central_report.rows(central_db)
        assert len(rows) == 1 and problems == []
        day = rows[0]["day"]
        store.ingest([(T, p) for p in raw[20:]])
        with store.db.connection() as conn:  # one stored event no longer folds (forged in place)
            conn.execute("update events set payload = '[]' where seq = (select max(seq) from events)")
    finally:
        store.close()
    rows, problems = central_report.rows(central_db)
    assert rows == []
    assert problems == [f"{day} demo/kiosk-1: cannot replay its events (see central's log)"]


def test_a_journal_restored_from_backup_takes_a_new_id_and_nothing_is_lost(tmp_path, central_db):
    """Central has seq 1..N of journal J; the kiosk's file is restored from a backup taken at
    seq M < N and then records new events under J at seqs central already has. The ack shows the
    kiosk its journal is not central's: it takes a new id and re-stamps what central has not
    confirmed; central takes the new events as new and the re-stamped old ones as duplicates."""
    db = tmp_path / "journal.db"
    j = Journal(db, "demo", "kiosk-1")
    t0 = dt.datetime(2026, 12, 1, 9, tzinfo=TZ)
    j.append([("signed_in", {"operator": "ANNA"})], t0, t0.date(), "ANNA")
    j.append([("sorted", {"pile": "dodsbo"})] * 19, t0, t0.date(), "ANNA")  # seq 1..20
    j.set_confirmed(10)
    j.close()
    backup = tmp_path / "backup.db"
    backup.write_bytes(db.read_bytes())  # the backup: seq 1..20, confirmed 10 (WAL checkpointed on close)
    j = Journal(db, "demo", "kiosk-1")
    j.append([("sorted", {"pile": "faktura"})] * 10, t0, t0.date(), "ANNA")  # seq 21..30
    store = CentralStore(central_db)
    store.ingest([(T, p.encode()) for (p,) in j.db.execute("select payload from events order by seq")])
    jid = j.journal_id
    j.close()
    db.unlink()
    backup.rename(db)  # restored: seq 1..20 again
    j = Journal(db, "demo", "kiosk-1")
    j.append([("sorted", {"pile": "leta_kund"})] * 5, t0, t0.date(), "ANNA")  # new seq 21..25
    assert j.journal_id == jid
    ack = store.ack("demo", "kiosk-1")
    verdict, seq = read_ack(ack, j.journal_id, j.journal_start, j.last_seq, j.event_id_at)
    assert (verdict, seq) == ("restored", 30)
    new = j.rotate_journal_id()
    assert new != jid and j.journal_start == 11
    events = list(j.events())
    assert [e["journal"] for e in events] == [jid] * 10 + [new] * 15
    status = {"v": 1, "site": "demo", "kiosk": "kiosk-1", "online": True, "pending": 15,
              "last_seq": 25, "journal": new, "journal_start": 11}
    store.ingest([("returpost/v1/demo/kiosk-1/status", json.dumps(status).encode())])
    counts = store.ingest([(T, json.dumps(e).encode()) for e in events[10:]])
    assert counts["stored"] == 5 and counts["duplicate"] == 10 and counts.get("dead", 0) == 0
    verdict, seq = read_ack(store.ack("demo", "kiosk-1"), j.journal_id, j.journal_start, j.last_seq,
                            j.event_id_at)
    assert (verdict, seq) == ("confirmed", 25)
    piles = [json.loads(p)["data"].get("pile") for (p,) in store.conn.execute(
        "select payload from events where type = 'sorted' order by received_at, seq")]
    assert piles.count("leta_kund") == 5 and piles.count("faktura") == 10 and piles.count("dodsbo") == 19
    j.close()
    store.close()


def test_dead_letters_have_a_cap_a_retention_and_counts_that_stay(tmp_path, central_db):
    store = CentralStore(central_db, dead_letters_max=50, dead_letters_keep_days=30,
                         dead_letter_bytes=100, dead_letters_per_kiosk_minute=10000)
    try:
        for _ in range(4):
            store.ingest([(T, b"{not json " + b"x" * 5000) for _ in range(40)])
        store.prune()
        assert store.count("dead_letters") == 50
        assert store.dead_letters_total() == 160
        assert store.kiosks()[0]["dead_letters"] == 160
        assert max(r[0] for r in store.conn.execute("select length(payload) from dead_letters")) == 100
        store.conn.execute("update dead_letters set received_at = '2020-01-01T00:00:00.000Z'")
        store.prune()
        assert store.count("dead_letters") == 0 and store.dead_letters_total() == 160
    finally:
        store.close()
    # a flood from one sender keeps only its first rows a minute; the count stays exact
    with another_db(tmp_path, central_db) as c2:
        store = CentralStore(c2, dead_letters_per_kiosk_minute=20)
        try:
            store.ingest([(T, b"garbage") for _ in range(500)])
            assert store.count("dead_letters") == 20 and store.dead_letters_total() == 500
        finally:
            store.close()
        gaps = subprocess.run(kiosk_cmd("central", "--gaps", "--db", c2),
                              env=env(), capture_output=True, text=True, timeout=60)
        assert gaps.returncode == 0, gaps.stderr
        doc = json.loads(gaps.stdout)
        assert doc["dead_letters"] == 20 and doc["dead_letters_total"] == 500
        assert doc["kiosks"][0]["dead_letters"] == 500


def test_central_import_is_idempotent_and_validates(tmp_path, central_db):
    db, raw = journal_day(tmp_path, days=2)
    cmd = kiosk_cmd("central", "import", str(db), "--db", central_db)
    first = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["stored"] == len(raw) and doc["duplicate"] == 0 and doc["dead"] == 0
    again = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=60)
    assert json.loads(again.stdout)["stored"] == 0 and json.loads(again.stdout)["duplicate"] == len(raw)
    rows, problems = central_report.rows(central_db)
    j = Journal(db, "demo", "kiosk-1")
    assert rows == [followup.follow_up_row(s, "demo", "kiosk-1") for s in followup.day_summaries(j)]
    j.close()
    assert problems == []
    missing = subprocess.run(kiosk_cmd("central", "import", str(tmp_path / "nope.db"), "--db", central_db),
                             env=env(), capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "nope.db" in missing.stderr


def test_a_message_that_fails_to_store_for_its_own_reason_does_not_stall_the_batch(tmp_path, central_db):
    """Whatever makes one valid message fail in SQLite (here a real trigger refusing one operator,
    standing in for the unforeseen) dead-letters that message alone; the rest of the batch and
    the next batches are stored, and the ack moves past it only when it is in."""
    _, raw1 = journal_day(tmp_path, "k1.db")
    _, raw2 = journal_day(tmp_path, "k2.db", kiosk="kiosk-2")
    store = CentralStore(central_db)
    try:
        if store.pg:
            store.conn.execute("create function poison() returns trigger language plpgsql as $$ begin "
                               "if new.seq = 7 and new.kiosk = 'kiosk-1' then raise exception 'refused by a trigger'; "
                               "end if; return new; end $$")
            store.conn.execute("create trigger poison before insert on events for each row execute function poison()")
        else:
            store.conn.execute("create trigger poison before insert on events when new.seq = 7 and "
                               "new.kiosk = 'kiosk-1' begin select raise(abort, 'refused by a trigger'); end")
        counts = store.ingest([(T, p) for p in raw1] + [(T2, p) for p in raw2])
        assert counts["dead"] == 1 and counts["stored"] == len(raw1) - 1 + len(raw2)
        reason = store.conn.execute("select reason from dead_letters").fetchone()[0]
        assert "cannot store" in reason and "refused by a trigger" in reason
        jid1, jid2 = json.loads(raw1[0])["journal"], json.loads(raw2[0])["journal"]
        assert store.ack("demo", "kiosk-1")["journals"][jid1]["upto"] == 6  # not past the hole
        assert store.ack("demo", "kiosk-2")["journals"][jid2]["upto"] == len(raw2)
        store.conn.execute("drop trigger poison" + (" on events" if store.pg else ""))
        assert store.ingest([(T, raw1[6])])["stored"] == 1  # the kiosk's resend fills the hole
        assert store.ack("demo", "kiosk-1")["journals"][jid1]["upto"] == len(raw1)
    finally:
        store.close()


def test_concurrent_writers_store_each_event_once_and_ack_everything(tmp_path, central_db):
    """Four central processes' stores on one database (shared subscription after a kill: the same
    message may reach two of them), batches interleaved: every event stored once, each journal's
    ack complete and equal in every store, the per-journal and global counts exact, every day
    marked for the summaries."""
    import random

    from kiosk.central import summaries

    raws = {k: journal_day(tmp_path, f"{k}.db", kiosk=k)[1] for k in ("kiosk-1", "kiosk-2", "kiosk-3")}
    messages = [(f"returpost/v1/demo/{k}/events", p) for k, ps in raws.items() for p in ps]
    rng = random.Random(15)
    stores = [CentralStore(central_db) for _ in range(4)]
    plans: list[list] = [[] for _ in stores]
    for m in messages:
        for i in rng.sample(range(len(stores)), 2):  # each message reaches two consumers
            plans[i].append(m)
    for plan in plans:  # each consumer gets its messages in nearly the kiosks' order, in small batches
        plan.sort(key=lambda m: (json.loads(m[1])["seq"] + rng.random() * 6, m[0]))
    errors: list[BaseException] = []
    counts = [collections.Counter() for _ in stores]

    def run(i):
        try:
            plan = plans[i]
            for lo in range(0, len(plan), 4):
                counts[i].update(stores[i].ingest(plan[lo:lo + 4]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    writing = threading.Event()
    writing.set()
    folds = []

    def refresher():  # the web app folding the days while they are being written
        conn = summaries.connect(central_db)
        try:
            summaries.ensure_schema(conn)
            while writing.is_set():
                folds.append(summaries.refresh(conn))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    web = threading.Thread(target=refresher)
    web.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    writing.clear()
    web.join(60)
    try:
        assert not errors, errors
        total = sum(counts, collections.Counter())
        assert total["stored"] == len(messages) and total["duplicate"] == len(messages)
        assert total.get("dead", 0) == 0
        assert stores[0].count("events") == len(messages)
        for k, ps in raws.items():
            jid = json.loads(ps[0])["journal"]
            for store in stores:
                assert store.ack("demo", k)["journals"][jid]["upto"] == len(ps)
        assert {j["kiosk"]: j["events"] for j in stores[0].journals()} == {k: len(ps) for k, ps in raws.items()}
        assert stores[0].counters()["received_stored"] == len(messages)
        assert stores[0].gaps() == []
        conn = summaries.connect(central_db)
        try:
            summaries.ensure_schema(conn)
            summaries.refresh(conn)
            assert sum(folds) >= 3  # the days were folded while written, and again as they changed
            rows = [summaries.follow_up_row(r) for r in summaries.day_rows(conn)]
            assert len(rows) == 3 and rows == summaries.replay_rows(conn)
        finally:
            conn.close()
    finally:
        for store in stores:
            store.close()


def test_central_migrate_copies_a_sqlite_central_to_an_empty_postgresql(tmp_path):
    """`kiosk central migrate --to URL --db central.db`: every table copied with its counts
    verified and printed, the same acks, rows and summaries on the other side, dead letters
    numbered on after the copied ones; a second migrate into the now full database is refused."""
    from kiosk.central import summaries
    from kiosk_dev.pgtest import temp_database

    _, raw1 = journal_day(tmp_path, "k1.db")
    _, raw2 = journal_day(tmp_path, "k2.db", kiosk="kiosk-2")
    source = str(tmp_path / "central.db")
    store = CentralStore(source)
    store.ingest([(T, p) for p in raw1[:50]] + [(T2, p) for p in raw2] + [(T, b"{broken")])
    before = {"kiosk-2": store.ack("demo", "kiosk-2")}
    store.close()
    conn = summaries.connect(source)
    summaries.ensure_schema(conn)
    summaries.refresh(conn)
    conn.close()
    store = CentralStore(source)
    store.ingest([(T, p) for p in raw1[50:60]])  # stored after the last refresh: still dirty
    tables = {t: store.count(t) for t in ("events", "journals", "kiosks", "dead_letters")}
    store.close()
    with temp_database() as url:
        done = subprocess.run(kiosk_cmd("central", "migrate", "--to", url, "--db", source),
                              env=env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        for table, n in tables.items():
            assert doc["tables"][table] == n
        assert doc["tables"]["web_days"] == 2 and doc["tables"]["summary_dirty"] == 1
        assert doc["tables"]["dead_letters"] == 1
        pg = CentralStore(url)
        try:
            assert pg.pg
            assert pg.ack("demo", "kiosk-2")["journals"] == before["kiosk-2"]["journals"]
            jid1 = json.loads(raw1[0])["journal"]
            assert pg.ack("demo", "kiosk-1")["journals"][jid1]["upto"] == 60
            assert pg.ingest([(T, p) for p in raw1])["stored"] == len(raw1) - 60  # the rest, on PostgreSQL
            pg.ingest([(T, b"{broken again")])
            assert [r[0] for r in pg.conn.execute("select n from dead_letters order by n").fetchall()] == [1, 2]
        finally:
            pg.close()
        conn = summaries.connect(url)
        try:
            summaries.refresh(conn)
            assert [summaries.follow_up_row(r) for r in summaries.day_rows(conn)] == summaries.replay_rows(conn)
            assert len(summaries.day_rows(conn)) == 2
        finally:
            conn.close()
        again = subprocess.run(kiosk_cmd("central", "migrate", "--to", url, "--db", source),
                               env=env(), capture_output=True, text=True, timeout=120)
        assert again.returncode == 2 and "not empty" in again.stderr


LEGACY_SCHEMA = """
CREATE TABLE [events] ([id] TEXT PRIMARY KEY, [site] TEXT NOT NULL, [kiosk] TEXT NOT NULL, [seq] INTEGER NOT NULL,
  [ts] TEXT NOT NULL, [day] TEXT NOT NULL, [type] TEXT NOT NULL, [operator] TEXT, [payload] TEXT NOT NULL,
  [topic] TEXT, [received_at] TEXT);
CREATE UNIQUE INDEX [idx_events_site_kiosk_seq] ON [events] ([site], [kiosk], [seq]);
CREATE TABLE [dead_letters] ([n] INTEGER PRIMARY KEY, [received_at] TEXT, [topic] TEXT, [reason] TEXT,
  [size] INTEGER, [payload] BLOB);
CREATE TABLE [kiosks] ([site] TEXT, [kiosk] TEXT, [max_seq] INTEGER DEFAULT 0, [events] INTEGER DEFAULT 0,
  [last_event_at] TEXT, [online] INTEGER, [status_pending] INTEGER, [status_last_seq] INTEGER, [status] TEXT,
  [status_at] TEXT, PRIMARY KEY ([site], [kiosk]));
CREATE TABLE [alerts] ([id] TEXT PRIMARY KEY, [site] TEXT, [kiosk] TEXT, [kind] TEXT, [text] TEXT, [ts] TEXT,
  [seq] INTEGER, [payload] TEXT, [received_at] TEXT);
CREATE TABLE [central_meta] ([key] TEXT PRIMARY KEY, [value] TEXT);
CREATE TABLE web_cursor (name text primary key, pos integer not null);
CREATE TABLE web_days (site text not null, kiosk text not null, day text not null, [events] integer,
  primary key (site, kiosk, day));
"""


def test_a_central_db_from_before_migrations_is_taken_as_version_1(tmp_path):
    """A SQLite central.db of the oldest shape still deployed (sqlite-utils' tables, events from
    before journal ids, no alert days, the summaries' rowid cursor): the store's migrations add
    what is missing, its events and device alerts reach the summaries, new journals are stored
    beside the old events, and the migrated file copies to PostgreSQL."""
    import sqlite3

    from kiosk.central import summaries
    from kiosk_dev.pgtest import temp_database

    _, raw = journal_day(tmp_path)
    path = tmp_path / "central.db"
    old = sqlite3.connect(path)
    old.executescript(LEGACY_SCHEMA)
    for p in raw[:20]:
        ev = json.loads(p)
        old.execute("insert into events values (?,?,?,?,?,?,?,?,?,?,?)",
                    (ev["id"], "demo", "kiosk-1", ev["seq"], ev["ts"], ev["day"], ev["type"], ev["operator"],
                     p.decode(), T, "2026-11-23T08:00:00.000Z"))
    old.execute("insert into alerts values ('dev-1', 'demo', 'kiosk-1', 'printer', 'Skrivaren har inget papper.', "
                "'2026-11-23T09:30:00.000Z', null, '{}', '2026-11-23T09:30:01.000Z')")
    old.execute("insert into dead_letters(received_at, topic, reason, size, payload) values "
                "('2026-11-23T08:00:00.000Z', 'x', 'bad', 3, x'616263')")
    old.execute("insert into web_cursor values ('events', 20)")
    old.commit()
    old.close()
    store = CentralStore(path)
    try:
        conn = store.conn
        assert {"journal"} <= {r[1] for r in conn.execute("pragma table_info(events)")}
        assert {"site", "kiosk"} <= {r[1] for r in conn.execute("pragma table_info(dead_letters)")}
        assert conn.execute("select day from alerts").fetchall() == [("2026-11-23",)]
        assert conn.execute("select room, version from schema_migrations order by 1, 2").fetchall() == \
            [("store", 1), ("store", 2), ("store", 3)]
        assert conn.execute("select site, kiosk, day from summary_dirty").fetchall() == [("demo", "kiosk-1", "2026-11-23")]
        # the kiosk's journal again: its first 20 are the old rows (same ids, counted for the journal)
        counts = store.ingest([(T, p) for p in raw])
        assert counts["stored"] == len(raw) - 20 and counts["duplicate"] == 20 and counts.get("dead", 0) == 0
        assert store.count("events") == len(raw)
        jid = json.loads(raw[0])["journal"]
        assert store.ack("demo", "kiosk-1")["journals"][jid]["upto"] == len(raw)
        assert store.kiosks()[0]["dead_letters"] == 0
    finally:
        store.close()
    c = summaries.connect(path)
    try:
        summaries.ensure_schema(c)  # the old web_days (other columns) is dropped and folded again
        assert summaries.refresh(c) == 1
        assert [a[0] for a in c.execute("select id from web_alerts where source = 'alerts'")] == ["dev-1"]
        assert len(summaries.day_rows(c)) == 1
    finally:
        c.close()
    with temp_database() as url:
        done = subprocess.run(kiosk_cmd("central", "migrate", "--to", url, "--db", str(path)),
                              env=env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["tables"]["events"] == len(raw)


def test_a_storage_failure_raises_and_keeps_nothing_of_the_batch(tmp_path, central_db):
    """The database itself failing (PostgreSQL: a disk_full error from a trigger on the batch's
    last event; SQLite: the connection made read-only) raises a storage failure and keeps nothing
    of the batch, neither events nor acks nor counters nor dead letters; the same batch again
    afterwards is stored whole."""
    import pytest

    from kiosk.central.db import is_storage_failure

    _, raw = journal_day(tmp_path)
    jid = json.loads(raw[0])["journal"]
    store = CentralStore(central_db)
    try:
        assert store.ingest([(T, p) for p in raw[:10]])["stored"] == 10
        batch = [(T, p) for p in raw[10:30]] + [(T, b"{garbage")]
        if store.pg:
            store.conn.execute("create function full_disk() returns trigger language plpgsql as $$ begin "
                               "if new.seq = 30 then raise exception 'no space left' using errcode = 'disk_full'; "
                               "end if; return new; end $$")
            store.conn.execute("create trigger full_disk before insert on events for each row execute function full_disk()")
        else:
            store.conn.execute("pragma query_only = 1")
        with pytest.raises(Exception) as failed:
            store.ingest(batch)
        assert is_storage_failure(failed.value), failed.value
        if store.pg:
            store.conn.execute("drop trigger full_disk on events")
        else:
            store.conn.execute("pragma query_only = 0")
        assert store.count("events") == 10 and store.count("dead_letters") == 0
        assert store.ack("demo", "kiosk-1")["journals"][jid]["upto"] == 10
        assert store.counters() == {"received_stored": 10}
        again = store.ingest(batch)
        assert again["stored"] == 20 and again["dead"] == 1
        assert store.ack("demo", "kiosk-1")["journals"][jid]["upto"] == 30
    finally:
        store.close()


def test_a_nul_postgresql_refuses_dead_letters_one_message_not_the_batch(tmp_path, central_db, monkeypatch):
    """Validation refuses a NUL in text before the store sees it; behind it, the store's isolation:
    with the check let through, PostgreSQL's refusal of the NUL (in the batch's one statement)
    dead-letters that message alone and stores the rest; SQLite stores it as it is."""
    import kiosk.central.store as store_module

    real = store_module.check_event

    def lax(doc, site, kiosk, *now):
        return doc if "\x00" in str(doc.get("operator")) else real(doc, site, kiosk, *now)

    monkeypatch.setattr(store_module, "check_event", lax)
    _, raw = journal_day(tmp_path)
    poison = {**json.loads(raw[5]), "operator": "AN\x00NA"}
    batch = [(T, p) for p in raw[:5]] + [(T, json.dumps(poison).encode())] + [(T, p) for p in raw[6:]]
    store = CentralStore(central_db)
    try:
        counts = store.ingest(batch)
        jid = json.loads(raw[0])["journal"]
        if store.pg:
            assert counts["dead"] == 1 and counts["stored"] == len(raw) - 1
            reason = store.conn.execute("select reason from dead_letters").fetchone()[0]
            assert "cannot store" in reason and "0x00" in reason
            assert store.ack("demo", "kiosk-1")["journals"][jid]["upto"] == 5
        else:
            assert counts["stored"] == len(raw) and counts.get("dead", 0) == 0
            assert store.ack("demo", "kiosk-1")["journals"][jid]["upto"] == len(raw)
        assert store.ingest([(T, p) for p in raw[10:20]])["duplicate"] == 10  # the next batch as usual
    finally:
        store.close()


def test_central_db_in_the_config_may_be_a_url(tmp_path):
    """`central.db` as a URL is taken as it is (never made a file name under the config's folder);
    a relative file stays relative to the config's folder."""
    from pathlib import Path

    url = "postgresql://central:pw@db.example:5433/returpost"
    path = tmp_path / "c.toml"
    path.write_text(f'[central]\ndb = "{url}"\n', encoding="utf-8")
    assert load(path).db_target() == url
    assert load(path).db_target("var/other.db") == tmp_path / "var/other.db"
    path.write_text('[central]\ndb = "var/central.db"\n', encoding="utf-8")
    assert load(path).db_target() == Path(tmp_path / "var/central.db")


def test_the_ack_is_computed_under_the_journals_lock_from_what_is_committed(tmp_path, central_db):
    """Another central process holds the journal (PostgreSQL: its row `for update`; SQLite: the
    write lock) and stores the seq this batch's ack needs; this process waits for it and then
    counts it: the ack goes past it. (Computed from memory, or before taking the lock, the ack
    would stop before that seq until some later batch.)"""
    import time

    from kiosk.central.db import open_conn

    _, raw = journal_day(tmp_path)
    jid = json.loads(raw[0])["journal"]
    store = CentralStore(central_db)
    other = open_conn(central_db)
    try:
        assert store.ingest([(T, p) for p in raw[:10]])["stored"] == 10
        ev = json.loads(raw[10])
        with other.transaction():
            if store.pg:
                other.execute("select acked_seq from journals where journal = ? for update", (jid,))
            other.execute("insert into events(id, site, kiosk, journal, seq, ts, day, type, operator, payload) "
                          "values (?,?,?,?,?,?,?,?,?,?)", (ev["id"], "demo", "kiosk-1", jid, 11, ev["ts"], ev["day"],
                                                          ev["type"], ev["operator"], raw[10].decode()))
            done: list = []
            t = threading.Thread(target=lambda: done.append(store.ingest([(T, p) for p in raw[11:20]])))
            t.start()
            time.sleep(0.5)
            assert not done  # waiting for the other process's transaction
        t.join(30)
        assert done and done[0]["stored"] == 9
        assert store.ack("demo", "kiosk-1")["journals"][jid]["upto"] == 20
    finally:
        other.close()
        store.close()


def test_a_day_marked_again_while_it_is_folded_is_folded_again(tmp_path, central_db):
    """A storing process marks a day (and commits) while the web's refresh folds that day from
    what it could see: the refresh must not take that newer mark away, so the next refresh folds
    the day again and the row equals the replay. (On PostgreSQL the refresh's delete waits for
    the storing transaction and then finds the mark counted up; on SQLite the refresh waits for
    the write lock.)"""
    import time

    from kiosk.central import summaries
    from kiosk.central.db import open_conn

    _, raw = journal_day(tmp_path)
    jid = json.loads(raw[0])["journal"]
    store = CentralStore(central_db)
    web = summaries.connect(central_db)
    other = open_conn(central_db)
    try:
        summaries.ensure_schema(web)
        store.ingest([(T, p) for p in raw[:10]] + [(T, raw[11])])  # seq 12 marks the day
        ev = json.loads(raw[10])
        with other.transaction():  # another process stores seq 11 and marks the day again
            other.execute("insert into events(id, site, kiosk, journal, seq, ts, day, type, operator, payload) "
                          "values (?,?,?,?,?,?,?,?,?,?)", (ev["id"], "demo", "kiosk-1", jid, 11, ev["ts"], ev["day"],
                                                          ev["type"], ev["operator"], raw[10].decode()))
            other.execute("update summary_dirty set n = n + 1 where site = 'demo' and kiosk = 'kiosk-1' and day = ?",
                          (ev["day"],))
            folding = threading.Thread(target=summaries.refresh, args=(web,))
            folding.start()
            time.sleep(0.5)
        folding.join(30)
        summaries.refresh(web)
        rows = [summaries.follow_up_row(r) for r in summaries.day_rows(web)]
        assert rows == summaries.replay_rows(web)
        assert summaries.day_rows(web)[0]["events"] == 12
    finally:
        other.close()
        web.close()
        store.close()


def test_central_migrate_copies_rows_without_firing_the_rooms_triggers(tmp_path, monkeypatch):
    """A room whose schema has a trigger on `events` (as the delivery queue is fed): the copied
    events are copies, so it does not fire for them; it is on again afterwards."""
    from kiosk.central import migrate
    from kiosk.central.db import open_conn
    from kiosk_dev.pgtest import temp_database

    _, raw = journal_day(tmp_path)
    source = str(tmp_path / "central.db")
    store = CentralStore(source)
    store.ingest([(T, p) for p in raw[:20]])
    store.close()
    makers = migrate._schema_makers()

    def with_trigger():
        def room(conn):
            conn.execute("create table fed (id text)")
            conn.execute("create function feed() returns trigger language plpgsql as $$ begin "
                         "insert into fed values (new.id); return new; end $$")
            conn.execute("create trigger feed after insert on events for each row execute function feed()")
        return [*makers, ("fed", room)]

    monkeypatch.setattr(migrate, "_schema_makers", with_trigger)
    with temp_database() as url:
        assert migrate.migrate(source, url)["events"] == 20
        pg = CentralStore(url)
        try:
            assert pg.ingest([(T, p) for p in raw[20:25]])["stored"] == 5
        finally:
            pg.close()
        conn = open_conn(url)
        try:
            assert conn.query_one("select count(*) from fed") == (5,)  # only the new ones
        finally:
            conn.close()
