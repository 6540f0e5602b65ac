"""The outbox publisher: journal -> MQTT, confirmed end to end by central (DESIGN.md §5).

    pub = Publisher(config, config.journal_path)
    pub.start()          # returns at once; a kiosk boots and works with no broker
    pub.status()         # {"online", "pending", "confirmed_seq", "sent_seq", "last_error", ...}
    pub.stop()

One thread owns the paho client (callbacks run in it, `client.loop()` is called from it) and its
own SQLite connection to the journal (the controller writes from another thread; WAL lets both).
Only one process drives a journal's outbox at a time: a lock file beside the journal
(`<journal>.sync.lock`); a second publisher (`kiosk sync` while the kiosk runs) says so and waits.

- Events are published to `returpost/v1/<site>/<kiosk>/events` at QoS 1 in `seq` order, at most
  `mqtt.max_inflight` unacknowledged at a time. A PUBACK marks an event *sent* (`sent_at`): it
  only moves the window.
- Central's retained end-to-end ack (`.../ack`, kiosk/central/ack.py) says up to which seq it has
  stored every event of this journal id: that, and only that, makes events *confirmed*
  (`Journal.confirmed_seq`); only confirmed events are purged. The ack may go down (central
  restored from a backup): the events after it are unconfirmed again.
- Everything central has not confirmed is sent again after a (re)connect, after a restart, and
  when the ack has not moved for `mqtt.ack_timeout` seconds while events are sent but
  unconfirmed (the timeout doubles, up to 16x, while nothing moves). So a broker that crashed and
  lost its queue, or was restored from an old persistence file, heals with no person.
- An ack for our journal id that names a seq beyond our journal, or another event id at a seq
  we have, means this journal file was restored from a backup: the journal gets a new id
  (`Journal.rotate_journal_id`) and every unconfirmed event is re-stamped and sent under it.
- Reconnects back off exponentially (`mqtt.backoff_min` .. `backoff_max`) with jitter.
- A retained `status` message (online, pending, last_seq, confirmed_seq, sent_seq, journal,
  journal_start, version, and `printer` {state, kept} once `set_printer` was called) is kept
  current; the last will sets it to offline. `alert_raised`
  events also go to `alerts` at QoS 1, and so do alerts handed to `publish_alert`.
- Central's retained inbox (`.../inbox`, kiosk/wire/inbox.py: what the TLs did with our alerts
  and whether the notifications reached them) is checked strictly (a bad one is logged and
  ignored); `inbox()` returns the newest good one, and `inbox_listeners` are called with it (in
  the publisher's thread).
"""

from __future__ import annotations

import collections
import datetime as dt
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import IO

import paho.mqtt.client as mqtt

from .. import __version__
from ..core.clock import SystemClock, utc_iso
from ..wire.journal import Journal
from ..wire import inbox as inbox_doc
from ..wire import mqtt as session
from ..wire import topics

log = logging.getLogger(__name__)

READ_BATCH = 500  # events read from the journal per query
MARK_EVERY = 0.25  # seconds between batched mark_sent writes while busy
PURGE_EVERY = 3600.0  # seconds between purges
ACK_GRACE = 1.0  # seconds after SUBACK to wait for the retained ack before sending events
ACK_TIMEOUT_MAX_FACTOR = 16


