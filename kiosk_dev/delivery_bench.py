"""Delivery benchmark: the time from the kiosk's bestridan command to the TL's webhook
receiving the notification, beside the MQTT round trip alone on the same broker, in one run.
Figures are printed, never asserted.

    .venv/bin/python -m kiosk_dev.delivery_bench [--alerts 200] [--interval 0.02] [--no-hanging]

The path measured: controller.handle (journal commit) -> Publisher -> mosquitto -> central's
collector (store commit) -> delivery worker (queue pass, the webhook's lane, Apprise json:// POST)
-> an HTTP server here. The worker polls every `--interval` seconds (delivery.interval_s; 5 s by
default in production), which is the largest part of the figure and is printed beside it.

By default a second target wants every bestridan too: a socket that accepts connections and never
answers (its lane gives each send up after `delivery.timeout_s` + 5 s). The run counts how many
notifications reached the working webhook within `delivery.interval_s` + 5 s (the promise: a
hanging target delays no other), and prints the webhook's p99 beside the MQTT round trip's.
"""

from __future__ import annotations

import argparse
import http.server
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def _imports():
    try:
        from kiosk_dev.localbroker import LocalBroker
    except ImportError:
        from kiosk.sync.localbroker import LocalBroker
    try:
        from kiosk.central.collector import Central
    except ImportError:
        from kiosk.sync.central import Central
    return LocalBroker, Central


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def _figures(name: str, ms: list[float]) -> str:
    return (f"{name:<44} median {statistics.median(ms):7.1f} ms   p99 {_pct(ms, 99):7.1f} ms   "
            f"max {max(ms):7.1f} ms   (n={len(ms)})")


def mqtt_round_trip(port: int, n: int) -> list[float]:
    """Publish QoS 1 from one client, receive on another through the broker: n times, in ms."""
    got = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-rt-sub", protocol=mqtt.MQTTv5)
    sub.on_message = lambda c, u, m: got.set()
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    sub.subscribe("bench/rt", qos=1)
    subscribed.wait(10)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-rt-pub", protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    out = []
    for i in range(n):
        got.clear()
        t0 = time.perf_counter()
        pub.publish("bench/rt", f"{i}".encode(), qos=1)
        if not got.wait(10):
            continue
        out.append((time.perf_counter() - t0) * 1000)
    for c in (pub, sub):
        c.loop_stop()
        c.disconnect()
    return out


class _Webhook:
    def __init__(self):
        self.count = 0
        self.cond = threading.Condition()
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook.cond:
                    hook.count += 1
                    hook.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.count >= n, timeout)


