"""The one MQTT session module (paho-mqtt 2.x): client factory, TLS, connect + CONNACK wait,
backoff with jitter. Used by the kiosk's publisher, central's collector and `kiosk doctor`.

    client = make_client(config.mqtt, client_id, username=..., base=config_dir)
    ok, why = connect(client, config.mqtt, stop=stop_event)   # (True, None) or (False, "reason")
    backoff = Backoff(cfg.backoff_min, cfg.backoff_max); stop.wait(backoff.next())

MQTT v5 is the default; `protocol = "v311"` is still accepted for an old broker, but there is no
automatic fallback any more: mosquitto 2.x speaks v5, and under v3.1.1 a publish the ACL denies
is acknowledged as if it were accepted. The end-to-end ack from central makes that visible
(the events stay unconfirmed), but a fallback would only have hidden a broker misconfiguration.

With the provisioning broker config the broker replaces every client id by the username
(`use_username_as_clientid`), so the client id given here only matters on a plain broker.

`make_client(..., lean=True)` gives a `LeanClient`, central's receive path: the same paho client
with a cheaper way in for a stream of QoS 1 messages (one recv() of up to 64 KiB for many packets
instead of three per packet, no MQTTMessage/`Properties` objects for a PUBLISH that carries no
properties, and `ack_many` writes the PUBACKs of a whole batch at once). See
kiosk/central/collector.py.

`LeanClient` reads through paho's private names (`_packet_read`, `_sock_recv`, `_in_packet`,
`_packet_handle`, `_send_puback`, `_packet_queue`, ...), so it is confined to the paho version it
was tested on: pyproject pins paho-mqtt exactly at LEAN_PAHO, and on any other version (or if one
of those names is gone) `make_client` gives `PublicClient`, paho's own client with `ack_many` made of
its public `ack`, and logs a warning once. Everything works the same, slower under a flood.
tests/test_mqtt_lean.py feeds LeanClient a byte stream cut at every position and compares it with
paho's own client on the same bytes.
"""

from __future__ import annotations

import logging
import random
import ssl
import struct
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

SUCCESS = mqtt.MQTT_ERR_SUCCESS
LEAN_PAHO = "2.2.0"  # the paho-mqtt version LeanClient was tested on (pinned exactly in pyproject)
# paho's private names LeanClient uses: methods of the class, attributes of an instance
_PAHO_METHODS = ("_packet_read", "_sock_recv", "_packet_handle", "_send_puback", "_packet_queue", "_create_socket")
_PAHO_ATTRS = ("_in_packet", "_msgtime_mutex", "_last_bytes_received", "_protocol", "_manual_ack", "_on_message",
               "_userdata", "_in_callback_mutex", "_sock")
READ_AHEAD = 65536  # bytes asked of the socket at once by LeanClient
_PUBACK = struct.Struct("!BBH")


def _fresh_packet() -> dict:
    """paho's empty `_in_packet` (what its `_packet_read` resets to after each packet)."""
    return {"command": 0, "have_remaining": 0, "remaining_count": [], "remaining_mult": 1,
            "remaining_length": 0, "packet": bytearray(b""), "to_process": 0, "pos": 0}


class _Publish:
    """A received QoS 1 PUBLISH without properties, as `on_message` sees it: what paho's
    MQTTMessage offers (`topic` raises UnicodeDecodeError for a topic that is not UTF-8, as
    paho's does), without the lock and condition paho builds for every message."""

    __slots__ = ("_topic", "mid", "payload", "dup", "retain", "timestamp")
    qos = 1
    properties = None

    def __init__(self, topic: bytes, mid: int, payload: bytes, header: int):
        self._topic, self.mid, self.payload = topic, mid, payload
        self.dup, self.retain = bool(header & 0x08), bool(header & 0x01)
        self.timestamp = time.monotonic()

    @property
    def topic(self) -> str:
        return self._topic.decode("utf-8")


def lean_supported(version: str | None = None) -> bool:
    """Whether LeanClient may run on this paho: exactly LEAN_PAHO, with every private name it uses."""
    if (_paho_version() if version is None else version) != LEAN_PAHO:
        return False
    if not all(callable(getattr(mqtt.Client, name, None)) for name in _PAHO_METHODS):
        return False
    probe = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    return all(hasattr(probe, name) for name in _PAHO_ATTRS) and isinstance(probe._in_packet, dict)


def _paho_version() -> str:
    import paho.mqtt

    return str(getattr(paho.mqtt, "__version__", ""))


_LEAN: list[bool] = []  # lean_supported() of the installed paho, decided once


def _use_lean() -> bool:
    if not _LEAN:
        ok = lean_supported(_paho_version())
        if not ok:
            log.warning("paho-mqtt %s is not the version central's lean receive path was tested on (%s): using "
                        "paho's own client (correct, slower under a flood)", _paho_version() or "?", LEAN_PAHO)
        _LEAN.append(ok)
    return _LEAN[0]


