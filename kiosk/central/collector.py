"""Central's collector: MQTT in -> CentralStore, acks out (DESIGN.md §5).

`Central` (paho 2.x, one thread) keeps a persistent session (clean start off, session expiry
`central.session_expiry`), QoS 1 subscriptions to `returpost/v1/+/+/events|alerts` (optionally as
`$share/<central.shared_group>/...`), `returpost/v1/+/+/status`, and `returpost/v1/+/+/ack` (to
correct a retained ack that claims more than the store holds). It acknowledges a message to the
broker (manual ack) only after the batch holding it is committed, and then publishes the
end-to-end ack (`kiosk/central/ack.py`) of every kiosk whose journal moved: a crash at any point
means a redelivery, which the store drops by id; every event lands exactly once.
Every POLL_EVERY seconds it also publishes each kiosk's inbox document (kiosk/central/inbox.py:
TL acknowledgements and answers, notification outcomes), retained, whenever it changed.

Floods: the receive path is `kiosk.wire.mqtt.LeanClient` (large reads, no
per-message `Properties`, one write for a batch's PUBACKs), and a sender over its dead-letter
budget is shed by topic in `on_message` (kiosk/central/shedding.py): counted and acknowledged to
the broker at once, never decoded or stored, so a flood queued in the broker drains at the speed
of the receive loop and good events from other kiosks do not wait behind it.
"""

from __future__ import annotations

import collections
import json
import logging
import select
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from ..wire import mqtt as session
from ..wire import topics
from ..wire.validate import ID_RE
from . import ack
from .heartbeat import COLLECTOR, Heartbeat
from .inbox import InboxPublisher
from .db import is_storage_failure, is_url
from .failures import StorageFailures
from .shedding import SAVE_EVERY, FloodGuard, ShedCounts, attribute, sender_of
from .store import CentralStore

log = logging.getLogger(__name__)
SHARED_SESSION_EXPIRY_MAX = 300  # s: with a shared group the broker's queue for a lost consumer only delays

FILL_WAIT = 0.005  # seconds to wait for more messages before committing a batch
MAX_BATCH_AGE = 0.05  # seconds the oldest message of a batch may wait for its commit
REPORT_EVERY = 300.0  # seconds between summary lines (counts, open gaps) in the log