def _unsent_raw(journal: Journal, limit: int, after_seq: int) -> list[tuple[int, str, str]]:
    """(seq, type, payload text) after `after_seq` in seq order, published byte for byte."""
    return journal.db.execute(
        "select seq, type, payload from events where seq > ? order by seq limit ?",
        [after_seq, limit]).fetchall()


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def read_ack(doc: object, journal_id: str, journal_start: int, last_seq: int, id_at) -> tuple[str, int | None]:
    """What central's ack means for this journal (pure; `id_at(seq)` -> our event id or None).

    ("confirmed", N): central stored every event up to N; ("restored", N): central holds events of
    our journal id that we do not (this file was restored from a backup); ("none", None): the
    ack says nothing about our journal (yet)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("journals"), dict):
        return "none", None
    entry = doc["journals"].get(journal_id)
    if not isinstance(entry, dict):
        return "none", None
    upto, start = entry.get("upto"), entry.get("start", 1)
    if not isinstance(upto, int) or isinstance(upto, bool) or start != journal_start:
        return "none", None
    if upto < journal_start:
        return "confirmed", journal_start - 1
    if upto > last_seq:
        return "restored", upto
    ours = id_at(upto)
    if ours is not None and entry.get("id") not in (None, ours):
        return "restored", upto
    return "confirmed", upto


class SyncLock:
    """An exclusive lock on a journal's outbox (flock on `<journal>.sync.lock`)."""

    def __init__(self, journal_path: Path):
        self.path = Path(str(journal_path) + ".sync.lock")
        self.fh: IO[str] | None = None

    def acquire(self) -> str | None:
        """None when we hold it now; else why not (who holds it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            who = fh.read().strip() or "another process"
            fh.close()
            return (f"another process ({who}) already sends this journal's events: only one may "
                    f"(the kiosk's own publisher or `kiosk sync`); lock {self.path}")
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        self.fh = fh
        return None

    def release(self) -> None:
        if self.fh is not None:
            try:
                fcntl.flock(self.fh.fileno(), fcntl.LOCK_UN)
                self.fh.close()
            except OSError:
                pass
            self.fh = None


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
        self.t_ack = topics.topic(self.site, self.kiosk, "ack")
        self.t_inbox = topics.topic(self.site, self.kiosk, "inbox")
        self._inbox: dict | None = None
        self.inbox_listeners: list = []
        self._printer: dict | None = None
        self._base = config.data_path(".")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._drained = threading.Event()
        self._thread: threading.Thread | None = None
        self._alerts: collections.deque = collections.deque(maxlen=1000)
        self._backoff = session.Backoff(self.mqtt.backoff_min, self.mqtt.backoff_max)
        self._sync_lock = SyncLock(self.journal_path)
        # last_seq = confirmed_seq (kept for the UI); journal_last_seq = the journal's newest seq
        self._snap = {"online": False, "pending": 0, "last_seq": 0, "confirmed_seq": 0, "sent_seq": 0,
                      "journal_last_seq": 0,
                      "oldest_unconfirmed_ts": None, "last_error": None, "connected_at": None,
                      "last_ack_at": None, "last_confirmed_at": None, "protocol": self.mqtt.protocol,
                      "journal": None}
        # worker-thread state
        self.journal: Journal | None = None
        self.client: mqtt.Client | None = None
        self._connected = False
        self._refusals = 0
        self._acks: list[bytes] = []
        self._ack_ready = False
        self._ack_wait_until = 0.0
        self._confirmed = 0
        self._confirm_dirty = False
        self._progress_at = time.monotonic()
        self._timeout_factor = 1
        self._reset_stream()
        self.sent_upto = 0  # highest seq of the PUBACKed prefix (this connection)
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

    def inbox(self) -> dict | None:
        """Central's newest valid inbox document for this kiosk (kiosk/wire/inbox.py), or None."""
        with self._lock:
            return self._inbox

    def set_printer(self, state: str, kept: int) -> None:
        """The printer's state (kiosk/shelf/hw/printer.py: ok|offline|no_paper|error) and how many jobs
        it keeps: carried in the retained status for central's `printer` clock alert."""
        value = {"state": str(state)[:32], "kept": max(0, int(kept))}
        with self._lock:
            self._printer = value

    def wait_drained(self, timeout: float) -> bool:
        """Block until central has confirmed every journal event (or `timeout`)."""
        return self._drained.wait(timeout)

    @property
    def last_seq(self) -> int:
        """The highest seq central has confirmed (end to end)."""
        return self._confirmed

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    # -- worker ----------------------------------------------------------------------------------
    def _set(self, **kw) -> None:
        with self._lock:
            self._snap.update(kw)

    def _error(self, text: str | None) -> None:
        if text is not None and text != self._snap.get("last_error"):
            log.warning("sync: %s", text)
        self._set(last_error=text)

    def _reset_stream(self, cursor: int | None = None) -> None:
        """Forget the per-connection publish state; the next events sent are those after `cursor`
        (default: everything central has not confirmed)."""
        self._buffer: collections.deque = collections.deque()
        self._cursor = self._confirmed if cursor is None else cursor
        self._order: collections.deque = collections.deque()  # [seq, outstanding acks] in publish order
        self._entries: dict[int, list] = {}
        self._inflight: dict[int, object] = {}  # mid -> seq (int) or alert dict

    def _run(self) -> None:
        try:
            self._take_lock()
            if self._stop.is_set():
                return
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
            self._sync_lock.release()

    def _take_lock(self) -> None:
        while not self._stop.is_set():
            why = self._sync_lock.acquire()
            if why is None:
                return
            self._error(why)
            self._stop.wait(2.0)

    def _open_journal(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self.journal = Journal(self.journal_path, self.site, self.kiosk)
                self._confirmed = self.journal.confirmed_seq
                self._set(journal=self.journal.journal_id, confirmed_seq=self._confirmed)
                self._reset_stream()
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
        delay = self._backoff.next()
        until = time.monotonic() + delay
        while not self._stop.is_set():
            left = until - time.monotonic()
            if left <= 0:
                break
            self._stop.wait(min(left, 1.0))
            self._refresh_pending()  # the UI sees the queue grow while offline

    def _status_payload(self, online: bool) -> bytes:
        j = self.journal
        snap = self.status()
        doc = {"v": 1, "site": self.site, "kiosk": self.kiosk, "online": online,
               "pending": self._pending, "last_seq": j.last_seq if j else 0,
               "confirmed_seq": self._confirmed, "sent_seq": snap.get("sent_seq") or 0,
               "journal": j.journal_id if j else None,
               "journal_start": j.journal_start if j else 1,
               "version": __version__, "ts": utc_iso(self.clock.now())}
        with self._lock:
            if self._printer is not None:
                doc["printer"] = dict(self._printer)
        return _dumps(doc)

    def _connect_once(self) -> None:
        m = self.mqtt
        try:
            client = session.make_client(m, self.client_id, base=self._base)
        except Exception as exc:  # bad CA file path and the like
            self._error(f"MQTT client setup failed: {exc}")
            return
        client.max_inflight_messages_set(m.max_inflight)  # our window; paho never queues
        client.will_set(self.t_status, self._status_payload(False), qos=1, retain=True)
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self.client = client
        where = session.describe(m)
        log.debug("sync: connecting to %s (%s)", where, m.protocol)
        self._acks, self._ack_ready = [], False
        res = session.connect(client, m, clean_start=True, stop=self._stop)
        if not res:
            self._error(f"cannot connect to {where}: {res.reason}")
            self._drop_client()
            return
        self._connected = True
        self._backoff.reset()
        self._ack_wait_until = time.monotonic() + float(m.connect_timeout)
        client.subscribe([(self.t_ack, 1), (self.t_inbox, 1)])
        self._reset_stream()  # after a reconnect: everything central has not confirmed again
        self._progress_at = time.monotonic()
        with self._lock:  # a refusal stays visible until something is acknowledged again
            self._snap.update(online=True, connected_at=utc_iso(self.clock.now()), protocol=m.protocol)
            if not self._refusals:
                self._snap["last_error"] = None
        log.info("sync: connected to %s (%s)", where, m.protocol)
        self._publish_status(force=True)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if client is not self.client:
            return
        if reason_codes and reason_codes[0].is_failure:
            self._error(f"the broker refused the ack subscription ({self.t_ack}): central's "
                        "confirmations cannot arrive; check the broker ACL")
        elif any(rc.is_failure for rc in reason_codes[1:]):
            log.warning("sync: the broker refused the inbox subscription (%s): the screen will not "
                        "show what the TLs did with the alerts; check the broker ACL", self.t_inbox)
        # The retained ack, if any, follows the SUBACK at once; give it a moment.
        self._ack_wait_until = time.monotonic() + ACK_GRACE

    def _on_message(self, client, userdata, msg) -> None:
        if client is not self.client:
            return
        if msg.topic == self.t_ack:
            self._acks.append(bytes(msg.payload))
        elif msg.topic == self.t_inbox:
            self._take_inbox(bytes(msg.payload))

    def _take_inbox(self, payload: bytes) -> None:
        if not payload:  # a cleared retained message: nothing to show
            doc = None
        else:
            try:
                doc = inbox_doc.parse(payload)
            except inbox_doc.BadInbox as exc:
                log.warning("sync: inbox from the broker ignored (%d bytes): %s", len(payload), str(exc)[:300])
                return
        with self._lock:
            self._inbox = doc
        for listener in list(self.inbox_listeners):
            try:
                listener(doc)
            except Exception:
                log.exception("sync: inbox listener failed")

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
                client.disconnect()  # type: ignore[union-attr]
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
                self.sent_upto = seq
                self._to_mark.append(seq)
                if self._refusals:
                    self._refusals = 0
                    self._set(last_error=None)

    def _drop_client(self) -> None:
        client, self.client = self.client, None
        self._connected = False
        self._set(online=False)
        session.close(client)

    # the end-to-end ack ---------------------------------------------------------------------
    def _handle_acks(self) -> None:
        docs, self._acks = self._acks, []
        self._ack_ready = True
        for raw in docs[-1:]:  # the newest says it all
            try:
                doc = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                self._error("unreadable ack from the broker (ignored)")
                continue
            j = self.journal
            assert j is not None  # acks arrive only while connected, after the journal opened
            verdict, seq = read_ack(doc, j.journal_id, j.journal_start, j.last_seq, j.event_id_at)
            if verdict == "restored":
                if self._confirm_dirty:
                    j.set_confirmed(self._confirmed)
                    self._confirm_dirty = False
                old = j.journal_id
                new = j.rotate_journal_id()
                log.warning("sync: central holds events of journal %s up to seq %s that this journal "
                            "does not have (restored from a backup?); continuing as journal %s from seq %d",
                            old, seq, new, j.journal_start)
                self._set(journal=new)
                self._reset_stream()
                self._publish_status(force=True)
                continue
            if verdict != "confirmed" or seq is None or seq == self._confirmed:
                continue
            if seq < self._confirmed:
                log.warning("sync: central now confirms only up to seq %d (was %d; restored from a "
                            "backup?): resending from %d", seq, self._confirmed, seq + 1)
                self._reset_stream(seq)
            self._confirmed = seq
            self._confirm_dirty = True  # written to the journal with the sent marks (batched)
            if self._cursor < seq and not self._inflight:  # nothing to send before it
                self._buffer.clear()
                self._cursor = seq
            self._progress_at = time.monotonic()
            self._timeout_factor = 1
            self._set(confirmed_seq=seq, last_seq=seq, last_confirmed_at=utc_iso(self.clock.now()))
            if "not confirmed" in (self.status().get("last_error") or ""):
                self._error(None)

    def _check_ack_timeout(self) -> None:
        """Sent but unconfirmed for too long: resend from the last confirmed seq, and say so."""
        if self._pending == 0 or self.sent_upto <= self._confirmed and self._cursor <= self._confirmed:
            self._progress_at = time.monotonic()
            return
        limit = float(self.mqtt.ack_timeout) * self._timeout_factor
        if time.monotonic() - self._progress_at < limit or self._inflight:
            return
        self._error(f"central has not confirmed seq {self._confirmed + 1}.. within {limit:g} s although the "
                    f"broker took them (is central running? under MQTT v3.1.1 a publish the broker's "
                    f"ACL refuses looks accepted); sending them again")
        self._timeout_factor = min(self._timeout_factor * 2, ACK_TIMEOUT_MAX_FACTOR)
        self._progress_at = time.monotonic()
        self._reset_stream()

    # publishing ------------------------------------------------------------------------------
    def _pump(self) -> None:
        client = self.client
        assert client is not None and self.journal is not None  # only called while connected
        window = self.mqtt.max_inflight
        if self._acks:
            self._handle_acks()
        elif not self._ack_ready and time.monotonic() >= self._ack_wait_until:
            self._ack_ready = True  # no retained ack: central has confirmed nothing (yet)
        while self._alerts and len(self._inflight) < window and self._connected:
            alert = self._alerts.popleft()
            info = client.publish(self.t_alerts, _dumps(alert), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self._alerts.appendleft(alert)
                break
            self._inflight[info.mid] = alert
        while self._ack_ready and len(self._inflight) < window and self._connected:
            if not self._buffer:
                self._buffer.extend(_unsent_raw(self.journal, READ_BATCH, self._cursor))
                if not self._buffer:
                    break
            event = self._buffer.popleft()
            if not self._publish_event(client, event):
                break
        busy = bool(self._inflight)
        try:
            rc = client.loop(0.01 if busy else 0.2)
        except Exception as exc:  # a protocol violation from the broker
            self._error(f"protocol error from the broker: {exc}")
            rc = mqtt.MQTT_ERR_PROTOCOL
        if rc != mqtt.MQTT_ERR_SUCCESS or not self._connected:
            if self._connected or rc != mqtt.MQTT_ERR_SUCCESS:
                self._error(f"connection lost ({mqtt.error_string(rc)})")
            self._drop_client()
            self._reset_stream()
            if self._refusals:
                self._wait_backoff(self._refusals)
            return
        self._flush_marks(force=not busy and not self._buffer)
        if not busy and not self._buffer and not self._to_mark and not self._confirm_dirty:
            self._refresh_pending()
            # only once central's retained ack has been read (or has surely not come): a kiosk
            # whose own marks say "all confirmed" may face a central restored from a backup
            if self._pending == 0 and not self._alerts and self._ack_ready:
                self._drained.set()
            self._check_ack_timeout()
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
        if self.journal is None or not self._to_mark and not self._confirm_dirty:
            return
        now = time.monotonic()
        if not force and now - self._last_mark < MARK_EVERY and len(self._to_mark) < 2000:
            return
        if self._confirm_dirty:
            try:
                self.journal.set_confirmed(self._confirmed)
                self._confirm_dirty = False
            except Exception as exc:  # busy or full: try again with the next marks
                self._error(f"cannot record central's confirmation: {exc}")
            self._last_mark = now
            self._refresh_pending()
            self._publish_status(force=False)
            if not self._to_mark:
                return
        seqs, self._to_mark = self._to_mark, []
        try:
            self.journal.mark_sent(seqs, self.clock.now())
        except Exception as exc:  # the journal is busy or full: keep them, try again
            self._to_mark = seqs + self._to_mark
            self._error(f"cannot mark events sent: {exc}")
            return
        self._last_mark = now
        self._set(sent_seq=max(self.status().get("sent_seq") or 0, max(seqs)),
                  last_ack_at=utc_iso(self.clock.now()))

    def _refresh_pending(self) -> None:
        if self.journal is None:
            return
        try:
            box = self.journal.outbox()
        except Exception as exc:
            self._error(f"cannot read journal: {exc}")
            return
        self._pending = box["pending"]
        if self._pending:
            self._drained.clear()
        self._set(pending=self._pending, last_seq=box["confirmed_seq"], journal_last_seq=box["last_seq"],
                  confirmed_seq=box["confirmed_seq"],
                  sent_seq=box["sent_seq"], oldest_unconfirmed_ts=box["oldest_unconfirmed_ts"])

    def _publish_status(self, force: bool) -> None:
        with self._lock:
            printer = tuple(self._printer.values()) if self._printer else None
        key = (self._pending, self._confirmed, printer)
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
        if self.journal is None:
            return
        days = self.config.retention.purge_synced_after_days
        try:
            n = self.journal.purge_synced(self.clock.now() - dt.timedelta(days=days))
        except Exception as exc:
            self._error(f"purge failed: {exc}")
            return
        if n:
            log.info("sync: purged %d confirmed events older than %d days", n, days)

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
