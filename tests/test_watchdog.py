"""The watchdog proof: a hung UI loop stops the pings systemd's WatchdogSec waits for.

The test plays systemd's part: it binds a unix datagram socket, hands it to a child process as
$NOTIFY_SOCKET with $WATCHDOG_USEC, and reads what arrives. The child runs Kivy's real Clock loop
(no window needed) with `WatchdogFeeder.schedule(Clock)`, the way the kiosk UI feeds the watchdog.
After a few pings a Clock callback blocks forever, like a stuck call in a UI handler.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.shelf import sdnotify
from kiosk.shelf.watchdog import WatchdogFeeder

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import os, sys, threading
from kivy.clock import Clock
from kiosk.shelf import sdnotify
from kiosk.shelf.watchdog import WatchdogFeeder

hang_after = int(sys.argv[1])          # pings before the loop hangs; -1 = never
mode = sys.argv[2]
pings = [0]
if mode == "feeder":                   # the UI's pattern (kiosk/shelf/ui/app.py): WatchdogFeeder on the Kivy Clock
    feeder = WatchdogFeeder()
    feeder.schedule(Clock)
    count = lambda: feeder.pings
else:                                  # the plain pattern: sdnotify.watchdog on a Clock interval
    def ping(dt):
        pings[0] += 1
        sdnotify.watchdog()
    Clock.schedule_interval(ping, max(0.5, sdnotify.watchdog_interval()))
    count = lambda: pings[0]

def maybe_hang(dt):
    if 0 <= hang_after <= count():
        sdnotify.status("hanging")
        threading.Event().wait()       # blocks the UI loop for good

Clock.schedule_interval(maybe_hang, 0.02)
sdnotify.ready("up")
while True:
    Clock.tick()
"""

# systemd's WatchdogSec for the child: short for the feeder; the UI's pattern pings at most every
# 0.5 s (half of WatchdogSec, at least 0.5 s), so it gets 1 s.
WATCHDOG_SEC = {"feeder": 0.4, "ui": 1.0}


class FakeSystemd:
    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[str] = []

    def read_until(self, predicate, limit: float) -> bool:
        """Collect messages until predicate(messages) holds or `limit` seconds pass."""
        end = time.monotonic() + limit
        while not predicate(self.messages):
            left = end - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                return False
        return True

    def collect_for(self, seconds: float) -> list[str]:
        got: list[str] = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                break
        self.messages.extend(got)
        return got

    def close(self):
        self.sock.close()


def _pings(messages):
    return sum(1 for m in messages if "WATCHDOG=1" in m.split("\n"))


@pytest.fixture
def systemd(tmp_path):
    fake = FakeSystemd(tmp_path / "notify")
    yield fake
    fake.close()


def _start(systemd: FakeSystemd, hang_after: int, mode: str) -> subprocess.Popen:
    env = dict(os.environ, NOTIFY_SOCKET=str(systemd.path),
               WATCHDOG_USEC=str(int(WATCHDOG_SEC[mode] * 1_000_000)),
               PYTHONPATH=str(ROOT), KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1",
               KIVY_NO_FILELOG="1", KIVY_HOME=str(systemd.path.parent / "kivy"))
    return subprocess.Popen([sys.executable, "-c", CHILD, str(hang_after), mode], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()  # what systemd does after WatchdogSec without a ping (SIGABRT, then SIGKILL)
    proc.wait(timeout=10)


@pytest.mark.parametrize("mode", ["feeder", "ui"])
def test_hung_ui_loop_stops_watchdog_pings(systemd, mode):
    proc = _start(systemd, hang_after=3, mode=mode)
    try:
        assert systemd.read_until(lambda m: any("READY=1" in x for x in m), 60), proc.stderr
        assert systemd.read_until(lambda m: any("STATUS=hanging" in x for x in m), 60)
        before = systemd.messages[: next(i for i, m in enumerate(systemd.messages)
                                         if "STATUS=hanging" in m)]
        assert _pings(before) >= 3
        # Three whole WatchdogSec periods after the hang: not one ping. systemd would have
        # declared a watchdog timeout and restarted the kiosk.
        after = systemd.collect_for(3 * WATCHDOG_SEC[mode])
        assert _pings(after) == 0, after
        assert proc.poll() is None  # the process is alive but hung: only the watchdog catches it
    finally:
        _stop(proc)


@pytest.mark.parametrize("mode", ["feeder", "ui"])
def test_healthy_ui_loop_keeps_pinging(systemd, mode):
    # The control: the same loop without the hang keeps pinging over the same window.
    proc = _start(systemd, hang_after=-1, mode=mode)
    try:
        assert systemd.read_until(lambda m: _pings(m) >= 3, 60), proc.stderr
        after = systemd.collect_for(3 * WATCHDOG_SEC[mode])
        assert _pings(after) >= 2, after
        assert not any("STATUS=hanging" in m for m in systemd.messages)
    finally:
        _stop(proc)


# -- the feeder's pacing and health hook, with an injected clock --------------------------------

class Ticker:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_feeder_paces_pings():
    sent, now = [], Ticker()
    f = WatchdogFeeder(interval=5, notify=lambda: sent.append(1) or True, monotonic=now)
    assert f.tick() is True            # first tick pings at once
    now.t += 4.9
    assert f.tick(0.016) is False      # Kivy passes dt; too soon
    now.t += 0.1
    assert f.tick() is True
    assert len(sent) == 2 and f.pings == 2


def test_unhealthy_kiosk_withholds_pings():
    sent, now, ok = [], Ticker(), [True]
    f = WatchdogFeeder(interval=1, healthy=lambda: ok[0], notify=lambda: sent.append(1) or True,
                       monotonic=now)
    assert f.tick()
    ok[0] = False
    now.t += 2
    assert not f.tick()
    f.healthy = lambda: 1 / 0          # a crashing health check counts as unhealthy
    now.t += 2
    assert not f.tick()
    assert len(sent) == 1


def test_no_watchdog_without_systemd(monkeypatch):
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    f = WatchdogFeeder()
    assert not f.enabled and f.tick() is False and f.schedule(object()) is None
    assert sdnotify.watchdog() is False


def test_interval_from_systemd(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")  # WatchdogSec=30
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    f = WatchdogFeeder()
    assert f.interval == 7.5 and f.period() == 1.0
    monkeypatch.setenv("WATCHDOG_PID", "1")           # meant for another process
    assert WatchdogFeeder().enabled is False


def test_schedule_uses_a_callback_kivy_keeps():
    from kivy.clock import Clock

    sent, now = [], Ticker()
    f = WatchdogFeeder(interval=1, notify=lambda: sent.append(1) or True, monotonic=now)
    ev = f.schedule(Clock)
    try:
        assert f.on_clock(0.1) is None       # never False, or Kivy would drop the schedule
        assert f.period() == 0.25
    finally:
        ev.cancel()


def test_bench_runs_and_prints_both_figures(capsys):
    from kiosk_dev import watchdog_bench

    watchdog_bench.run(None, n=200)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "baseline" in out[0] and "paced" in out[1]
