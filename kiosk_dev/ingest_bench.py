"""Ingest benchmark: figures beside baselines measured in the same run, never asserted.

    kiosk bench-ingest [--events N] [--kiosks K] [--engines postgresql,sqlite] [--dir DIR]

The same N journal events (default 20,000 from 20 kiosks, 100 a kiosk and day, real `Journal`
payloads) go through one mosquitto (started here on a free port) into central, in these runs:
- 1, 2 and 4 central consumers (`kiosk central` processes, one client id each, one MQTT v5
  shared subscription group) on one PostgreSQL database (a fresh one per run, kiosk_dev.pgtest);
- 1 consumer on a SQLite file;
and, with no broker and no central code at all, the same rows into a table of the events'
shape (same columns, same primary key and unique (site, kiosk, journal, seq) index) on the same
PostgreSQL server: a bare psycopg `COPY` and a bare `executemany`, committing every
`central.batch_size` rows as central does.

Each central run: the consumers start once (their persistent sessions subscribe to the shared
group), stop cleanly, every event is published at QoS 1 while they are away (the broker queues
them, spread over the group's sessions), then the consumers start again and the clock runs from
the first stored event to the last (polling `count(*)`), so publishing and process start are
outside the figure. A consumer's ingest includes everything it does in production: JSON parse,
validation, dedupe, journal contiguity, the day summaries' dirty marks, the commit, the manual
broker acks and the end-to-end ack publishes (and reading every other consumer's acks).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from kiosk.central.db import open_database
from kiosk.core.clock import TZ
from kiosk.core.config import parse
from kiosk.wire.journal import Journal
from kiosk.wire.topics import topic

from .localbroker import LocalBroker
from .sync_bench import in_work_folder, publish_qos1

SITE = "bench"
ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("id", "site", "kiosk", "journal", "seq", "ts", "day", "type", "operator", "payload", "topic",
           "received_at")
BARE_TABLE = """create table bare_events (
    id text primary key, site text not null, kiosk text not null, journal text not null default '',
    seq integer not null, ts text not null, day text not null, type text not null, operator text,
    payload text not null, topic text, received_at text);