class Hang:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers (nor closes)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.accepted = threading.Event()
        self._stop = threading.Event()

    def start(self) -> "Hang":
        def serve():
            self.sock.settimeout(0.2)
            while not self._stop.is_set():
                try:
                    c, _ = self.sock.accept()
                except (socket.timeout, OSError):
                    continue
                self.conns.append(c)
                self.accepted.set()

        threading.Thread(target=serve, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for c in self.conns:
            c.close()
        self.sock.close()


def run(alerts: int = 200, interval: float = 0.02, workdir: str | None = None, hanging: bool = True,
        timeout: float = 10.0) -> dict:
    from kiosk.central.delivery import worker
    from kiosk.core.clock import SystemClock
    from kiosk.core.config import parse
    from kiosk.shelf.controller import Controller
    from kiosk.wire.journal import Journal
    from kiosk.shelf.publisher import Publisher

    LocalBroker, Central = _imports()
    base = Path(workdir or tempfile.mkdtemp(prefix="kiosk-bench-delivery-"))
    hook = _Webhook()
    hang = Hang().start() if hanging else None
    limit_ms = (interval + 5.0) * 1000
    with LocalBroker(base / "broker") as broker:
        config = parse(f'[mqtt]\nport = {broker.port}\n'
                       f'[[notify.targets]]\nname = "webhook"\nurl = "json://127.0.0.1:{hook.server.server_port}/hook"\n'
                       'kinds = ["bestridan"]\n'
                       + (f'[[notify.targets]]\nname = "haenger"\nurl = "json://127.0.0.1:{hang.port}/hook"\n'
                          'kinds = ["bestridan"]\n' if hang else '')
                       + f'[delivery]\ninterval_s = {interval}\ntimeout_s = {timeout}\n'
                       '[clock_alerts]\nenabled = false\n', "<bench>")
        print(f"delivery bench: {alerts} bestridan alerts, mosquitto on 127.0.0.1:{broker.port}, "
              f"delivery.interval_s {interval}, timeout_s {timeout}, "
              + ("a second target that accepts and never answers" if hang else "one target"))
        baseline = mqtt_round_trip(broker.port, alerts)

        central_db = base / "central.db"
        central = Central(config, central_db).start()
        central.wait_subscribed(10)
        stop = threading.Event()
        w = threading.Thread(target=worker.run, args=(config, central_db, stop), daemon=True)
        w.start()
        journal = Journal(base / "journal.db", config.kiosk.site, config.kiosk.id)
        controller = Controller(config, journal, SystemClock())
        pub = Publisher(config, journal.path)
        pub.start()
        controller.handle({"cmd": "login", "operator": "ANNA"})
        ms: list[float] = []
        lost = 0
        try:
            for i in range(alerts):
                t0 = time.perf_counter()
                r = controller.handle({"cmd": "incoming", "kind": "bestridan", "segment": "privat"})
                assert r.status == "ok", r
                if hook.wait_for(i + 1 - lost, 30):
                    ms.append((time.perf_counter() - t0) * 1000)
                else:
                    lost += 1
        finally:
            pub.stop()
            stop.set()
            w.join(10)
            central.stop()
            journal.close()
            hook.server.shutdown()
            if hang:
                hang.stop()
    stages = _stages(central_db)
    print(_figures("MQTT round trip alone (QoS 1, pub -> sub):", baseline))
    print(_figures("bestridan command -> webhook received:", ms))
    for name, values in stages.items():
        if values:
            print(_figures(f"  stage: {name}", values))
    within = sum(1 for v in ms if v <= limit_ms)
    ratio = _pct(ms, 99) / _pct(baseline, 99) if ms and baseline and _pct(baseline, 99) > 0 else float("nan")
    print(f"  of which the worker's poll interval is up to {interval * 1000:.0f} ms; not received: {lost}")
    print(f"  webhook p99 / MQTT round trip p99: {ratio:.1f}x; within interval_s + 5 s "
          f"({limit_ms:.0f} ms): {within}/{alerts}" + (" beside a target that never answers" if hang else ""))
    return {"baseline_ms": baseline, "delivery_ms": ms, "lost": lost, "within_limit": within,
            "limit_ms": limit_ms}


def _stages(central_db: Path) -> dict[str, list[float]]:
    """Where the time goes, from the stored times (ms): the event's ts at the kiosk -> central's
    received_at -> the outbox row's created_at -> delivered_at (the target's answer)."""
    import sqlite3

    from kiosk.core.clock import parse_iso

    conn = sqlite3.connect(str(central_db))
    out: dict[str, list[float]] = {"kiosk commit -> central stored": [], "central stored -> outbox row": [],
                                   "outbox row -> webhook answered": []}
    try:
        rows = conn.execute("select a.ts, a.received_at, o.created_at, o.delivered_at from alerts a "
                            "join delivery_outbox o on o.alert_id = a.id where o.delivered_at is not null").fetchall()
    finally:
        conn.close()
    for ts, rec, made, done in rows:
        t = [parse_iso(x).timestamp() * 1000 for x in (ts, rec, made, done)]
        for (name, values), a, b in zip(out.items(), t, t[1:]):
            values.append(max(0.0, b - a))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alerts", type=int, default=200)
    p.add_argument("--interval", type=float, default=0.02, help="delivery.interval_s for the run")
    p.add_argument("--dir", help="working folder (default: a temp folder)")
    p.add_argument("--no-hanging", action="store_true", help="without the target that never answers")
    p.add_argument("--timeout", type=float, default=10.0, help="delivery.timeout_s for the run")
    a = p.parse_args(argv)
    run(a.alerts, a.interval, a.dir, hanging=not a.no_hanging, timeout=a.timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