class Central:
    """The collector: MQTT -> CentralStore. `run()` blocks; `start()` runs it in a thread."""

    def __init__(self, config, db_path: str | Path):
        self.config = config
        self.db_path = db_path if is_url(db_path) else Path(db_path)  # a file or a postgresql:// URL
        c = config.central
        self.batch_size = c.batch_size
        self.client_id = c.client_id
        self.username = c.username or config.mqtt.username
        self.password = c.password or config.mqtt.password
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.stats: collections.Counter = collections.Counter()
        self.last_error: str | None = None
        self.connected = False
        self.store: CentralStore | None = None
        self._pending: list = []
        self._acks_seen: list = []
        self.guard = FloodGuard(c.dead_letters_per_kiosk_minute)
        self.shed_counts: ShedCounts | None = None
        self._shed_mids: list[int] = []
        self._received = 0  # messages delivered by paho (stored or shed), for the read burst
        self._dead_seen: dict = {}  # per kiosk: its dead-letter count at central, last looked at
        self._next_save = 0.0
        self._ack_watch = ack.AckWatch()
        self._client = None
        self._subscribed = threading.Event()
        self._next_report = time.monotonic() + REPORT_EVERY
        self.inbox = InboxPublisher(self.db_path)
        self.storage = StorageFailures(log)
        self._storage_wait = 0.0  # after a storage failure: seconds before the next session
        self.heartbeat = Heartbeat(COLLECTOR)  # connected and turning: /readyz of the web app

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
        self.store = CentralStore.from_config(self.config, self.db_path)
        try:
            self.shed_counts = ShedCounts(self.db_path)
            self._dead_seen = self._kiosk_dead_letters()
        except BaseException:
            self.store.close()
            raise
        m = self.config.mqtt
        c = self.config.central
        if c.shared_group and c.session_expiry > SHARED_SESSION_EXPIRY_MAX:
            log.warning("central: shared_group %r with session_expiry %d s: a consumer that never returns keeps "
                        "its share of the group that long (kiosks stay unconfirmed); use %d s or less "
                        "(docs/central-operations.md 'Several central consumers')", c.shared_group, c.session_expiry,
                        SHARED_SESSION_EXPIRY_MAX)
        backoff = session.Backoff(m.backoff_min, m.backoff_max)
        where = session.describe(m, self.username)
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
                if ok:
                    backoff.reset()
                wait, self._storage_wait = self._storage_wait, 0.0
                self._stop.wait(wait or backoff.next())
        finally:
            self._save_shed(force=True)
            self.shed_counts.close()
            self.store.close()
            self.inbox.close()

    def _subscriptions(self) -> list[str]:
        group = self.config.central.shared_group
        shared = f"$share/{group}/" if group else ""
        return [f"{shared}{topics.PREFIX}/+/+/events", f"{shared}{topics.PREFIX}/+/+/alerts",
                f"{topics.PREFIX}/+/+/status", f"{topics.PREFIX}/+/+/ack"]

    def _session(self, where: str) -> bool:
        """One connection, until it drops or we stop. True if it got connected at all."""
        m = self.config.mqtt
        try:
            client = session.make_client(m, self.client_id, username=self.username, password=self.password,
                                         base=self.config.data_path("."), manual_ack=True, persistent=True,
                                         lean=True)
        except Exception as exc:
            self._error(f"MQTT client setup failed: {exc}")
            return False
        state = {"connected": False}

        def on_connect(c, u, flags, rc, props):
            if not rc.is_failure:
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

        guard, shed_mids = self.guard, self._shed_mids
        shed_mids.clear()  # message ids of an earlier connection mean nothing on this one

        def on_message(c, u, msg):
            self._received += 1
            who = guard.sender(msg._topic)
            if guard.shedding(who, time.monotonic()):
                # over its dead-letter budget: counted and acknowledged, nothing else
                guard.shed(who)
                if msg.qos == 1:
                    shed_mids.append(msg.mid)
                elif msg.qos:
                    c.ack(msg.mid, msg.qos)
                return
            try:
                topic = msg.topic
            except UnicodeDecodeError:
                topic = bytes(msg._topic)
            if isinstance(topic, str) and topic.endswith("/ack"):
                self._acks_seen.append((topic, msg.payload, msg.mid, msg.qos))
                return
            self._pending.append((topic, msg.payload, msg.mid, msg.qos))

        client.on_connect, client.on_subscribe = on_connect, on_subscribe
        client.on_disconnect, client.on_message = on_disconnect, on_message
        res = session.connect(client, m, clean_start=False,
                              session_expiry=int(self.config.central.session_expiry), stop=self._stop)
        if not res:
            self._error(f"cannot connect to {where}: {res.reason}")
            session.close(client)
            return False
        self._client = client
        log.info("central: connected to %s, subscribed to %s", where, ", ".join(self._subscriptions()))
        self.connected, self.last_error = True, None
        # Today's acks for every kiosk: a broker restored from old persistence holds old ones.
        self._publish_acks(client, self.store.all_kiosks())
        self.inbox.forget()  # and every kiosk's inbox again
        # (messages can arrive with the CONNACK, before the first turn of the loop)
        first = time.monotonic()
        try:
            while not self._stop.is_set() and state["connected"]:
                self.heartbeat.beat(self.store.db)
                before = len(self._pending)
                received, shed = self._received, self.guard.total
                try:
                    rc = client.loop(FILL_WAIT if self._pending else 0.5)
                except Exception as exc:  # a protocol violation: drop the connection, reconnect
                    self._error(f"protocol error from the broker: {exc}")
                    break
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
                # paho reads one packet per loop(): read what is already on the socket in one
                # burst (no select per message), up to a batch
                while self._received != received and len(self._pending) < self.batch_size:
                    n0 = self._received
                    try:
                        rc = client.loop_read()
                    except Exception as exc:
                        self._error(f"protocol error from the broker: {exc}")
                        rc = mqtt.MQTT_ERR_PROTOCOL
                    if rc != mqtt.MQTT_ERR_SUCCESS or self._received == n0:
                        break
                if self._shed_mids:
                    # the broker's window for us (max_inflight_messages) refills at once
                    client.ack_many(self._shed_mids)
                    self._shed_mids.clear()
                if self.guard.unsaved:
                    self._save_shed()
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
                if self._acks_seen:
                    self._check_acks(client)
                if self._ack_watch.waiting:
                    self._republish_lagging(client)
                if self.inbox.due():
                    self._publish_inbox(client)
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
                # (quiet also when what came was shed: a flood must not hold up a commit)
                quiet = len(self._pending) == before and (self.guard.total != shed or not self._more(client))
                if (len(self._pending) >= self.batch_size or quiet
                        or time.monotonic() - first >= MAX_BATCH_AGE):
                    if not self._flush(client):
                        break
        finally:
            # Store what arrived (idempotent); unacknowledged messages come again after reconnect.
            if self._pending:
                self._flush(None)
            self.connected = False
            session.close(client)
        if not self._stop.is_set() and not self._storage_wait:
            self._error(f"connection to {where} lost")
        return True

    def _check_acks(self, client) -> None:
        """The retained acks on the broker against the store: one that claims more than the
        store holds is replaced at once; one that stays below it (two consumers' publishes
        crossed) is replaced after `ack.SETTLE` seconds (kiosk/central/ack.py)."""
        seen, self._acks_seen = self._acks_seen, []
        latest: dict[tuple[str, str], object] = {}
        for topic, payload, mid, qos in seen:
            parsed = topics.parse_topic(topic) if isinstance(topic, str) else None
            if qos:
                client.ack(mid, qos)
            if parsed is None:
                continue
            try:
                doc = json.loads(bytes(payload).decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                doc = None
            latest[(parsed[0], parsed[1])] = doc  # the newest of a kiosk says what the broker keeps
        wrong = set()
        now = time.monotonic()
        for key, doc in latest.items():
            self._ack_watch.seen(key, doc)
            own = self.store.ack(*key)
            if ack.claims_more(doc, own):
                wrong.add(key)
            elif ack.claims_less(doc, own):
                self._ack_watch.lagging(key, own, now)
        if wrong:
            log.info("central: correcting %d acks on the broker", len(wrong))
            self._publish_acks(client, sorted(wrong))

    def _publish_acks(self, client, kiosks) -> None:
        n = ack.publish(client, self.store, kiosks)
        with self._lock:
            self.stats["acks_published"] += n

    def _republish_lagging(self, client) -> None:
        lagging = self._ack_watch.due(time.monotonic())
        if lagging:
            log.info("central: %d retained acks stayed below the store; publishing them again", len(lagging))
            with self._lock:
                self.stats["acks_republished"] += len(lagging)
            self._publish_acks(client, lagging)

    def _publish_inbox(self, client) -> None:
        """Every kiosk's inbox document (kiosk/central/inbox.py), retained at QoS 1, when it changed."""
        def publish(topic: str, payload: bytes) -> bool:
            info = client.publish(topic, payload, qos=1, retain=True)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                log.warning("central: cannot publish %s (rc %s)", topic, info.rc)
            return info.rc == mqtt.MQTT_ERR_SUCCESS

        n = self.inbox.poll(self.store.all_kiosks(), publish)
        if n:
            with self._lock:
                self.stats["inbox"] += n

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
        try:
            counts = self.store.ingest((t, p) for t, p, _, _ in batch)
        except Exception as exc:  # ingest raises only storage failures (db.is_storage_failure)
            if not is_storage_failure(exc):
                raise
            # Nothing committed, nothing acknowledged: the broker delivers them again after a
            # delay that grows while the failure lasts (logged now and then, with counts).
            self._storage_wait = self.storage.failed(exc, len(batch))
            self.last_error = f"storage failed: {exc}"
            return False
        self.storage.recovered()
        with self._lock:
            self.stats.update(counts)
            self.stats["messages"] += len(batch)
        if counts.get("dead"):
            self._note_dead(batch, counts["dead"])
        if client is not None:
            client.ack_many([mid for _, _, mid, qos in batch if qos == 1])
            for _, _, mid, qos in batch:
                if qos == 2:
                    client.ack(mid, qos)
            changed = self.store.changed_acks()
            if counts.get("duplicate"):
                # A resend: its kiosk has not seen the ack that covers it (lost with a killed
                # consumer, or overtaken by an older one from another consumer): publish it again.
                changed = sorted(set(changed) | self._event_kiosks(batch))
            if changed:
                self._publish_acks(client, changed)
        return True

    def _kiosk_dead_letters(self) -> dict:
        return {(k["site"], k["kiosk"]): k["dead_letters"] or 0 for k in self.store.kiosks()}

    def _note_dead(self, batch, dead: int) -> None:
        """The store dead-lettered `dead` messages of `batch`: charge them to their senders; a
        sender over its budget is shed from now on (kiosk/central/shedding.py)."""
        try:
            after = self._kiosk_dead_letters()
        except Exception as exc:  # the batch is stored; charge its dead letters with the next one
            if not is_storage_failure(exc):
                raise
            return
        before, self._dead_seen = self._dead_seen, after
        senders: dict = {}
        for topic, _, _, _ in batch:
            who = sender_of(topic)
            senders[who] = senders.get(who, 0) + 1
        for who in self.guard.dead_letters(attribute(dead, before, after, senders), time.monotonic()):
            log.warning("central: %s/%s is over its dead-letter budget (%d a minute): its messages are "
                        "counted and dropped for the rest of the minute", who[0], who[1], self.guard.budget)

    def _save_shed(self, force: bool = False) -> None:
        """The counts of shed messages to the database, at most every SAVE_EVERY seconds."""
        t = time.monotonic()
        if not self.guard.unsaved or (not force and t < self._next_save):
            return
        self._next_save = t + SAVE_EVERY
        counts = self.guard.take_unsaved()
        try:
            self.shed_counts.save(counts)
        except Exception as exc:  # counts only: keep them for the next try
            for who, n in counts.items():
                self.guard.unsaved[who] = self.guard.unsaved.get(who, 0) + n
            self._error(f"cannot save the counts of shed messages: {exc}")
            return
        with self._lock:
            self.stats["shed"] += sum(counts.values())

    @staticmethod
    def _event_kiosks(batch) -> set[tuple[str, str]]:
        out = set()
        for topic, _, _, _ in batch:
            parsed = topics.parse_topic(topic) if isinstance(topic, str) else None
            if parsed is not None and parsed[2] == "events" and ID_RE.match(parsed[0]) \
                    and ID_RE.match(parsed[1]):
                out.add((parsed[0], parsed[1]))
        return out

    def _report(self) -> None:
        """Now and then: what central holds, and every open seq gap (they should close by themselves)."""
        self._next_report = time.monotonic() + REPORT_EVERY
        try:
            gaps = self.store.gaps()
            log.info("central: %d events, %d dead letters (%d ever), %d messages shed from floods, "
                     "%d kiosks, %d open gaps", self.store.count("events"), self.store.count("dead_letters"),
                     self.store.dead_letters_total(), self.guard.total, len(self.store.max_seq), len(gaps))
            for g in gaps[:20]:
                log.warning("central: open gap %s/%s journal %s seq %d..%d%s", g["site"], g["kiosk"],
                            g["journal"] or "-", g["from_seq"], g["to_seq"],
                            f" ({g['note']})" if g.get("note") else "")
        except Exception as exc:
            if not is_storage_failure(exc):
                raise
            self._error(f"cannot read the store: {exc}")

    def _error(self, text: str) -> None:
        if text != self.last_error:
            log.warning("central: %s", text)
        self.last_error = text
