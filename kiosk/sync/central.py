"""Central: the collector of every kiosk's events, and its store (DESIGN.md §5).

    kiosk central [--db FILE]        # run the collector until SIGTERM
    kiosk central --gaps [--db FILE] # print per-kiosk seq gaps and last status, exit

`CentralStore` is the SQLite side (sqlite-utils, WAL, synchronous=FULL):
- `events`: every valid event once, by `id` (a redelivery is counted as a duplicate and dropped);
  (site, kiosk, seq) is unique too: a second id for a used seq is dead-lettered, not stored.
- `dead_letters`: anything malformed or rejected, with the reason, the topic and the raw bytes.
- `kiosks`: per kiosk the highest seq, event count, and its last retained status.
- `alerts`: TL alerts from `.../alerts`, once by id.
`ingest(messages)` takes a batch and commits it in one transaction; it never raises for bad
input (only for a storage failure, when nothing of the batch is committed).

`Central` is the MQTT side (paho 2.x, one thread): a persistent session (clean start off, session
expiry `central.session_expiry`), QoS 1 subscriptions to `returpost/v1/+/+/events|alerts`
(optionally as `$share/<central.shared_group>/...`) and `returpost/v1/+/+/status`. It acknowledges
a message (manual ack) only after the batch holding it is committed, so a crash at any point
means a redelivery, which the store drops by id: every event lands exactly once.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import random
import select
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..clock import utc_iso
from ..journal import connect
from . import topics
from .validate import ID_RE, Invalid, check_alert, check_event, check_status, parse_json

log = logging.getLogger(__name__)

DEAD_PAYLOAD_LIMIT = 64 * 1024
FILL_WAIT = 0.005  # seconds to wait for more messages before committing a batch
MAX_BATCH_AGE = 0.05  # seconds the oldest message of a batch may wait for its commit
REPORT_EVERY = 300.0  # seconds between summary lines (counts, open gaps) in the log


def _now() -> str:
    return utc_iso(dt.datetime.now(dt.timezone.utc))


class CentralStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.db = connect(self.path)
        self.conn = self.db.conn
        self._lock = threading.Lock()
        for attempt in range(50):  # several central processes may start on one new file
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    self._ensure_schema()
                    self.conn.execute("COMMIT")
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.1)
        self.max_seq: dict[tuple[str, str], int] = {
            (r[0], r[1]): r[2] for r in self.conn.execute("select site, kiosk, max_seq from kiosks")
        }

    def _ensure_schema(self) -> None:
        db = self.db
        names = set(db.table_names())
        if "events" not in names:
            db["events"].create(
                {"id": str, "site": str, "kiosk": str, "seq": int, "ts": str, "day": str,
                 "type": str, "operator": str, "payload": str, "topic": str, "received_at": str},
                pk="id", not_null={"site", "kiosk", "seq", "ts", "day", "type", "payload"},
            )
            db["events"].create_index(["site", "kiosk", "seq"], unique=True)
            db["events"].create_index(["day", "site", "kiosk"])
        if "dead_letters" not in names:
            db["dead_letters"].create(
                {"n": int, "received_at": str, "topic": str, "reason": str, "size": int,
                 "payload": bytes}, pk="n",
            )
        if "kiosks" not in names:
            db["kiosks"].create(
                {"site": str, "kiosk": str, "max_seq": int, "events": int, "last_event_at": str,
                 "online": int, "status_pending": int, "status_last_seq": int, "status": str,
                 "status_at": str},
                pk=("site", "kiosk"), defaults={"max_seq": 0, "events": 0},
            )
        if "alerts" not in names:
            db["alerts"].create(
                {"id": str, "site": str, "kiosk": str, "kind": str, "text": str, "ts": str,
                 "seq": int, "payload": str, "received_at": str}, pk="id",
            )

    # -- ingest --------------------------------------------------------------------------------
    def ingest(self, messages: Iterable[tuple[object, bytes]], received_at: str | None = None) -> collections.Counter:
        """Store a batch of (topic, payload) in one transaction. Counts: stored, duplicate,
        status, alert, dead. Raises only sqlite3.Error (then nothing of the batch is kept)."""
        now = received_at or _now()
        counts: collections.Counter = collections.Counter()
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                events: list[tuple[dict, str, bytes]] = []
                for topic, payload in messages:
                    try:
                        ev = self._one(topic, payload, now, counts)
                        if ev is not None:
                            events.append((ev, str(topic), payload))  # _one refused a non-str topic
                    except Invalid as exc:
                        self._dead(topic, payload, str(exc), now)
                        counts["dead"] += 1
                    except sqlite3.Error:
                        raise
                    except Exception as exc:  # a bug must not lose the message nor stop central
                        log.exception("central: unexpected error on a message; dead-lettered")
                        self._dead(topic, payload, f"internal error: {type(exc).__name__}: {exc}"[:500], now)
                        counts["dead"] += 1
                gaps = self._store_events(events, now, counts) if events else []
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                self.max_seq = {(r[0], r[1]): r[2] for r in
                                self.conn.execute("select site, kiosk, max_seq from kiosks")}
                raise
        for text in gaps:
            log.warning("central: %s", text)
        return counts

    def _existing(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            found.update(r[0] for r in self.conn.execute(
                f"select id from events where id in ({','.join('?' * len(part))})", part))
        return found

    def _store_events(self, events: list[tuple[dict, str, bytes]], now: str, counts) -> list[str]:
        """Insert the valid events of a batch: duplicates by id are counted and dropped; a used
        (site, kiosk, seq) under another id is dead-lettered. One executemany for the rest."""
        existing = self._existing([ev["id"] for ev, _, _ in events])
        fresh, seen = [], set()
        for item in events:
            eid = item[0]["id"]
            if eid in existing or eid in seen:
                counts["duplicate"] += 1
                continue
            seen.add(eid)
            fresh.append(item)
        if not fresh:
            return []
        cur = self.conn.executemany(
            "insert or ignore into events(id, site, kiosk, seq, ts, day, type, operator, payload, "
            "topic, received_at) values (?,?,?,?,?,?,?,?,?,?,?)",
            [(ev["id"], ev["site"], ev["kiosk"], ev["seq"], ev["ts"], ev["day"], ev["type"], ev["operator"],
              bytes(payload).decode("utf-8"), topic, now) for ev, topic, payload in fresh])
        if cur.rowcount != len(fresh):  # some seq was already used by another id
            stored = self._existing([ev["id"] for ev, _, _ in fresh])
            kept = []
            for ev, topic, payload in fresh:
                if ev["id"] in stored:
                    kept.append((ev, topic, payload))
                else:
                    self._dead(topic, payload, f"seq {ev['seq']} of {ev['site']}/{ev['kiosk']} is already "
                               "stored under another id", now)
                    counts["dead"] += 1
            fresh = kept
        counts["stored"] += len(fresh)
        gaps: list[str] = []
        touched: dict[tuple[str, str], list] = {}
        for ev, _, _ in sorted(fresh, key=lambda item: item[0]["seq"]):
            key = (ev["site"], ev["kiosk"])
            seq = ev["seq"]
            top = self.max_seq.get(key, 0)
            if seq > top + 1:
                gaps.append(f"gap: {key[0]}/{key[1]} seq {top + 1}..{seq - 1} not (yet) received")
            if seq > top:
                self.max_seq[key] = seq
            entry = touched.setdefault(key, [0, 0])
            entry[0] += 1
            entry[1] = max(entry[1], seq)
        for (site, kiosk), (n, top) in touched.items():
            self.conn.execute(
                "insert into kiosks(site, kiosk, max_seq, events, last_event_at) values (?,?,?,?,?) "
                "on conflict(site, kiosk) do update set max_seq = max(max_seq, excluded.max_seq), "
                "events = events + excluded.events, last_event_at = excluded.last_event_at",
                [site, kiosk, top, n, now])
        return gaps

    def _one(self, topic, payload, now, counts) -> dict | None:
        """Check one message; a valid event is returned for the batch insert, a status or an
        alert is stored here. Raises Invalid for anything else."""
        if not isinstance(topic, str):
            raise Invalid("topic is not UTF-8")
        parsed = topics.parse_topic(topic)
        if parsed is None:
            raise Invalid("unexpected topic")
        site, kiosk, kind = parsed
        if not ID_RE.match(site) or not ID_RE.match(kiosk):
            raise Invalid("bad site or kiosk in the topic")
        doc = parse_json(payload)
        if kind == "events":
            return check_event(doc, site, kiosk)
        if kind == "status":
            st = check_status(doc, site, kiosk)
            self.conn.execute(
                "insert into kiosks(site, kiosk, online, status_pending, status_last_seq, status, status_at) "
                "values (?,?,?,?,?,?,?) on conflict(site, kiosk) do update set online = excluded.online, "
                "status_pending = excluded.status_pending, status_last_seq = excluded.status_last_seq, "
                "status = excluded.status, status_at = excluded.status_at",
                [site, kiosk, int(st["online"]), st["pending"], st["last_seq"],
                 json.dumps(st, ensure_ascii=False), now])
            counts["status"] += 1
            return None
        al = check_alert(doc, site, kiosk)
        seq = al.get("seq")
        cur = self.conn.execute(
            "insert or ignore into alerts(id, site, kiosk, kind, text, ts, seq, payload, received_at) "
            "values (?,?,?,?,?,?,?,?,?)",
            [al["id"], site, kiosk, al["kind"], al["text"], str(al.get("ts", ""))[:40],
             seq if isinstance(seq, int) and not isinstance(seq, bool) and abs(seq) < 2**63 else None,
             json.dumps(al, ensure_ascii=False), now])
        if cur.rowcount:
            log.warning("central: TL alert from %s/%s: %s: %s", site, kiosk, al["kind"], al["text"][:200])
            counts["alert"] += 1
        else:
            counts["duplicate_alert"] += 1
        return None

    def _dead(self, topic, payload, reason: str, now: str) -> None:
        raw = bytes(payload) if isinstance(payload, (bytes, bytearray)) else repr(payload).encode()
        self.conn.execute(
            "insert into dead_letters(received_at, topic, reason, size, payload) values (?,?,?,?,?)",
            [now, topic if isinstance(topic, str) else repr(topic), reason, len(raw), raw[:DEAD_PAYLOAD_LIMIT]])

    # -- reading -------------------------------------------------------------------------------
    def count(self, table: str) -> int:
        return self.conn.execute(f"select count(*) from [{table}]").fetchone()[0]

    def gaps(self) -> list[dict]:
        """Missing seq ranges per kiosk: before the first event, between events, and after the
        last one when the kiosk's status says it has more acknowledged."""
        out = []
        for site, kiosk, first in self.conn.execute(
                "select site, kiosk, min(seq) from events group by site, kiosk order by site, kiosk").fetchall():
            if first > 1:
                out.append({"site": site, "kiosk": kiosk, "from_seq": 1, "to_seq": first - 1})
        for site, kiosk, seq, nxt in self.conn.execute(
                "select site, kiosk, seq, nxt from (select site, kiosk, seq, lead(seq) over "
                "(partition by site, kiosk order by seq) as nxt from events) where nxt > seq + 1 "
                "order by site, kiosk, seq").fetchall():
            out.append({"site": site, "kiosk": kiosk, "from_seq": seq + 1, "to_seq": nxt - 1})
        for site, kiosk, top, acked in self.conn.execute(
                "select site, kiosk, max_seq, status_last_seq from kiosks where status_last_seq > max_seq").fetchall():
            out.append({"site": site, "kiosk": kiosk, "from_seq": (top or 0) + 1, "to_seq": acked,
                        "note": "acknowledged by the broker, not (yet) received"})
        out.sort(key=lambda g: (g["site"], g["kiosk"], g["from_seq"]))
        return out

    def kiosks(self) -> list[dict]:
        rows = self.conn.execute(
            "select site, kiosk, max_seq, events, last_event_at, online, status_pending, "
            "status_last_seq, status_at from kiosks order by site, kiosk").fetchall()
        keys = ("site", "kiosk", "max_seq", "events", "last_event_at", "online", "pending",
                "last_seq_acked", "status_at")
        out = [dict(zip(keys, r)) for r in rows]
        for k in out:
            k["online"] = None if k["online"] is None else bool(k["online"])
        return out

    def close(self) -> None:
        self.conn.close()


