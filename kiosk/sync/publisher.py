"""The outbox publisher: journal -> MQTT, at least once, in seq order (DESIGN.md §5).

    pub = Publisher(config, config.journal_path)
    pub.start()          # returns at once; a kiosk boots and works with no broker
    pub.status()         # {"online", "pending", "last_seq", "last_error", ...} for the UI
    pub.stop()

One thread owns the paho client (callbacks run in it, `client.loop()` is called from it) and its
own SQLite connection to the journal (the controller writes from another thread; WAL lets both).

- Unsent events are published to `returpost/v1/<site>/<kiosk>/events` at QoS 1 in `seq` order,
  at most `mqtt.max_inflight` unacknowledged at a time.
- An event is marked sent only after its PUBACK (a refusing reason code is not an ack) and only
  as part of the acknowledged prefix, so the unsent events are always a suffix in publish order.
  Marks are written in small batches; a crash between PUBACK and the mark means a resend, which
  central drops by `id`.
- After a lost connection or a restart everything not yet marked is sent again.
- Reconnects back off exponentially (`mqtt.backoff_min` .. `backoff_max`) with jitter.
- MQTT v5 first; a broker that refuses the protocol version gets v3.1.1 on the next attempt.
- A retained `status` message (online, pending, last_seq, version) is kept current; the last will
  sets it to offline. `alert_raised` events also go to `alerts` at QoS 1, and so do alerts handed
  to `publish_alert`.
- Synced events older than `retention.purge_synced_after_days` are purged now and then.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import random
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

from .. import __version__
from ..clock import SystemClock, utc_iso
from ..journal import Journal
from . import topics

log = logging.getLogger(__name__)

READ_BATCH = 500  # events read from the journal per query
MARK_EVERY = 0.25  # seconds between batched mark_sent writes while busy
PURGE_EVERY = 3600.0  # seconds between purges
UNSUPPORTED_PROTOCOL = (1, 132)  # CONNACK codes: v3.1.1 "unacceptable protocol", v5 0x84


def _unsent_raw(journal: Journal, limit: int, after_seq: int) -> list[tuple[int, str, str]]:
    """`Journal.unsent` without the JSON round trip: (seq, type, payload text) in seq order.
    The payload is published byte for byte as the journal committed it."""
    return journal.db.execute(
        "select seq, type, payload from events where sent_at is null and seq > ? order by seq limit ?",
        [after_seq, limit]).fetchall()


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Publisher:
    """The outbox publisher; runs its own thread. See the module doc."""

    def __init__(self, config, journal_path, clock=None):
        self.config = config
        self.mqtt = config.mqtt
        self.site, self.kiosk = config.kiosk.site, config.kiosk.id
        self.journal_path = Path(journal_path)
        self.clock = clock or SystemClock()
        self.client_id = self.mqtt.client_id or f"returpost-{self.site}-{self.kiosk}"
        self.t_events = topics.topic(self.site, self.kiosk, "events")
        self.t_status = topics.topic(self.site, self.kiosk, "status")
        self.t_alerts = topics.topic(self.site, self.kiosk, "alerts")
        self._base = config.data_path(".")
        self._protocol = self.mqtt.protocol
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._drained = threading.Event()
        self._thread: threading.Thread | None = None
        self._alerts: collections.deque = collections.deque(maxlen=1000)
        self._rand = random.Random()
        self._snap = {"online": False, "pending": 0, "last_seq": 0, "last_error": None,
                      "connected_at": None, "last_ack_at": None, "protocol": None}
        # worker-thread state
        self.journal: Journal | None = None
        self.client: mqtt.Client | None = None
        self._connected = False
        self._conn_failed: str | None = None
        self._failures = 0
        self._refusals = 0
        self._reset_stream()
        self.ack_upto = 0  # highest seq of the acknowledged prefix (this process)
        self._sent_before = 0  # highest seq already marked sent when the journal was opened
        self._to_mark: list[int] = []
        self._last_mark = 0.0
        self._last_purge = 0.0
        self._last_status = 0.0
        self._status_sent: tuple | None = None
        self._pending = 0

    # -- public, any thread -------------------------------------------------------------------
    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._drained.clear()
        self._thread = threading.Thread(target=self._run, name="outbox-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def status(self) -> dict:
        with self._lock:
            return dict(self._snap)

    def publish_alert(self, alert_dict: dict) -> None:
        """Queue a TL alert for `.../alerts` (QoS 1); sent when online (held in memory till then)."""
        alert = dict(alert_dict)
        alert.setdefault("id", str(uuid.uuid4()))
        alert.setdefault("ts", utc_iso(self.clock.now()))
        alert.update({"v": 1, "site": self.site, "kiosk": self.kiosk})
        self._alerts.append(alert)

    def wait_drained(self, timeout: float) -> bool:
        """Block until every journal event is acknowledged and marked sent (or `timeout`)."""
        return self._drained.wait(timeout)

    @property
    def last_seq(self) -> int:
        """The highest seq the broker has acknowledged (as far as this journal knows)."""
        return max(self.ack_upto, self._sent_before)

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    # -- worker ----------------------------------------------------------------------------------
    def _set(self, **kw) -> None:
        with self._lock:
            self._snap.update(kw)

    def _error(self, text: str) -> None:
        if text != self._snap.get("last_error"):
            log.warning("sync: %s", text)
        self._set(last_error=text)

    def _reset_stream(self) -> None:
        """Forget the per-connection publish state (after a disconnect everything unmarked is resent)."""
        self._buffer: collections.deque = collections.deque()
        self._cursor = getattr(self, "ack_upto", 0)
        self._order: collections.deque = collections.deque()  # [seq, outstanding acks] in publish order
        self._entries: dict[int, list] = {}
        self._inflight: dict[int, object] = {}  # mid -> seq (int) or alert dict

    def _run(self) -> None:
        try:
            self._open_journal()
            if self.journal is None:
                return
            self._purge()
            self._refresh_pending()
            if not self.mqtt.enabled:  # sync is off: keep counting what waits, send nothing
                self._set(last_error="sync is off (mqtt.enabled = false)")
                while not self._stop.wait(5.0):
                    self._refresh_pending()
                return
            while not self._stop.is_set():
                try:
                    if not self._connected:
                        self._flush_marks(force=True)
                        self._refresh_pending()
                        self._connect_once()
                        if not self._connected and not self._stop.is_set():
                            self._wait_backoff()
                        continue
                    self._pump()
                except Exception as exc:  # a bug or a broken journal: never stop syncing for good
                    log.exception("sync: unexpected error; reconnecting")
                    self._error(f"unexpected error: {type(exc).__name__}: {exc}")
                    self._drop_client()
                    self._reset_stream()
                    self._wait_backoff()
            self._shutdown()
        except Exception as exc:  # never take the kiosk down; say what happened
            log.exception("sync: publisher stopped by an unexpected error")
            self._set(online=False, last_error=f"publisher stopped: {exc}")
        finally:
            if self.journal is not None:
                try:
                    self.journal.close()
                except Exception:
                    pass

    def _open_journal(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self.journal = Journal(self.journal_path, self.site, self.kiosk)
                row = self.journal.db.execute(
                    "select max(seq) from events where sent_at is not null").fetchone()
                self._sent_before = row[0] or 0
                return
            except ValueError as exc:  # a journal of another kiosk: configuration error, stop
                self._error(str(exc))
                return
            except Exception as exc:  # locked, schema race with the controller: try again
                self._error(f"cannot open journal {self.journal_path}: {exc}")
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)

    # connection ------------------------------------------------------------------------------
    def _wait_backoff(self, failures: int | None = None) -> None:
        if failures is None:
            self._failures += 1
            failures = self._failures
        base = min(self.mqtt.backoff_max, self.mqtt.backoff_min * 2 ** min(failures - 1, 30))
        until = time.monotonic() + self._rand.uniform(base / 2, base)
        while not self._stop.is_set():
            left = until - time.monotonic()
            if left <= 0:
                break
            self._stop.wait(min(left, 1.0))
            self._refresh_pending()  # the UI sees the queue grow while offline

    def _status_payload(self, online: bool) -> bytes:
        return _dumps({"v": 1, "site": self.site, "kiosk": self.kiosk, "online": online,
                       "pending": self._pending, "last_seq": self.last_seq,
                       "version": __version__, "ts": utc_iso(self.clock.now())})

    def _connect_once(self) -> None:
        m = self.mqtt
        self._conn_failed = None
        # A v3.1.1 attempt after a v5 refusal; if it fails too, the next attempt is v5 again.
        trying_fallback = self._protocol == "v311" and m.protocol == "v5"
        try:
            client = topics.make_client(m, self.client_id, self._protocol, base=self._base)
        except Exception as exc:  # bad CA file path and the like
            self._error(f"MQTT client setup failed: {exc}")
            return
        client.max_inflight_messages_set(m.max_inflight)  # our window; paho never queues
        client.will_set(self.t_status, self._status_payload(False), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self.client = client
        where = topics.describe(m)
        log.debug("sync: connecting to %s (%s)", where, self._protocol)
        try:
            if self._protocol == "v5":
                client.connect(m.host, m.port, keepalive=m.keepalive, clean_start=True)
            else:
                client.connect(m.host, m.port, keepalive=m.keepalive)
        except Exception as exc:
            self._error(f"cannot connect to {where}: {exc}")
            self._drop_client()
            if trying_fallback:
                self._protocol = "v5"
            return
        deadline = time.monotonic() + float(m.connect_timeout)
        while not self._connected and self._conn_failed is None and not self._stop.is_set():
            if time.monotonic() > deadline:
                self._conn_failed = "no CONNACK in time"
                break
            rc = self._loop(client, 0.05)
            if rc != mqtt.MQTT_ERR_SUCCESS and not self._connected:
                self._conn_failed = self._conn_failed or f"connection lost during connect ({mqtt.error_string(rc)})"
                if self._protocol == "v5" and self.mqtt.protocol == "v5":
                    self._fallback("broker closed the v5 connection")
                break
        if not self._connected:
            self._error(f"cannot connect to {where}: {self._conn_failed or 'stopped'}")
            self._drop_client()
            if trying_fallback:
                self._protocol = "v5"
            return
        self._failures = 0
        self._reset_stream()
        with self._lock:  # a refusal stays visible until something is acknowledged again
            self._snap.update(online=True, connected_at=utc_iso(self.clock.now()), protocol=self._protocol)
            if not self._refusals:
                self._snap["last_error"] = None
        log.info("sync: connected to %s (%s)", where, self._protocol)
        self._publish_status(force=True)

    def _loop(self, client, timeout: float):
        """client.loop() that turns a broker's protocol violation into a lost connection."""
        try:
            return client.loop(timeout)
        except Exception as exc:
            self._conn_failed = self._conn_failed or f"protocol error: {exc}"
            self._error(f"protocol error from the broker: {exc}")
            return mqtt.MQTT_ERR_PROTOCOL

    def _fallback(self, why: str) -> None:
        log.info("sync: %s; trying MQTT v3.1.1 next", why)
        self._protocol = "v311"
        self._failures = 0

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if client is not self.client:
            return
        if reason_code.is_failure:
            self._conn_failed = f"broker refused: {reason_code}"
            if reason_code.value in UNSUPPORTED_PROTOCOL and self._protocol == "v5":
                self._fallback("broker refused MQTT v5")
        else:
            self._connected = True

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if client is not self.client:
            return
        if self._connected:
            self._error(f"disconnected: {reason_code}")
        self._connected = False
        self._set(online=False)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        if client is not self.client:
            return
        what = self._inflight.pop(mid, None)
        if what is None:
            return
        if reason_code.is_failure:
            # Not an ack: keep the event unsent; reconnect later and try again.
            where = f"seq {what}" if isinstance(what, int) else "an alert"
            self._error(f"broker refused {where}: {reason_code}")
            self._refusals += 1
            if isinstance(what, dict):
                self._alerts.appendleft(what)
            self._connected = False
            self._set(online=False)
            try:
                if client is not None:
                    client.disconnect()
            except Exception:
                pass
            return
        if isinstance(what, int):
            entry = self._entries.get(what)
            if entry is not None:
                entry[1] -= 1
            while self._order and self._order[0][1] <= 0:
                seq, _ = self._order.popleft()
                self._entries.pop(seq, None)
                self.ack_upto = seq
                self._to_mark.append(seq)
                if self._refusals:
                    self._refusals = 0
                    self._set(last_error=None)

    def _drop_client(self) -> None:
        client, self.client = self.client, None
        self._connected = False
        self._set(online=False)
        if client is not None:
            try:
                client.disconnect()
            except Exception:
                pass
            try:
                client.loop(0.01)
            except Exception:
                pass

    # publishing ------------------------------------------------------------------------------
    def _pump(self) -> None:
        client, journal = self.client, self.journal
        assert client is not None and journal is not None  # only called while connected
        window = self.mqtt.max_inflight
        while self._alerts and len(self._inflight) < window and self._connected:
            alert = self._alerts.popleft()
            info = client.publish(self.t_alerts, _dumps(alert), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self._alerts.appendleft(alert)
                break
            self._inflight[info.mid] = alert
        while len(self._inflight) < window and self._connected:
            if not self._buffer:
                self._buffer.extend(_unsent_raw(journal, READ_BATCH, self._cursor))
                if not self._buffer:
                    break
            event = self._buffer.popleft()
            if not self._publish_event(client, event):
                break
        busy = bool(self._inflight)
        rc = self._loop(client, 0.01 if busy else 0.2)
        if rc != mqtt.MQTT_ERR_SUCCESS or not self._connected:
            if self._connected or rc != mqtt.MQTT_ERR_SUCCESS:
                self._error(f"connection lost ({mqtt.error_string(rc)})")
            self._drop_client()
            self._reset_stream()
            if self._refusals:
                self._wait_backoff(self._refusals)
            return
        self._flush_marks(force=not busy and not self._buffer)
        if not busy and not self._buffer and not self._to_mark:
            self._refresh_pending()
            if self._pending == 0 and not self._alerts:
                self._drained.set()
        self._publish_status(force=False)
        if time.monotonic() - self._last_purge > PURGE_EVERY:
            self._purge()

    def _publish_event(self, client, item: tuple[int, str, str]) -> bool:
        seq, kind, payload = item
        entry = [seq, 1]
        info = client.publish(self.t_events, payload.encode("utf-8"), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._buffer.appendleft(item)
            return False
        self._inflight[info.mid] = seq
        if kind == "alert_raised":
            event = json.loads(payload)
            data = event.get("data") or {}
            alert = {"v": 1, "id": event["id"], "site": event["site"], "kiosk": event["kiosk"],
                     "seq": seq, "ts": event["ts"], "day": event["day"], "kind": data.get("kind"),
                     "text": data.get("text"), "source": "journal"}
            ainfo = client.publish(self.t_alerts, _dumps(alert), qos=1)
            if ainfo.rc == mqtt.MQTT_ERR_SUCCESS:
                entry[1] += 1
                self._inflight[ainfo.mid] = seq
        self._order.append(entry)
        self._entries[seq] = entry
        self._cursor = seq
        self._drained.clear()
        return True

    def _flush_marks(self, force: bool) -> None:
        if not self._to_mark or self.journal is None:
            return
        now = time.monotonic()
        if not force and now - self._last_mark < MARK_EVERY and len(self._to_mark) < 2000:
            return
        seqs, self._to_mark = self._to_mark, []
        try:
            self.journal.mark_sent(seqs, self.clock.now())
        except Exception as exc:  # the journal is busy or full: keep them, try again
            self._to_mark = seqs + self._to_mark
            self._error(f"cannot mark events sent: {exc}")
            return
        self._last_mark = now
        self._set(last_seq=self.last_seq, last_ack_at=utc_iso(self.clock.now()))
        self._refresh_pending()

    def _refresh_pending(self) -> None:
        if self.journal is None:
            return
        try:
            self._pending = self.journal.pending_count()
        except Exception as exc:
            self._error(f"cannot read journal: {exc}")
            return
        if self._pending:
            self._drained.clear()
        self._set(pending=self._pending, last_seq=self.last_seq)

    def _publish_status(self, force: bool) -> None:
        key = (self._pending, self.last_seq)
        now = time.monotonic()
        if not force:
            if key == self._status_sent:
                return
            idle = self._pending == 0 and not self._inflight
            if not idle and now - self._last_status < self.mqtt.status_interval:
                return
        if self.client is None:
            return
        self.client.publish(self.t_status, self._status_payload(True), qos=1, retain=True)
        self._status_sent = key
        self._last_status = now

    def _purge(self) -> None:
        self._last_purge = time.monotonic()
        days = self.config.retention.purge_synced_after_days
        if self.journal is None:
            return
        try:
            n = self.journal.purge_synced(self.clock.now() - dt.timedelta(days=days))
        except Exception as exc:
            self._error(f"purge failed: {exc}")
            return
        if n:
            log.info("sync: purged %d synced events older than %d days", n, days)

    def _shutdown(self) -> None:
        """Clean stop: say offline (retained), wait briefly for outstanding acks, record marks."""
        client = self.client
        if client is not None and self._connected:
            info = client.publish(self.t_status, self._status_payload(False), qos=1, retain=True)
            deadline = time.monotonic() + 1.0
            while (self._inflight or not info.is_published()) and time.monotonic() < deadline:
                if client.loop(0.05) != mqtt.MQTT_ERR_SUCCESS:
                    break
        self._flush_marks(force=True)
        self._drop_client()
        self._set(online=False)


def start_publisher(config, journal_path, clock=None) -> Publisher | None:
    """For the app: a started publisher, or None when `mqtt.enabled` is false."""
    if not config.mqtt.enabled:
        log.info("sync: mqtt.enabled is false; events stay in the journal")
        return None
    pub = Publisher(config, journal_path, clock)
    pub.start()
    return pub
