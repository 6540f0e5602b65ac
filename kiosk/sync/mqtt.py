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
with a cheaper way in for a stream of QoS 1 messages (reads in 64 KiB chunks instead of three
recv() calls per packet, no `Properties` object for a PUBLISH that carries none, and
`ack_many` writes the PUBACKs of a whole batch at once). See kiosk/central/collector.py.
"""

from __future__ import annotations

import random
import ssl
import struct
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

SUCCESS = mqtt.MQTT_ERR_SUCCESS
READ_AHEAD = 65536  # bytes asked of the socket at once by LeanClient
_PUBACK = struct.Struct("!BBH")


class _ReadAhead:
    """A client socket read in large chunks. paho reads a packet as separate recv() calls for the
    command byte, each length byte and the body; this serves them from one recv() of up to
    READ_AHEAD bytes. `pending()` counts the buffered bytes, so paho's loop (which asks an SSL
    socket the same question) and central's `_more` do not wait in select() on data already
    read. Everything else goes to the socket itself."""

    __slots__ = ("_sock", "_buf", "_pos")

    def __init__(self, sock):
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, n: int) -> bytes:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            buf = self._sock.recv(READ_AHEAD)  # BlockingIOError/SSLWantReadError: paho handles them
            if not buf:
                return buf
            self._buf, pos = buf, 0
        self._pos = pos + n
        return buf[pos:pos + n]

    def pending(self) -> int:
        more = len(self._buf) - self._pos
        inner = getattr(self._sock, "pending", None)
        return max(more, 0) + (inner() if inner is not None else 0)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class LeanClient(mqtt.Client):
    """paho's client with a cheaper receive path for central (see the module docstring). Only
    the common case is taken over (MQTT v5, QoS 1, no properties); anything else goes through
    paho's own code."""

    def _create_socket(self):
        return _ReadAhead(super()._create_socket())

    def _handle_publish(self):
        packet = self._in_packet["packet"]
        header = self._in_packet["command"]
        if self._protocol != mqtt.MQTTv5 or header & 0x06 != 0x02 or len(packet) < 5:
            return super()._handle_publish()
        end = 2 + ((packet[0] << 8) | packet[1])
        if len(packet) < end + 3 or packet[end + 2] != 0:  # properties present: paho decodes them
            return super()._handle_publish()
        message = mqtt.MQTTMessage(mid=(packet[end] << 8) | packet[end + 1], topic=bytes(packet[2:end]))
        message.dup = bool(header & 0x08)
        message.qos = 1
        message.retain = bool(header & 0x01)
        message.payload = bytes(packet[end + 3:])
        message.timestamp = time.monotonic()
        self._handle_on_message(message)
        return SUCCESS if self._manual_ack else self._send_puback(message.mid)

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
    client = (LeanClient if lean else mqtt.Client)(
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
