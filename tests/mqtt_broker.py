"""Reusable pytest fixtures and helpers for tests against a real mosquitto.

    from mqtt_broker import broker, prov_broker, wait_until, kiosk_config  # noqa: F401

- `broker`: a plain, anonymous mosquitto on a free loopback port (persistence on, so
  `broker.stop(); broker.start()` is a real restart on the same port).
- `prov_broker`: the deployable config from provisioning/mosquitto/ (ACL, password file made by
  make-passwd, TLS listener with a throwaway CA) rendered onto free ports; users in `USERS`.
Both are stopped at the end of the test, whatever happened.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
import time
from pathlib import Path

import pytest

from kiosk.core import config as kconfig
from kiosk.core.clock import TZ
from kiosk_dev.localbroker import MOSQUITTO, LocalBroker

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "kiosk" / "shelf" / "examples" / "example-day.jsonl"
EXAMPLE_EVENTS = 77  # events the bundled example day journals (tests/test_simulate.py keeps this true)
USERS = {"central": "central-secret", "demo/kiosk-1": "k1-secret", "demo/kiosk-2": "k2-secret"}

needs_mosquitto = pytest.mark.skipif(not os.path.exists(MOSQUITTO), reason="mosquitto is not installed")


@pytest.fixture
def broker(tmp_path):
    b = LocalBroker(tmp_path / "broker")
    b.start()
    try:
        yield b
    finally:
        b.kill()


@pytest.fixture
def prov_broker(tmp_path):
    b = LocalBroker(tmp_path / "prov-broker", provisioning=True, users=USERS, tls=True)
    b.start()
    try:
        yield b
    finally:
        b.kill()


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.02, what: str = "condition"):
    """Poll until predicate() is truthy; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def kiosk_config(path: Path, port: int, *, kiosk: str = "kiosk-1", site: str = "demo",
                 mqtt: str = "", tail: str = "") -> Path:
    """Write a kiosk config for this broker with fast reconnects; returns its path.
    `mqtt`: more lines inside [mqtt]; `tail`: whole tables after it."""
    text = (f'[kiosk]\nsite = "{site}"\nid = "{kiosk}"\n'
            f"[mqtt]\nport = {port}\nbackoff_min = 0.05\nbackoff_max = 0.5\nconnect_timeout = 3.0\n"
            + mqtt + "\n" + tail)
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path):
    return kconfig.load(path)


def example_lines(days: int = 1, start: dt.date = dt.date(2026, 11, 23)) -> list[str]:
    """The bundled example day, repeated on consecutive days (only the command times move)."""
    base = [json.loads(line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = []
    for n in range(days):
        shift = dt.timedelta(days=(start - dt.date(2026, 11, 23)).days + n)
        for cmd in base:
            at = dt.datetime.fromisoformat(cmd["at"]) + shift
            out.append(json.dumps({**cmd, "at": at.isoformat()}))
    return out


def bulk_events(journal, n: int, day: dt.date = dt.date(2026, 12, 1), batch: int = 500) -> None:
    """Append n events fast (batched commits): sign-in and sorts on one day."""
    now = dt.datetime.combine(day, dt.time(9, 0), tzinfo=TZ)
    piles = ("dodsbo", "sekretess", "faktura", "ovriga_streckkod", "leta_kund", "ovriga_brev")
    journal.append([("signed_in", {"operator": "ANNA"})], now, day, "ANNA")
    left = n - 1
    i = 0
    while left > 0:
        k = min(batch, left)
        journal.append([("sorted", {"pile": piles[(i + j) % len(piles)]}) for j in range(k)], now, day, "ANNA")
        i += k
        left -= k


def kiosk_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "kiosk", *args]


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


@functools.lru_cache(maxsize=None)
def day_n() -> int:
    """How many events the bundled example day makes (the routine decides; tests follow it)."""
    import tempfile

    from kiosk.shelf import simulate
    from kiosk.wire.journal import Journal

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "j.db"
        config = kconfig.load(None)
        simulate.run(example_lines(1), config, db, Path(tmp) / "sim")
        j = Journal(db, config.kiosk.site, config.kiosk.id)
        try:
            return j.last_seq
        finally:
            j.close()