class PublicClient(mqtt.Client):
    """paho's own client, with LeanClient's `ack_many` made of paho's public `ack` (the fallback)."""

    def ack_many(self, mids) -> mqtt.MQTTErrorCode:
        rc = SUCCESS
        for mid in mids:
            rc = self.ack(mid, 1) or rc
        return rc


class LeanClient(mqtt.Client):
    """paho's client with a cheaper receive path for central (see the module docstring).

    paho reads a packet in at least three recv() calls (command byte, each length byte, body)
    and builds an MQTTMessage (a lock, a condition, a `Properties` object under v5) for each.
    Here one recv() takes up to READ_AHEAD bytes and every complete packet in them is handled:
    a QoS 1 PUBLISH without properties (what kiosks send) goes straight to `on_message` as a
    `_Publish`; anything else (CONNACK, SUBACK, PUBACK, PINGRESP, a PUBLISH with properties or
    another QoS, any packet when per-topic callbacks are set) goes through paho's own handling.
    A partial packet waits in the buffer for the next read.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rbuf = bytearray()
        self._filtered = False

    def message_callback_add(self, sub, callback) -> None:
        self._filtered = True  # paho's own dispatch from now on
        super().message_callback_add(sub, callback)

    def _create_socket(self):
        self._rbuf = bytearray()  # nothing of an earlier connection
        return super()._create_socket()

    def _packet_read(self) -> mqtt.MQTTErrorCode:
        try:
            data = self._sock_recv(READ_AHEAD)
        except BlockingIOError:
            return mqtt.MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError:  # TimeoutError, ConnectionError, ssl errors
            return mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
        if not data:
            return mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
        with self._msgtime_mutex:
            self._last_bytes_received = time.monotonic()
        buf = self._rbuf
        buf += data
        size = len(buf)
        pos = 0
        rc = SUCCESS
        fast = self._protocol == mqtt.MQTTv5 and not self._filtered
        try:
            while size - pos >= 2:
                length, mult, i = 0, 1, pos + 1
                while True:
                    if i >= size:
                        return rc  # the length itself is not complete yet
                    byte = buf[i]
                    i += 1
                    length += (byte & 127) * mult
                    mult *= 128
                    if not byte & 128:
                        break
                    if i - pos > 4:  # at most 4 length bytes in MQTT
                        return mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
                if size - i < length:
                    return rc  # the body is not complete yet
                header, stop = buf[pos], i + length
                pos = stop
                if fast and header & 0xF6 == 0x32 and length >= 5:  # PUBLISH, QoS 1
                    t_end = i + 2 + ((buf[i] << 8) | buf[i + 1])
                    if t_end + 3 <= stop and buf[t_end + 2] == 0:  # no properties
                        mid = (buf[t_end] << 8) | buf[t_end + 1]
                        message = _Publish(bytes(buf[i + 2:t_end]), mid, bytes(buf[t_end + 3:stop]), header)
                        on_message = self._on_message
                        if on_message is not None:
                            with self._in_callback_mutex:
                                try:
                                    on_message(self, self._userdata, message)  # type: ignore[arg-type]
                                except Exception:  # as paho's own dispatch: logged, raised unless suppressed
                                    log.exception("MQTT on_message failed (topic %r, mid %d)", message._topic[:200], mid)
                                    if not self.suppress_exceptions:
                                        raise
                        if not self._manual_ack:
                            rc = self._send_puback(mid)
                            if rc:
                                return rc
                        continue
                self._in_packet = {"command": header, "have_remaining": 1, "remaining_count": [],
                                   "remaining_mult": 1, "remaining_length": length,
                                   "packet": bytearray(buf[i:stop]), "to_process": 0, "pos": 0}
                try:
                    rc = self._packet_handle()
                except MalformedPacket:
                    rc = mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
                finally:
                    self._in_packet = _fresh_packet()  # type: ignore[assignment]
                if rc or self._sock is None:
                    return rc
            return rc
        finally:
            del buf[:pos]

    def ack_many(self, mids) -> mqtt.MQTTErrorCode:
        """PUBACK every QoS 1 message id in `mids` (manual_ack) in one write."""
        data = b"".join([_PUBACK.pack(0x40, 2, mid) for mid in mids])
        if not data:
            return SUCCESS
        return self._packet_queue(0x40, data, 0, 0)


def make_client(mqtt_cfg, client_id: str, protocol: str | None = None, *, username: str | None = None,
                password: str | None = None, base: Path | None = None,
                manual_ack: bool = False, persistent: bool = False, lean: bool = False) -> mqtt.Client:
    """A paho client (callback API v2) with credentials and TLS from the `[mqtt]` section.

    `protocol` is "v5" or "v311" (default: `mqtt.protocol`). Passwords go to paho only, never to
    a log. `persistent` asks for a v3.1.1 persistent session (for v5, `connect` takes
    `session_expiry`). `lean` gives a `LeanClient` (central). Raises OSError/ssl.SSLError/ValueError for unusable TLS files.
    """
    protocol = protocol or mqtt_cfg.protocol
    proto = mqtt.MQTTv5 if protocol == "v5" else mqtt.MQTTv311
    client = (LeanClient if lean and _use_lean() else PublicClient if lean else mqtt.Client)(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=proto,
        clean_session=None if proto == mqtt.MQTTv5 else not persistent, manual_ack=manual_ack,
    )
    user = mqtt_cfg.username if username is None else username
    secret = mqtt_cfg.password if password is None else password
    if user:
        client.username_pw_set(user, secret or None)
    if mqtt_cfg.tls:
        def path(p: str) -> str | None:
            if not p:
                return None
            q = Path(p)
            return str(q if q.is_absolute() or base is None else base / q)

        client.tls_set(ca_certs=path(mqtt_cfg.ca_file), certfile=path(mqtt_cfg.cert_file),
                       keyfile=path(mqtt_cfg.key_file))
    client.connect_timeout = float(mqtt_cfg.connect_timeout)
    return client


def describe(mqtt_cfg, username: str | None = None) -> str:
    """Where we connect, for logs and error messages (never the password)."""
    user = mqtt_cfg.username if username is None else username
    scheme = "mqtts" if mqtt_cfg.tls else "mqtt"
    who = f"{user}@" if user else ""
    return f"{scheme}://{who}{mqtt_cfg.host}:{mqtt_cfg.port}"


class ConnectResult:
    """What `connect` found: ok, the reason when not, the CONNACK reason code when one came."""

    def __init__(self, ok: bool, reason: str | None = None, rc=None, exc: BaseException | None = None):
        self.ok, self.reason, self.rc, self.exc = ok, reason, rc, exc

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"ConnectResult(ok={self.ok}, reason={self.reason!r})"


def connect(client: mqtt.Client, mqtt_cfg, *, keepalive: int | None = None, clean_start: bool = True,
            session_expiry: int | None = None, timeout: float | None = None,
            stop: threading.Event | None = None, host: str | None = None,
            port: int | None = None) -> ConnectResult:
    """TCP/TLS connect, send CONNECT, loop until CONNACK. Chains the client's own on_connect
    (set it before calling). Never raises for network, TLS or refusal: the result says why."""
    result: dict = {}
    user_cb = client.on_connect

    def on_connect(c, u, flags, reason_code, props):
        result["rc"] = reason_code
        if user_cb is not None:
            user_cb(c, u, flags, reason_code, props)

    client.on_connect = on_connect
    host = host or mqtt_cfg.host
    port = port or mqtt_cfg.port
    keepalive = int(keepalive or mqtt_cfg.keepalive)
    try:
        if client.protocol == mqtt.MQTTv5:
            props = None
            if session_expiry is not None:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = int(session_expiry)
            client.connect(host, port, keepalive=keepalive, clean_start=clean_start, properties=props)
        else:
            client.connect(host, port, keepalive=keepalive)
    except ssl.SSLCertVerificationError as exc:
        return ConnectResult(False, f"TLS: certificate verify failed ({exc.verify_message})", exc=exc)
    except (OSError, ssl.SSLError) as exc:
        return ConnectResult(False, f"{type(exc).__name__}: {exc}", exc=exc)
    deadline = time.monotonic() + float(timeout if timeout is not None else mqtt_cfg.connect_timeout)
    while "rc" not in result:
        if stop is not None and stop.is_set():
            return ConnectResult(False, "stopped")
        if time.monotonic() > deadline:
            return ConnectResult(False, "no CONNACK in time")
        try:
            rc = client.loop(0.05)
        except Exception as exc:  # a protocol violation from the other end
            return ConnectResult(False, f"protocol error: {exc}", exc=exc)
        if rc != SUCCESS and "rc" not in result:
            return ConnectResult(False, f"connection lost during connect ({mqtt.error_string(rc)})")
    rc = result["rc"]
    if rc.is_failure:
        return ConnectResult(False, f"broker refused: {rc}", rc=rc)
    return ConnectResult(True, rc=rc)


def close(client: mqtt.Client | None) -> None:
    """Disconnect and let paho write the DISCONNECT; never raises."""
    if client is None:
        return
    try:
        client.disconnect()
        client.loop(0.01)
    except Exception:
        pass


class Backoff:
    """Reconnect delays: from `low` doubling to `high`, each drawn uniformly from [d/2, d]
    (jitter, so a fleet of kiosks does not reconnect in step after a broker restart)."""

    def __init__(self, low: float, high: float, rand: random.Random | None = None):
        self.low, self.high = float(low), float(high)
        self.failures = 0
        self.rand = rand or random.Random()

    def reset(self) -> None:
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        base = min(self.high, self.low * 2 ** min(self.failures - 1, 30))
        return self.rand.uniform(base / 2, base)
