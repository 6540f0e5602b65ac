"""Central's store: every kiosk's events once, per kiosk journal (DESIGN.md §5).

`CentralStore` is SQLite (sqlite-utils, WAL, synchronous=FULL). Tables others read (contract):
- `events(id, site, kiosk, journal, seq, ts, day, type, operator, payload, topic, received_at)`:
  every valid event once. Keyed by `id` and by (site, kiosk, journal, seq). A redelivery (same id,
  same content) is a duplicate and dropped; the same id with other content is dead-lettered, never
  taken as a redelivery; a used (site, kiosk, journal, seq) under another id is dead-lettered.
  An event re-stamped by its kiosk into a new journal id (same id, type, data, ts: see
  `Journal.rotate_journal_id`) is a duplicate of the stored one and counts as received for the
  new journal (`event_aliases`).
- `journals(site, kiosk, journal, n, start_seq, acked_seq, max_seq, events, kiosk_last_seq, ...)`:
  per kiosk journal the seq up to which every event is stored (`acked_seq`, what the end-to-end
  ack says), its first seq (`start_seq`, 1 unless the kiosk's status says otherwise), and the
  journal's own last seq from the kiosk's status (so a missing tail is reported).
- `dead_letters(n, received_at, topic, site, kiosk, reason, size, payload)`: anything malformed or
  rejected, with a cap (`central.dead_letters_max` rows) and a retention
  (`central.dead_letters_keep_days`); payloads are cut to `central.dead_letter_bytes`. Counts
  survive pruning (`kiosks.dead_letters`, `central_meta.dead_letters_total`).
- `kiosks(site, kiosk, max_seq, events, ..., status, status_at, online)`, `alerts(...)`.

`ingest(messages)` takes a batch and commits it in one transaction (one fsync). It never raises
for bad input: a message that fails for any reason but a storage failure (e.g. a lone surrogate
in `operator`, which SQLite cannot encode) is dead-lettered on its own and the rest of the batch
is stored. Only a storage failure (sqlite3.OperationalError: disk full, I/O) raises, and then
nothing of the batch is kept (the collector does not acknowledge it; the broker redelivers).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable

from ..clock import utc_iso
from ..journal import connect
from ..sync import topics
from ..sync.validate import ID_RE, UUID_RE, Invalid, check_alert, check_event, check_status, parse_json

log = logging.getLogger(__name__)

NO_JOURNAL = ""  # events from kiosks older than journal ids
ACK_JOURNALS = 16  # journals per kiosk named in its ack (the most recent ones)
CONTENT_KEYS = ("v", "id", "kiosk", "site", "ts", "day", "operator", "type", "data")


def _now() -> str:
    return utc_iso(dt.datetime.now(dt.timezone.utc))


class _Track:
    """Contiguity of one journal in memory: every seq from start to `acked` is stored; `above`
    holds the stored seqs beyond the first hole."""

    __slots__ = ("start", "acked", "above")

    def __init__(self, start: int, seqs: Iterable[int]):
        self.start = start
        self.acked = start - 1
        self.above: set[int] = set()
        for s in seqs:
            self.add(s)

    def add(self, seq: int) -> bool:
        if seq <= self.acked:
            return False
        if seq < self.start:
            return False
        self.above.add(seq)
        moved = False
        while self.acked + 1 in self.above:
            self.acked += 1
            self.above.discard(self.acked)
            moved = True
        return moved


class CentralStore:
    def __init__(self, path: str | Path, *, dead_letters_max: int = 10000,
                 dead_letters_keep_days: int = 30, dead_letter_bytes: int = 4096,
                 dead_letters_per_kiosk_minute: int = 600):
        self.path = Path(path)
        self.db = connect(self.path)
        self.conn = self.db.conn
        self.dead_letters_max = dead_letters_max
        self.dead_letters_keep_days = dead_letters_keep_days
        self.dead_letter_bytes = dead_letter_bytes
        self.dead_per_minute = dead_letters_per_kiosk_minute
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
        self._tracks: dict[tuple[str, str, str], _Track] = {}
        self._changed: set[tuple[str, str]] = set()
        self._dead_window: dict[tuple[str, str], list] = {}
        self._dead_counts: dict = {}
        self._last_prune = 0.0

    @classmethod
    def from_config(cls, config, path: str | Path | None = None) -> "CentralStore":
        c = config.central
        return cls(path or config.data_path(c.db), dead_letters_max=c.dead_letters_max,
                   dead_letters_keep_days=c.dead_letters_keep_days,
                   dead_letter_bytes=c.dead_letter_bytes,
                   dead_letters_per_kiosk_minute=c.dead_letters_per_kiosk_minute)

    def _ensure_schema(self) -> None:
        db = self.db
        names = set(db.table_names())
        if "events" not in names:
            db["events"].create(
                {"id": str, "site": str, "kiosk": str, "journal": str, "seq": int, "ts": str,
                 "day": str, "type": str, "operator": str, "payload": str, "topic": str,
                 "received_at": str},
                pk="id", not_null={"site", "kiosk", "journal", "seq", "ts", "day", "type", "payload"},
                defaults={"journal": NO_JOURNAL},
            )
            db["events"].create_index(["site", "kiosk", "journal", "seq"], unique=True)
            db["events"].create_index(["day", "site", "kiosk"])
        elif "journal" not in db["events"].columns_dict:  # a central.db from before journal ids
            self.conn.execute(f"alter table events add column journal text not null default '{NO_JOURNAL}'")
            self.conn.execute("drop index if exists idx_events_site_kiosk_seq")
            db["events"].create_index(["site", "kiosk", "journal", "seq"], unique=True, if_not_exists=True)
        if "journals" not in names:
            db["journals"].create(
                {"site": str, "kiosk": str, "journal": str, "n": int, "start_seq": int,
                 "acked_seq": int, "max_seq": int, "events": int, "kiosk_last_seq": int,
                 "first_at": str, "last_at": str},
                pk=("site", "kiosk", "journal"),
                defaults={"start_seq": 1, "acked_seq": 0, "max_seq": 0, "events": 0},
            )
        if "event_aliases" not in names:
            db["event_aliases"].create(
                {"site": str, "kiosk": str, "journal": str, "seq": int, "id": str},
                pk=("site", "kiosk", "journal", "seq"),
            )
        if "dead_letters" not in names:
            db["dead_letters"].create(
                {"n": int, "received_at": str, "topic": str, "site": str, "kiosk": str,
                 "reason": str, "size": int, "payload": bytes}, pk="n",
            )
            db["dead_letters"].create_index(["received_at"])
        elif "site" not in db["dead_letters"].columns_dict:
            self.conn.execute("alter table dead_letters add column site text")
            self.conn.execute("alter table dead_letters add column kiosk text")
        if "kiosks" not in names:
            db["kiosks"].create(
                {"site": str, "kiosk": str, "max_seq": int, "events": int, "last_event_at": str,
                 "online": int, "status_pending": int, "status_last_seq": int, "status": str,
                 "status_at": str, "journal": str, "dead_letters": int},
                pk=("site", "kiosk"), defaults={"max_seq": 0, "events": 0, "dead_letters": 0},
            )
        else:
            cols = db["kiosks"].columns_dict
            if "journal" not in cols:
                self.conn.execute("alter table kiosks add column journal text")
            if "dead_letters" not in cols:
                self.conn.execute("alter table kiosks add column dead_letters integer not null default 0")
        if "alerts" not in names:
            db["alerts"].create(
                {"id": str, "site": str, "kiosk": str, "kind": str, "text": str, "ts": str,
                 "seq": int, "payload": str, "received_at": str}, pk="id",
            )
        if "central_meta" not in names:
            db["central_meta"].create({"key": str, "value": str}, pk="key")

    # -- journals and acks ---------------------------------------------------------------------
    def _track(self, site: str, kiosk: str, jid: str) -> _Track:
        key = (site, kiosk, jid)
        tr = self._tracks.get(key)
        if tr is None:
            row = self.conn.execute("select start_seq from journals where site=? and kiosk=? and journal=?",
                                    key).fetchone()
            start = row[0] if row and row[0] else 1
            seqs = [r[0] for r in self.conn.execute(
                "select seq from events where site=? and kiosk=? and journal=? and seq >= ? "
                "union select seq from event_aliases where site=? and kiosk=? and journal=? and seq >= ? "
                "order by 1", [*key, start, *key, start])]
            tr = self._tracks[key] = _Track(start, seqs)
        return tr

    def _refresh(self, key: tuple[str, str, str], tr: _Track) -> None:
        """Add what other central processes sharing this database stored (shared subscription)."""
        for (seq,) in self.conn.execute(
                "select seq from events where site=? and kiosk=? and journal=? and seq > ? "
                "union select seq from event_aliases where site=? and kiosk=? and journal=? and seq > ? "
                "order by 1", [*key, tr.acked, *key, tr.acked]):
            tr.add(seq)

    def _touch_journal(self, site: str, kiosk: str, jid: str, seqs: list[int], new: int, now: str) -> None:
        tr = self._track(site, kiosk, jid)
        for s in seqs:
            tr.add(s)
        if tr.above:
            self._refresh((site, kiosk, jid), tr)
        self.conn.execute(
            "insert into journals(site, kiosk, journal, n, start_seq, acked_seq, max_seq, events, "
            "first_at, last_at) values (?,?,?,(select coalesce(max(n), 0) + 1 from journals),?,?,?,?,?,?) "
            "on conflict(site, kiosk, journal) do update set acked_seq = excluded.acked_seq, "
            "max_seq = max(max_seq, excluded.max_seq), events = events + excluded.events, "
            "last_at = excluded.last_at",
            [site, kiosk, jid, tr.start, tr.acked, max(seqs), new, now, now])
        self._changed.add((site, kiosk))

    def _set_start(self, site: str, kiosk: str, jid: str, start: int, last_seq: int | None, now: str) -> None:
        """From a kiosk's status: where its current journal id starts and how far it goes."""
        row = self.conn.execute("select start_seq, kiosk_last_seq from journals where site=? and kiosk=? and journal=?",
                                [site, kiosk, jid]).fetchone()
        if row is None:
            self.conn.execute(
                "insert into journals(site, kiosk, journal, n, start_seq, acked_seq, max_seq, events, "
                "kiosk_last_seq, first_at, last_at) values (?,?,?,(select coalesce(max(n), 0) + 1 from journals),"
                "?,?,0,0,?,?,?)", [site, kiosk, jid, start, start - 1, last_seq, now, now])
            self._tracks.pop((site, kiosk, jid), None)
            self._changed.add((site, kiosk))
            return
        if row[0] != start:
            self._tracks.pop((site, kiosk, jid), None)
            self.conn.execute("update journals set start_seq=? where site=? and kiosk=? and journal=?",
                              [start, site, kiosk, jid])
            tr = self._track(site, kiosk, jid)
            self.conn.execute("update journals set acked_seq=? where site=? and kiosk=? and journal=?",
                              [tr.acked, site, kiosk, jid])
            self._changed.add((site, kiosk))
        if last_seq is not None and (row[1] or 0) < last_seq:
            self.conn.execute("update journals set kiosk_last_seq=? where site=? and kiosk=? and journal=?",
                              [last_seq, site, kiosk, jid])

    def changed_acks(self) -> list[tuple[str, str]]:
        """The kiosks whose ack moved since the last call (the collector publishes theirs)."""
        out, self._changed = sorted(self._changed), set()
        return out

    def ack(self, site: str, kiosk: str) -> dict:
        """The end-to-end ack document for one kiosk: per journal (the most recent ones) the
        first seq, the seq up to which every event is stored, and that event's id (so a kiosk
        whose journal was restored from a backup sees that central's event there is not its own)."""
        journals = {}
        for jid, start, acked in self.conn.execute(
                "select journal, start_seq, acked_seq from journals where site=? and kiosk=? and journal != ? "
                "order by n desc limit ?", [site, kiosk, NO_JOURNAL, ACK_JOURNALS]).fetchall():
            tr = self._track(site, kiosk, jid)
            self._refresh((site, kiosk, jid), tr)
            acked = tr.acked
            eid = None
            if acked >= start:
                row = self.conn.execute(
                    "select id from events where site=? and kiosk=? and journal=? and seq=? union all "
                    "select id from event_aliases where site=? and kiosk=? and journal=? and seq=? limit 1",
                    [site, kiosk, jid, acked, site, kiosk, jid, acked]).fetchone()
                eid = row[0] if row else None
            journals[jid] = {"start": start, "upto": acked, "id": eid}
        return {"v": 1, "site": site, "kiosk": kiosk, "journals": journals, "ts": _now()}

    def all_kiosks(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.conn.execute(
            "select distinct site, kiosk from journals order by site, kiosk")]

    # -- ingest --------------------------------------------------------------------------------
    def ingest(self, messages: Iterable[tuple[object, bytes]], received_at: str | None = None) -> collections.Counter:
        """Store a batch of (topic, payload) in one transaction. Counts: stored, duplicate,
        status, alert, dead. Raises only sqlite3.OperationalError (storage), keeping nothing."""
        now = received_at or _now()
        batch = list(messages)
        with self._lock:
            try:
                return self._ingest_locked(batch, now, isolate=False)
            except _Isolate:
                pass
            # Something in the batch failed to store for a reason of its own: store each message
            # alone (a savepoint each), dead-letter the failing ones, keep the rest.
            return self._ingest_locked(batch, now, isolate=True)

    def _ingest_locked(self, batch, now: str, isolate: bool) -> collections.Counter:
        counts: collections.Counter = collections.Counter()
        snapshot = (dict(self.max_seq), set(self._changed))
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            if isolate:
                gaps = []
                for topic, payload in batch:
                    self.conn.execute("SAVEPOINT one")
                    one: collections.Counter = collections.Counter()
                    try:
                        gaps += self._batch([(topic, payload)], now, one)
                        self.conn.execute("RELEASE one")
                    except sqlite3.OperationalError:
                        raise
                    except Exception as exc:
                        self.conn.execute("ROLLBACK TO one")
                        self.conn.execute("RELEASE one")
                        self._reload_tracks()
                        log.warning("central: a message failed to store (%s: %s); dead-lettered",
                                    type(exc).__name__, str(exc)[:200])
                        one = collections.Counter(dead=1)
                        self._dead(topic, payload, f"cannot store: {type(exc).__name__}: {exc}"[:500], now)
                    counts.update(one)
            else:
                try:
                    gaps = self._batch(batch, now, counts)
                except sqlite3.OperationalError:
                    raise
                except Exception as exc:
                    raise _Isolate() from exc
            self._prune(now)
            self._count(counts)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            self.max_seq, self._changed = snapshot
            self._dead_counts = {}
            self._reload_tracks()
            raise
        for text in gaps:
            log.warning("central: %s", text)
        return counts

    def _count(self, counts) -> None:
        """Cumulative counters in `central_meta` (received_stored, received_duplicate, ...) and the
        dead-letter counts, kept with the batch they count, so they survive restarts and kills."""
        dead, self._dead_counts = self._dead_counts, {}
        total = sum(dead.values())
        if total:
            self.conn.execute("insert into central_meta(key, value) values ('dead_letters_total', ?) "
                              "on conflict(key) do update set value = cast(value as integer) + excluded.value",
                              [total])
        for key, n in dead.items():
            if key is not None:
                self.conn.execute(
                    "insert into kiosks(site, kiosk, dead_letters) values (?,?,?) on conflict(site, kiosk) "
                    "do update set dead_letters = dead_letters + excluded.dead_letters", [key[0], key[1], n])
        for key in ("stored", "duplicate", "dead", "status", "alert"):
            if counts.get(key):
                self.conn.execute(
                    "insert into central_meta(key, value) values (?, ?) on conflict(key) do update "
                    "set value = cast(value as integer) + excluded.value", [f"received_{key}", counts[key]])

    def counters(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.conn.execute("select key, value from central_meta")}

    def _reload_tracks(self) -> None:
        self._tracks.clear()  # rebuilt from the database on next use

    def _batch(self, batch, now: str, counts) -> list[str]:
        events: list[tuple[dict, str, bytes]] = []
        for topic, payload in batch:
            try:
                ev = self._one(topic, payload, now, counts)
                if ev is not None:
                    events.append((ev, topic, payload))
            except Invalid as exc:
                self._dead(topic, payload, str(exc), now)
                counts["dead"] += 1
        return self._store_events(events, now, counts) if events else []

    def _existing(self, ids: list[str]) -> dict[str, tuple]:
        found: dict[str, tuple] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            for row in self.conn.execute(
                    f"select id, site, kiosk, journal, seq, payload from events where id in ({','.join('?' * len(part))})",
                    part):
                found[row[0]] = row[1:]
        return found

    @staticmethod
    def _content(doc: dict) -> tuple:
        return tuple(json.dumps(doc.get(k), sort_keys=True, ensure_ascii=False) for k in CONTENT_KEYS)

    def _store_events(self, events: list[tuple[dict, str, bytes]], now: str, counts) -> list[str]:
        """Insert the valid events of a batch. Same id: a redelivery (dropped), a re-stamp into
        a new journal (an alias), or other content (dead-lettered). A used (site, kiosk, journal,
        seq) under another id is dead-lettered. One executemany for the rest."""
        existing = self._existing([ev["id"] for ev, _, _ in events])
        fresh: list[tuple[dict, str, bytes]] = []
        seen: dict[str, dict] = {}
        aliases: list[tuple] = []
        for item in events:
            ev, topic, payload = item
            eid = ev["id"]
            jid = ev.get("journal") or NO_JOURNAL
            old = existing.get(eid)
            if old is not None:
                o_site, o_kiosk, o_journal, o_seq, o_payload = old
                same = (o_site, o_kiosk) == (ev["site"], ev["kiosk"]) and \
                    self._content(json.loads(o_payload)) == self._content(ev)
                if not same:
                    self._dead(topic, payload, f"id {eid} is already stored with other content", now)
                    counts["dead"] += 1
                elif (o_journal, o_seq) == (jid, ev["seq"]):
                    counts["duplicate"] += 1
                else:
                    aliases.append((ev["site"], ev["kiosk"], jid, ev["seq"], eid))
                    counts["duplicate"] += 1
                continue
            if eid in seen:
                if self._content(seen[eid]) == self._content(ev) and \
                        (seen[eid].get("journal"), seen[eid]["seq"]) == (ev.get("journal"), ev["seq"]):
                    counts["duplicate"] += 1
                else:
                    self._dead(topic, payload, f"id {eid} is already stored with other content", now)
                    counts["dead"] += 1
                continue
            seen[eid] = ev
            fresh.append(item)
        touched: dict[tuple[str, str, str], list[int]] = {}
        new_counts: collections.Counter = collections.Counter()
        for site, kiosk, jid, seq, eid in aliases:
            cur = self.conn.execute(
                "insert or ignore into event_aliases(site, kiosk, journal, seq, id) values (?,?,?,?,?)",
                [site, kiosk, jid, seq, eid])
            if cur.rowcount:
                touched.setdefault((site, kiosk, jid), []).append(seq)
        gaps: list[str] = []
        if fresh:
            rows = [(ev["id"], ev["site"], ev["kiosk"], ev.get("journal") or NO_JOURNAL, ev["seq"], ev["ts"],
                     ev["day"], ev["type"], ev["operator"], bytes(payload).decode("utf-8"), topic, now)
                    for ev, topic, payload in fresh]
            cur = self.conn.executemany(
                "insert or ignore into events(id, site, kiosk, journal, seq, ts, day, type, operator, "
                "payload, topic, received_at) values (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            if cur.rowcount != len(fresh):  # some (journal, seq) was already used by another id
                stored = self._existing([ev["id"] for ev, _, _ in fresh])
                kept = []
                for ev, topic, payload in fresh:
                    if ev["id"] in stored:
                        kept.append((ev, topic, payload))
                    else:
                        self._dead(topic, payload, f"seq {ev['seq']} of {ev['site']}/{ev['kiosk']} journal "
                                   f"{ev.get('journal') or '-'} is already stored under another id", now)
                        counts["dead"] += 1
                fresh = kept
            counts["stored"] += len(fresh)
            per_kiosk: dict[tuple[str, str], list] = {}
            for ev, _, _ in fresh:
                key = (ev["site"], ev["kiosk"])
                jkey = (ev["site"], ev["kiosk"], ev.get("journal") or NO_JOURNAL)
                touched.setdefault(jkey, []).append(ev["seq"])
                new_counts[jkey] += 1
                entry = per_kiosk.setdefault(key, [0, 0])
                entry[0] += 1
                entry[1] = max(entry[1], ev["seq"])
            for (site, kiosk), (n, top) in per_kiosk.items():
                self.conn.execute(
                    "insert into kiosks(site, kiosk, max_seq, events, last_event_at) values (?,?,?,?,?) "
                    "on conflict(site, kiosk) do update set max_seq = max(max_seq, excluded.max_seq), "
                    "events = events + excluded.events, last_event_at = excluded.last_event_at",
                    [site, kiosk, top, n, now])
                self.max_seq[(site, kiosk)] = max(self.max_seq.get((site, kiosk), 0), top)
        for (site, kiosk, jid), seqs in touched.items():
            tr = self._track(site, kiosk, jid)
            before_top = max([tr.acked, *tr.above]) if tr.above else tr.acked
            low = min(seqs)
            if low > before_top + 1:
                gaps.append(f"gap: {site}/{kiosk} journal {jid or '-'} seq {before_top + 1}..{low - 1} "
                            "not (yet) received")
            self._touch_journal(site, kiosk, jid, seqs, new_counts[(site, kiosk, jid)], now)
        return gaps

    def _one(self, topic, payload, now, counts) -> dict | None:
        """Check one message; a valid event is returned for the batch insert, a status or an
        alert is stored here. Raises Invalid for anything else."""
        if not isinstance(topic, str):
            raise Invalid("topic is not UTF-8")
        parsed = topics.parse_topic(topic)
        if parsed is None or parsed[2] not in topics.KINDS:
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
                "insert into kiosks(site, kiosk, online, status_pending, status_last_seq, status, status_at, journal) "
                "values (?,?,?,?,?,?,?,?) on conflict(site, kiosk) do update set online = excluded.online, "
                "status_pending = excluded.status_pending, status_last_seq = excluded.status_last_seq, "
                "status = excluded.status, status_at = excluded.status_at, "
                "journal = coalesce(excluded.journal, journal)",
                [site, kiosk, int(st["online"]), st["pending"], st["last_seq"],
                 json.dumps(st, ensure_ascii=False), now,
                 st.get("journal") if isinstance(st.get("journal"), str) else None])
            jid, start = st.get("journal"), st.get("journal_start", 1)
            if isinstance(jid, str) and UUID_RE.match(jid) and isinstance(start, int) \
                    and not isinstance(start, bool) and 1 <= start <= 2**53:
                self._set_start(site, kiosk, jid, start, st["last_seq"], now)
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

    # -- dead letters --------------------------------------------------------------------------
    def _dead(self, topic, payload, reason: str, now: str) -> None:
        raw = bytes(payload) if isinstance(payload, (bytes, bytearray)) else repr(payload).encode()
        name = topic if isinstance(topic, str) else repr(topic)
        parsed = topics.parse_topic(name) if isinstance(topic, str) else None
        site, kiosk = (parsed[0], parsed[1]) if parsed else (None, None)
        # counted in memory, written once per batch (`_count`): a flood costs one row update
        key = (site, kiosk) if site is not None and ID_RE.match(site) and ID_RE.match(kiosk) else None
        self._dead_counts[key] = self._dead_counts.get(key, 0) + 1
        # A flood from one sender keeps only its first rows a minute (the counts above stay exact).
        window = self._dead_window.setdefault((site or "", kiosk or ""), [0.0, 0])
        t = time.monotonic()
        if t - window[0] > 60.0:
            window[0], window[1] = t, 0
        window[1] += 1
        if window[1] > self.dead_per_minute:
            return
        self.conn.execute(
            "insert into dead_letters(received_at, topic, site, kiosk, reason, size, payload) values (?,?,?,?,?,?,?)",
            [now, name, site, kiosk, reason[:500], len(raw), raw[:self.dead_letter_bytes]])

    def _prune(self, now: str, force: bool = False) -> None:
        """Dead letters: older than the retention, or beyond the cap, are deleted (now and then)."""
        t = time.monotonic()
        if not force and t - self._last_prune < 10.0:
            return
        self._last_prune = t
        cut = utc_iso(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=self.dead_letters_keep_days))
        self.conn.execute("delete from dead_letters where received_at < ?", [cut])
        self.conn.execute("delete from dead_letters where n <= (select max(n) from dead_letters) - ?",
                          [self.dead_letters_max])

    def prune(self) -> None:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self._prune(_now(), force=True)
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    # -- reading -------------------------------------------------------------------------------
    def count(self, table: str) -> int:
        return self.conn.execute(f"select count(*) from [{table}]").fetchone()[0]

    def dead_letters_total(self) -> int:
        row = self.conn.execute("select value from central_meta where key='dead_letters_total'").fetchone()
        return int(row[0]) if row else 0

    def gaps(self) -> list[dict]:
        """Missing seq ranges per kiosk journal: before its first event, between events, and
        after the last one when the kiosk's status said its journal goes further (the missing
        tail of an old journal, e.g. a kiosk re-imaged before everything was sent)."""
        out = []
        for site, kiosk, jid, start, acked, last in self.conn.execute(
                "select site, kiosk, journal, start_seq, acked_seq, kiosk_last_seq from journals "
                "order by site, kiosk, n").fetchall():
            tr = self._tracks.get((site, kiosk, jid)) or self._track(site, kiosk, jid)
            have = sorted(tr.above)
            prev = tr.acked
            for s in have:
                if s > prev + 1:
                    out.append({"site": site, "kiosk": kiosk, "journal": jid or None,
                                "from_seq": prev + 1, "to_seq": s - 1})
                prev = s
            if last is not None and last > prev:
                current = self.conn.execute("select journal from kiosks where site=? and kiosk=?",
                                            [site, kiosk]).fetchone()
                note = ("the kiosk has these, not (yet) received" if current and current[0] == jid
                        else "missing tail of an old journal (the kiosk has a new one)")
                out.append({"site": site, "kiosk": kiosk, "journal": jid or None,
                            "from_seq": prev + 1, "to_seq": last, "note": note})
        out.sort(key=lambda g: (g["site"], g["kiosk"], g["journal"] or "", g["from_seq"]))
        return out

    def journals(self) -> list[dict]:
        rows = self.conn.execute(
            "select site, kiosk, journal, start_seq, acked_seq, max_seq, events, kiosk_last_seq, first_at, "
            "last_at from journals order by site, kiosk, n").fetchall()
        keys = ("site", "kiosk", "journal", "start_seq", "acked_seq", "max_seq", "events",
                "kiosk_last_seq", "first_at", "last_at")
        return [dict(zip(keys, r)) for r in rows]

    def kiosks(self) -> list[dict]:
        rows = self.conn.execute(
            "select site, kiosk, max_seq, events, last_event_at, online, status_pending, "
            "status_last_seq, status_at, journal, dead_letters from kiosks order by site, kiosk").fetchall()
        keys = ("site", "kiosk", "max_seq", "events", "last_event_at", "online", "pending",
                "last_seq", "status_at", "journal", "dead_letters")
        out = [dict(zip(keys, r)) for r in rows]
        for k in out:
            k["online"] = None if k["online"] is None else bool(k["online"])
        return out

    def close(self) -> None:
        self.conn.close()


class _Isolate(Exception):
    """A batch failed for a reason of one of its messages: retry them one by one."""


def gaps_report(db_path: Path) -> dict:
    store = CentralStore(db_path)
    try:
        return {"db": str(db_path), "events": store.count("events"),
                "dead_letters": store.count("dead_letters"),
                "dead_letters_total": store.dead_letters_total(),
                "kiosks": store.kiosks(), "journals": store.journals(), "gaps": store.gaps()}
    finally:
        store.close()