class Central:
    """The collector: MQTT -> CentralStore. `run()` blocks; `start()` runs it in a thread."""

    def __init__(self, config, db_path: str | Path):
        self.config = config
        self.db_path = Path(db_path)
        c = config.central
        self.batch_size = c.batch_size
        self.client_id = c.client_id
        self.username = c.username or config.mqtt.username
        self.password = c.password or config.mqtt.password
        self._protocol = config.mqtt.protocol
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rand = random.Random()
        self._lock = threading.Lock()
        self.stats: collections.Counter = collections.Counter()
        self.last_error: str | None = None
        self.connected = False
        self.store: CentralStore | None = None
        self._pending: list = []
        self._client: mqtt.Client | None = None
        self._subscribed = threading.Event()
        self._next_report = time.monotonic() + REPORT_EVERY

    # -- control -------------------------------------------------------------------------------
    def start(self) -> "Central":
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="central", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        return self._subscribed.wait(timeout)

    @property
    def alive(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self.stats)

    # -- loop ----------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> None:
        if stop is not None:
            self._stop = stop
        self.store = CentralStore(self.db_path)
        failures = 0
        where = topics.describe(self.config.mqtt, self.username)
        try:
            while not self._stop.is_set():
                try:
                    ok = self._session(where)
                except Exception as exc:  # a bug must not stop the collector for good
                    log.exception("central: unexpected error; reconnecting")
                    self._error(f"unexpected error: {type(exc).__name__}: {exc}")
                    ok = False
                if self._stop.is_set():
                    break
                failures = 0 if ok else failures + 1
                m = self.config.mqtt
                base = min(m.backoff_max, m.backoff_min * 2 ** min(failures, 30))
                self._stop.wait(self._rand.uniform(base / 2, base))
        finally:
            self.store.close()

    def _subscriptions(self) -> list[str]:
        group = self.config.central.shared_group
        shared = f"$share/{group}/" if group else ""
        return [f"{shared}{topics.PREFIX}/+/+/events", f"{shared}{topics.PREFIX}/+/+/alerts",
                f"{topics.PREFIX}/+/+/status"]

    def _session(self, where: str) -> bool:
        """One connection, until it drops or we stop. True if it got connected at all."""
        m = self.config.mqtt
        trying_fallback = self._protocol == "v311" and m.protocol == "v5"
        try:
            client = topics.make_client(m, self.client_id, self._protocol, username=self.username,
                                        password=self.password, base=self.config.data_path("."),
                                        manual_ack=True, persistent=True)
        except Exception as exc:
            self._error(f"MQTT client setup failed: {exc}")
            return False
        state: dict[str, object] = {"connected": False, "failed": None}

        def on_connect(c, u, flags, rc, props):
            if rc.is_failure:
                state["failed"] = f"broker refused: {rc}"
                if rc.value in (1, 132) and self._protocol == "v5":
                    self._protocol = "v311"
                return
            state["connected"] = True
            c.subscribe([(t, 1) for t in self._subscriptions()])

        def on_subscribe(c, u, mid, rcs, props):
            bad = [str(r) for r in rcs if r.is_failure]
            if bad:
                self._error(f"subscription refused: {', '.join(bad)}")
            else:
                self._subscribed.set()

        def on_disconnect(c, u, flags, rc, props):
            state["connected"] = False

        def on_message(c, u, msg):
            try:
                topic = msg.topic
            except UnicodeDecodeError:
                topic = bytes(msg._topic)
            self._pending.append((topic, msg.payload, msg.mid, msg.qos))

        client.on_connect, client.on_subscribe = on_connect, on_subscribe
        client.on_disconnect, client.on_message = on_disconnect, on_message
        try:
            if self._protocol == "v5":
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = int(self.config.central.session_expiry)
                client.connect(m.host, m.port, keepalive=m.keepalive, clean_start=False, properties=props)
            else:
                client.connect(m.host, m.port, keepalive=m.keepalive)
        except Exception as exc:
            self._error(f"cannot connect to {where}: {exc}")
            if trying_fallback:
                self._protocol = "v5"
            return False
        self._client = client
        deadline = time.monotonic() + float(m.connect_timeout)
        while not state["connected"] and state["failed"] is None and not self._stop.is_set():
            try:
                rc = client.loop(0.05)
            except Exception as exc:
                rc = mqtt.MQTT_ERR_PROTOCOL
                state["failed"] = f"protocol error: {exc}"
            if time.monotonic() > deadline or rc != mqtt.MQTT_ERR_SUCCESS:
                state["failed"] = state["failed"] or "no CONNACK"
                if self._protocol == "v5" and self.config.mqtt.protocol == "v5" and rc != mqtt.MQTT_ERR_SUCCESS:
                    self._protocol = "v311"  # an old broker may just hang up on a v5 CONNECT
                break
        if not state["connected"]:
            self._error(f"cannot connect to {where}: {state['failed'] or 'stopped'}")
            self._close(client)
            if trying_fallback:
                self._protocol = "v5"
            return False
        log.info("central: connected to %s (%s), subscribed to %s", where, self._protocol,
                 ", ".join(self._subscriptions()))
        self.connected, self.last_error = True, None
        try:
            while not self._stop.is_set() and state["connected"]:
                before = len(self._pending)
                try:
                    rc = client.loop(FILL_WAIT if self._pending else 0.5)
                except Exception as exc:  # a protocol violation: drop the connection, reconnect
                    self._error(f"protocol error from the broker: {exc}")
                    break
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
                if not self._pending:
                    if time.monotonic() >= self._next_report:
                        self._report()
                    continue
                if before == 0:
                    first = time.monotonic()
                # One commit (one fsync) per batch: flush when full, when the line has gone
                # quiet, or when the oldest message has waited long enough.
                if time.monotonic() >= self._next_report:
                    self._report()
                quiet = len(self._pending) == before and not self._more(client)
                if (len(self._pending) >= self.batch_size or quiet
                        or time.monotonic() - first >= MAX_BATCH_AGE):
                    if not self._flush(client):
                        break
        finally:
            # Store what arrived (idempotent); unacknowledged messages come again after reconnect.
            if self._pending:
                self._flush(None)
            self.connected = False
            self._close(client)
        if not self._stop.is_set():
            self._error(f"connection to {where} lost")
        return True

    @staticmethod
    def _more(client) -> bool:
        """Is another packet already waiting on the socket?"""
        sock = client.socket()
        if sock is None:
            return False
        if hasattr(sock, "pending") and sock.pending():
            return True
        try:
            return bool(select.select([sock], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def _flush(self, client) -> bool:
        batch, self._pending = self._pending, []
        assert self.store is not None  # opened in run() before any message
        try:
            counts = self.store.ingest((t, p) for t, p, _, _ in batch)
        except sqlite3.Error as exc:
            # Nothing committed, nothing acknowledged: the broker delivers them again.
            self._error(f"storage failed, {len(batch)} messages not acknowledged: {exc}")
            return False
        with self._lock:
            self.stats.update(counts)
            self.stats["messages"] += len(batch)
        if client is not None:
            for _, _, mid, qos in batch:
                if qos:
                    client.ack(mid, qos)
        return True

    def _report(self) -> None:
        """Now and then: what central holds, and every open seq gap (they should close by themselves)."""
        self._next_report = time.monotonic() + REPORT_EVERY
        if self.store is None:
            return
        try:
            gaps = self.store.gaps()
            log.info("central: %d events, %d dead letters, %d kiosks, %d open gaps",
                     self.store.count("events"), self.store.count("dead_letters"),
                     len(self.store.max_seq), len(gaps))
            for g in gaps[:20]:
                log.warning("central: open gap %s/%s seq %d..%d%s", g["site"], g["kiosk"], g["from_seq"],
                            g["to_seq"], f" ({g['note']})" if g.get("note") else "")
        except sqlite3.Error as exc:
            self._error(f"cannot read the store: {exc}")

    def _close(self, client) -> None:
        try:
            client.disconnect()
            client.loop(0.01)
        except Exception:
            pass

    def _error(self, text: str) -> None:
        if text != self.last_error:
            log.warning("central: %s", text)
        self.last_error = text


def gaps_report(db_path: Path) -> dict:
    store = CentralStore(db_path)
    try:
        return {"db": str(db_path), "events": store.count("events"),
                "dead_letters": store.count("dead_letters"), "kiosks": store.kiosks(),
                "gaps": store.gaps()}
    finally:
        store.close()


def run_central(args) -> int:
    import signal

    from ..config import load

    config = load(args.config)
    db = Path(args.db) if args.db else config.data_path(config.central.db)
    if args.gaps:
        if not db.exists():
            print(f"no central database at {db}", file=sys.stderr)
            return 2
        print(json.dumps(gaps_report(db), indent=2, ensure_ascii=False))
        return 0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        CentralStore(db).close()  # fail early and clearly on a bad path
    except (OSError, sqlite3.Error) as exc:
        print(f"cannot open the central database {db}: {exc}", file=sys.stderr)
        return 2
    central = Central(config, db)
    log.info("central: storing into %s", db)
    central.run(stop)
    log.info("central: stopped; %s", dict(central.stats))
    return 0
