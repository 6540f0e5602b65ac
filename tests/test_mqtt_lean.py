"""Central's lean MQTT receive path (kiosk.wire.mqtt.LeanClient) against paho's own client, on the
same bytes: a stream of a CONNACK, QoS 1 PUBLISHes (with and without properties, flags, long
lengths), a QoS 0 PUBLISH and a PINGRESP, delivered whole in one read and cut at every position,
must give the same callbacks and the same bytes written back (PUBACKs). Also: an error in
on_message is logged, and on any other paho version make_client falls back to paho's client."""

from __future__ import annotations

import logging
import socket
import struct

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.core import config as kconfig
from kiosk.wire import mqtt as session


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)


def _packet(header: int, body: bytes) -> bytes:
    return bytes([header]) + _varint(len(body)) + body


def publish(topic: str, payload: bytes, mid: int = 0, qos: int = 1, props: bytes = b"\x00", dup=False, retain=False):
    t = topic.encode("utf-8")
    body = struct.pack("!H", len(t)) + t + (struct.pack("!H", mid) if qos else b"") + props + payload
    return _packet(0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0), body)


CONNACK = _packet(0x20, b"\x00\x00\x00")  # v5: no session present, success, no properties
PINGRESP = _packet(0xD0, b"")
EXPIRY = b"\x05\x02\x00\x00\x00\x3c"  # properties: message expiry interval 60 s
STREAM = b"".join([
    CONNACK,
    publish("returpost/sthlm/k1/events", b'{"seq": 1}', mid=1),
    publish("returpost/sthlm/k1/events", b'{"seq": 2}' + b" " * 200, mid=2, dup=True),  # 2-byte length
    publish("returpost/sthlm/k1/status", b'{"online": true}', mid=3, retain=True, props=EXPIRY),  # paho's path
    publish("returpost/gbg/k2/events", b"x" * 300, mid=65535),
    publish("returpost/gbg/k2/ack", b"qos0", qos=0),
    PINGRESP,
    publish("returpost/åäö/k3/events", b"", mid=7),  # an empty payload, a UTF-8 topic
])


def run(cls, chunks: list[bytes], manual_ack: bool = False, suppress: bool = False, fail_on: int | None = None):
    """Feed `chunks` one after the other to a client of `cls` over a socket pair; returns
    (the callbacks it made, the bytes it wrote back)."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    client = cls(CallbackAPIVersion.VERSION2, client_id="central", protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    client.suppress_exceptions = suppress
    got: list[tuple] = []

    def on_message(c, userdata, m):
        got.append(("message", m.topic, m.mid, bytes(m.payload), m.qos, bool(m.dup), bool(m.retain)))
        if fail_on is not None and m.mid == fail_on:
            raise RuntimeError("store failed")

    client.on_message = on_message
    client.on_connect = lambda c, u, flags, rc, props: got.append(("connack", rc.value))
    client._sock = ours  # the test stands in for the broker's end of the connection
    try:
        for chunk in chunks:
            theirs.sendall(chunk)
            for _ in range(1000):  # paho's own client reads at most one packet a call: until all is read
                client.loop_read()
                try:
                    ours.recv(1, socket.MSG_PEEK)
                except BlockingIOError:
                    break
        theirs.setblocking(False)
        written = b""
        try:
            while data := theirs.recv(1 << 20):
                written += data
        except BlockingIOError:
            pass
        return got, written
    finally:
        ours.close()
        theirs.close()


@pytest.fixture(scope="module")
def expected():
    got, written = run(mqtt.Client, [STREAM])
    assert got[0] == ("connack", 0) and len(got) == 7, got  # the oracle itself saw everything
    assert written == b"".join(struct.pack("!BBH", 0x40, 2, mid) for mid in (1, 2, 3, 65535, 7))
    return got, written


def test_lean_client_in_one_read_equals_paho(expected):
    assert session.lean_supported()
    assert run(session.LeanClient, [STREAM]) == expected


def test_lean_client_cut_at_every_position_equals_paho(expected):
    for cut in range(1, len(STREAM)):
        assert run(session.LeanClient, [STREAM[:cut], STREAM[cut:]]) == expected, cut


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=12))
def test_lean_client_cut_anywhere_many_times_equals_paho(expected, cuts):
    bounds = [0, *sorted(set(cuts)), len(STREAM)]
    chunks = [STREAM[a:b] for a, b in zip(bounds, bounds[1:])]
    assert run(session.LeanClient, chunks) == expected


def test_a_publish_longer_than_one_read_arrives_whole(expected):
    big = publish("returpost/sthlm/k1/events", bytes(range(256)) * 400, mid=9)  # > READ_AHEAD, 3-byte length
    assert len(big) > session.READ_AHEAD
    want = run(mqtt.Client, [CONNACK + big, PINGRESP])
    assert run(session.LeanClient, [CONNACK + big, PINGRESP]) == want
    assert run(session.LeanClient, [CONNACK + big[:70000], big[70000:] + PINGRESP]) == want
    assert want[0][1][3] == bytes(range(256)) * 400


def test_manual_ack_writes_nothing_until_ack_many():
    got, written = run(session.LeanClient, [STREAM], manual_ack=True)
    assert written == b"" and len(got) == 7
    for cls in (session.LeanClient, session.PublicClient):
        ours, theirs = socket.socketpair()  # paho closes its socket when the client goes: one pair each
        client = cls(CallbackAPIVersion.VERSION2, client_id="c", protocol=mqtt.MQTTv5, manual_ack=True)
        client._sock = ours
        client._state = mqtt._ConnectionState.MQTT_CS_CONNECTED
        assert client.ack_many([1, 2, 65535]) == mqtt.MQTT_ERR_SUCCESS
        assert theirs.recv(100) == b"".join(struct.pack("!BBH", 0x40, 2, m) for m in (1, 2, 65535)), cls
        theirs.close()


def test_an_error_in_on_message_is_logged_as_paho_does(caplog):
    with caplog.at_level(logging.ERROR, logger="kiosk.wire.mqtt"):
        with pytest.raises(RuntimeError, match="store failed"):
            run(session.LeanClient, [STREAM], fail_on=1)
    assert "on_message failed" in caplog.text and "RuntimeError: store failed" in caplog.text
    # with paho's suppress_exceptions the error is logged and the stream goes on
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="kiosk.wire.mqtt"):
        got, _ = run(session.LeanClient, [STREAM], suppress=True, fail_on=2)
    assert [g[2] for g in got if g[0] == "message"] == [1, 2, 3, 65535, 0, 7]
    assert "on_message failed" in caplog.text


def test_another_paho_version_gets_pahos_own_client(monkeypatch, caplog, expected):
    cfg = kconfig.parse("").mqtt
    assert isinstance(session.make_client(cfg, "central", lean=True), session.LeanClient)
    assert not session.lean_supported("2.2.1") and not session.lean_supported("3.0.0")
    monkeypatch.setattr(session, "_paho_version", lambda: "2.3.0")
    monkeypatch.setattr(session, "_LEAN", [])
    with caplog.at_level(logging.WARNING, logger="kiosk.wire.mqtt"):
        client = session.make_client(cfg, "central", lean=True)
    assert type(client) is session.PublicClient and "paho-mqtt 2.3.0" in caplog.text
    assert run(session.PublicClient, [STREAM[:40], STREAM[40:]]) == expected
    # the kiosk's publisher never asks for the lean client
    assert type(session.make_client(cfg, "k1")) is mqtt.Client
