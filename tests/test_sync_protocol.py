"""Protocol details against a real mosquitto: v3.1.1 as a setting, shared subscriptions, topics."""

from __future__ import annotations

import socket
import threading

from kiosk.shelf import simulate
from kiosk.wire import topics
from kiosk.central.collector import Central
from kiosk.central.store import CentralStore
from kiosk_dev.localbroker import free_port
from kiosk.shelf.publisher import Publisher
from .mqtt_broker import (day_n, broker, bulk_events, example_lines, kiosk_config, load,  # noqa: F401
                         needs_mosquitto, wait_until)


class OldBrokerProxy:
    """A TCP proxy in front of mosquitto that plays an MQTT 3.1.1-only broker: a CONNECT with
    protocol level 5 gets CONNACK "unacceptable protocol version" and a closed socket; anything
    else is passed through to the real broker."""

    def __init__(self, target_port: int):
        self.target = target_port
        self.port = free_port()
        self.levels: list[int] = []
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.sock.settimeout(0.2)
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_packet(conn) -> bytes:
        head = conn.recv(1)
        length, mult, raw = 0, 1, b""
        while True:
            b = conn.recv(1)
            raw += b
            length += (b[0] & 0x7F) * mult
            mult *= 128
            if not b[0] & 0x80:
                break
        body = b""
        while len(body) < length:
            chunk = conn.recv(length - len(body))
            if not chunk:
                break
            body += chunk
        return head + raw + body, body

    def _serve(self, conn):
        conn.settimeout(5)
        try:
            packet, body = self._read_packet(conn)
            level = body[6]  # 00 04 'M' 'Q' 'T' 'T' <level>
            self.levels.append(level)
            if level == 5:
                conn.sendall(b"\x20\x02\x00\x01")
                conn.close()
                return
            up = socket.create_connection(("127.0.0.1", self.target))
            up.sendall(packet)
            conn.settimeout(None)

            def pipe(a, b):
                try:
                    while data := a.recv(65536):
                        b.sendall(data)
                except OSError:
                    pass
                finally:
                    for s in (a, b):
                        try:
                            s.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass

            threading.Thread(target=pipe, args=(conn, up), daemon=True).start()
            threading.Thread(target=pipe, args=(up, conn), daemon=True).start()
        except (OSError, IndexError):
            conn.close()

    def close(self):
        self.stopped.set()
        self.sock.close()


@needs_mosquitto
def test_an_old_broker_is_named_and_v311_is_a_setting_not_a_fallback(broker, tmp_path):
    """No silent v5 -> v3.1.1 fallback any more (under v3.1.1 a refused publish looks accepted):
    a v3.1.1-only broker is named in the status; `protocol = "v311"` works end to end."""
    proxy = OldBrokerProxy(broker.port)
    try:
        config = load(kiosk_config(tmp_path / "kiosk.toml", proxy.port))
        db = tmp_path / "journal.db"
        simulate.run(example_lines(1), config, db, tmp_path / "sim")
        pub = Publisher(config, db)
        pub.start()
        try:
            st = wait_until(lambda: (s := pub.status())["last_error"] and s, what="the refusal")
            assert "refused" in st["last_error"] and "protocol" in st["last_error"].lower()
            assert st["online"] is False
        finally:
            pub.stop()
        assert set(proxy.levels) == {5}
        config = load(kiosk_config(tmp_path / "kiosk311.toml", proxy.port, mqtt='protocol = "v311"'))
        central = Central(config, tmp_path / "central.db").start()
        assert central.wait_subscribed(10)
        pub = Publisher(config, db)
        pub.start()
        try:
            assert pub.wait_drained(15)
            assert pub.status()["protocol"] == "v311"
            wait_until(lambda: central.snapshot().get("stored", 0) == day_n(), what="events at central")
        finally:
            pub.stop()
            central.stop()
        assert 4 in proxy.levels
    finally:
        proxy.close()


@needs_mosquitto
def test_two_centrals_share_the_load_with_a_shared_subscription(broker, tmp_path):
    tail = '[central]\nshared_group = "collectors"\nclient_id = "{}"\n'
    c1 = Central(load(kiosk_config(tmp_path / "c1.toml", broker.port, tail=tail.format("central-a"))),
                 tmp_path / "central.db").start()
    c2 = Central(load(kiosk_config(tmp_path / "c2.toml", broker.port, tail=tail.format("central-b"))),
                 tmp_path / "central.db").start()
    config = load(kiosk_config(tmp_path / "kiosk.toml", broker.port))
    db = tmp_path / "journal.db"
    from kiosk.wire.journal import Journal

    j = Journal(db, "demo", "kiosk-1")
    bulk_events(j, 2000)
    j.close()
    pub = Publisher(config, db)
    try:
        assert c1.wait_subscribed(10) and c2.wait_subscribed(10)
        pub.start()
        assert pub.wait_drained(30)
        wait_until(lambda: c1.snapshot().get("stored", 0) + c2.snapshot().get("stored", 0) >= 2000,
                   what="both centrals together to store everything")
    finally:
        pub.stop()
        c1.stop()
        c2.stop()
    a, b = c1.snapshot().get("stored", 0), c2.snapshot().get("stored", 0)
    assert a + b == 2000 and a > 0 and b > 0  # each event went to one of them, both worked
    store = CentralStore(tmp_path / "central.db")
    try:
        assert store.count("events") == 2000 and store.gaps() == []
    finally:
        store.close()


def test_topic_names():
    assert topics.topic("demo", "kiosk-1", "events") == "returpost/v1/demo/kiosk-1/events"
    assert topics.parse_topic("returpost/v1/demo/kiosk-1/status") == ("demo", "kiosk-1", "status")
    for bad in ("returpost/v1/demo/kiosk-1/other", "returpost/v2/demo/kiosk-1/events",
                "returpost/v1/demo/events", "returpost/v1//kiosk-1/events", "returpost/v1/a/b/c/events"):
        assert topics.parse_topic(bad) is None