create unique index bare_events_seq on bare_events (site, kiosk, journal, seq);
create index bare_events_day on bare_events (day, site, kiosk)"""


DAY_EVENTS = 100  # events per kiosk and day (a busy day at the shelf; central folds each day touched)


def make_events(work: Path, n: int, kiosks: int) -> list[tuple[str, bytes]]:
    """(topic, payload) of n events from `kiosks` kiosk journals, DAY_EVENTS a day on consecutive
    days, in each journal's seq order, the kiosks interleaved as they would arrive."""
    piles = ("dodsbo", "sekretess", "faktura", "ovriga_streckkod", "leta_kund", "ovriga_brev")
    first = dt.date(2026, 11, 2)
    per = [n // kiosks + (1 if k < n % kiosks else 0) for k in range(kiosks)]
    streams = []
    for k, count in enumerate(per):
        name = f"kiosk-{k + 1:02d}"
        j = Journal(work / f"{name}.db", SITE, name)
        try:
            done, d = 0, 0
            while done < count:
                day = first + dt.timedelta(days=d)
                now = dt.datetime.combine(day, dt.time(9, 0), tzinfo=TZ)
                m = min(DAY_EVENTS, count - done)
                j.append([("signed_in", {"operator": "ANNA"})]
                         + [("sorted", {"pile": piles[i % len(piles)]}) for i in range(m - 1)], now, day, "ANNA")
                done += m
                d += 1
            t = topic(SITE, name, "events")
            streams.append([(t, p.encode("utf-8")) for (p,) in j.db.execute(
                "select payload from events order by seq limit ?", [count])])
        finally:
            j.close()
    out = []
    for i in range(max(per)):
        out.extend(s[i] for s in streams if i < len(s))
    return out


def publish_all(port: int, messages: list[tuple[str, bytes]], window: int = 100) -> float:
    return publish_qos1(port, messages, window, client_id="bench-ingest-pub", timeout=600)


class Consumers:
    """`kiosk central` processes sharing one group and one database, each its own client id."""

    def __init__(self, broker: LocalBroker, work: Path, name: str, target: str, n: int):
        self.broker, self.work, self.target = broker, work, target
        self.names = [f"{name}-c{i + 1}" for i in range(n)]
        self.procs: list[subprocess.Popen] = []
        self.cfgs = []
        for cname in self.names:
            cfg = work / f"{cname}.toml"
            cfg.write_text(f'[mqtt]\nport = {broker.port}\nbackoff_min = 0.05\nbackoff_max = 0.5\n'
                           f'[central]\nclient_id = "{cname}"\nshared_group = "{name}"\n', encoding="utf-8")
            self.cfgs.append(cfg)
        self.log = open(work / f"{name}.log", "ab")

    def start(self) -> None:
        for cfg in self.cfgs:
            self.procs.append(subprocess.Popen([sys.executable, "-m", "kiosk", "--config", str(cfg), "central",
                                                "--db", self.target], cwd=ROOT, stdout=self.log,
                                               stderr=self.log))

    def wait_subscribed(self, timeout: float = 120.0) -> None:
        """Every consumer's shared subscription is on the broker (its verbose log says so)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.broker.log_text()
            if all(f"{c} 1 $share/" in text for c in self.names):
                return
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"a central consumer exited ({p.returncode}); see {self.log.name}")
            time.sleep(0.05)
        raise RuntimeError(f"central consumers not subscribed within {timeout:g} s; see {self.log.name}")

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        self.procs = []

    def close(self) -> None:
        self.stop()
        self.log.close()


def count_events(target: str) -> int:
    db = open_database(target)
    try:
        try:
            return db.query_one("select count(*) from events")[0]
        except Exception:
            return 0
    finally:
        db.close()


def central_run(broker: LocalBroker, work: Path, name: str, target: str, consumers: int,
                messages: list[tuple[str, bytes]], timeout: float = 900.0) -> dict:
    n = len(messages)
    group = Consumers(broker, work, name, target, consumers)
    try:
        group.start()
        group.wait_subscribed()
        group.stop()  # their sessions (and the group's share) stay on the broker
        publish = publish_all(broker.port, messages)
        db = open_database(target)
        try:
            group.start()
            t_start = time.perf_counter()
            first_at, first_n, got = None, 0, 0
            deadline = time.monotonic() + timeout
            while got < n and time.monotonic() < deadline:
                got = db.query_one("select count(*) from events")[0] if _has_events(db) else 0
                now = time.perf_counter()
                if got and first_at is None:
                    first_at, first_n = now, got
                if got < n:
                    time.sleep(0.01)
            t_end = time.perf_counter()
        finally:
            db.close()
        if got < n:
            raise RuntimeError(f"{name}: only {got} of {n} events stored within {timeout:g} s")
        assert first_at is not None
        return {"name": name, "consumers": consumers, "events": n, "publish_s": publish,
                "seconds": t_end - first_at, "counted": n - first_n, "from_start_s": t_end - t_start}
    finally:
        group.close()


def _has_events(db) -> bool:
    try:
        return "events" in db.table_names()
    except Exception:
        return False


def bare_rows(messages: list[tuple[str, bytes]]) -> list[tuple]:
    now = "2026-11-23T08:00:00.000000Z"
    rows = []
    for t, p in messages:
        ev = json.loads(p)
        rows.append((ev["id"], ev["site"], ev["kiosk"], ev.get("journal") or "", ev["seq"], ev["ts"], ev["day"],
                     ev["type"], ev["operator"], p.decode("utf-8"), t, now))
    return rows


def bare_postgres(url: str, rows: list[tuple], batch: int, how: str) -> float:
    import psycopg

    with psycopg.connect(url) as conn:
        for stmt in BARE_TABLE.split(";"):
            conn.execute(stmt)
        conn.commit()
        t0 = time.perf_counter()
        for i in range(0, len(rows), batch):
            part = rows[i:i + batch]
            with conn.cursor() as cur:
                if how == "copy":
                    with cur.copy(f"copy bare_events ({', '.join(COLUMNS)}) from stdin") as copy:
                        for r in part:
                            copy.write_row(r)
                else:
                    cur.executemany(f"insert into bare_events ({', '.join(COLUMNS)}) values "
                                    f"({', '.join(['%s'] * len(COLUMNS))})", part)
            conn.commit()
        elapsed = time.perf_counter() - t0
        got = conn.execute("select count(*) from bare_events").fetchone()[0]
    if got != len(rows):
        raise RuntimeError(f"bare {how}: {got} of {len(rows)} rows")
    return elapsed


def run(args) -> None:
    in_work_folder(args, "kiosk-bench-ingest-", _run)


def _run(args, base: Path) -> None:
    n = int(getattr(args, "events", None) or 20000)
    kiosks = int(getattr(args, "kiosks", None) or 20)
    engines = [e.strip() for e in (getattr(args, "engines", None) or "postgresql,sqlite").split(",") if e.strip()]
    pg_consumers = [int(c) for c in str(getattr(args, "consumers", None) or "1,2,4").split(",")]
    work = base / f"ingest-{time.time_ns()}"
    work.mkdir(parents=True)
    batch = parse("", "<bench>").central.batch_size
    messages = make_events(work, n, kiosks)
    rows = bare_rows(messages)
    results: list[dict] = []
    bare: dict[str, float] = {}
    with LocalBroker(work / "broker", verbose=True) as broker:
        print(f"ingest bench: {n} events from {kiosks} kiosks through mosquitto (127.0.0.1:{broker.port}), "
              f"central.batch_size {batch}")
        if "postgresql" in engines:
            from .pgtest import create_database, drop_database

            for how in ("copy", "executemany"):
                url = create_database("kiosk_bench")
                try:
                    bare[how] = bare_postgres(url, rows, batch, how)
                finally:
                    drop_database(url)
            for c in pg_consumers:
                url = create_database("kiosk_bench")
                try:
                    results.append({**central_run(broker, work, f"pg{c}", url, c, messages), "engine": "PostgreSQL"})
                finally:
                    drop_database(url)
        if "sqlite" in engines:
            results.append({**central_run(broker, work, "sqlite1", str(work / "central.db"), 1, messages),
                            "engine": "SQLite"})
    one = next((r for r in results if r["engine"] == "PostgreSQL" and r["consumers"] == 1), None)
    copy = bare.get("copy")
    for how, seconds in bare.items():
        print(f"  bare psycopg {how:<11} (no broker, no central)   {n / seconds:8.0f} events/s  ({seconds:.2f} s)")
    for r in results:
        rate = r["counted"] / r["seconds"]
        ratios = []
        if one is not None and r is not one and r["engine"] == "PostgreSQL":
            ratios.append(f"{rate / (one['counted'] / one['seconds']):.2f}x of 1 consumer")
        if copy:
            ratios.append(f"{rate / (n / copy):.2f}x of bare COPY")
        if bare.get("executemany"):
            ratios.append(f"{rate / (n / bare['executemany']):.2f}x of bare executemany")
        print(f"  {r['engine']:<10} {r['consumers']} consumer{'s' if r['consumers'] > 1 else ' '}"
              f"  (broker -> central)       {rate:8.0f} events/s  ({r['seconds']:.2f} s"
              f"{'; ' + ', '.join(ratios) if ratios else ''})")
    if results:
        pubs = [r["publish_s"] for r in results]
        print(f"  (for information: publishing the {n} events into the broker took {min(pubs):.2f}..{max(pubs):.2f} s; "
              f"each central figure runs from its first stored event to its last)")
