"""Shared pieces of the second-broker tests (tests/test_broker2*.py): a private nats-server with
the provisioning material, kiosk and central configs for it, and the public CLI surfaces
(`kiosk simulate`, `kiosk sync`, `kiosk central`, `kiosk report`) run as processes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk_dev.natsbroker import NATS_SERVER, LocalNats

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "kiosk" / "shelf" / "examples" / "example-day.jsonl"
USERS = {"central": "central-secret", "demo/kiosk-1": "k1-secret", "demo/kiosk-2": "k2-secret"}

needs_nats = pytest.mark.skipif(not os.path.exists(NATS_SERVER), reason="nats-server is not installed")


@pytest.fixture
def nats(tmp_path):
    """nats-server from provisioning/nats/ on free ports: USERS, their permissions, TLS."""
    b = LocalNats(tmp_path / "nats", users=USERS, tls=True)
    b.start()
    try:
        yield b
    finally:
        b.kill()


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def kiosk_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "kiosk", *args]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(kiosk_cmd(*args), env=env(), capture_output=True, text=True, timeout=timeout)


def config(path: Path, broker, user: str, *, site: str = "demo", kiosk: str = "kiosk-1",
           central: bool = False, mqtt: str = "") -> Path:
    """A kiosk's (or, with `central`, central's) config for `broker`: MQTT 3.1.1, TLS with the
    broker's test CA when it has one, the user's credentials, fast reconnects."""
    tls = f'tls = true\nca_file = "{broker.ca_file}"\n' if broker.tls else ""
    creds = f'username = "{user}"\npassword = "{USERS[user]}"\n'
    text = (f'[kiosk]\nsite = "{site}"\nid = "{kiosk}"\n'
            f'[mqtt]\nport = {broker.port}\nprotocol = "v311"\n{tls}'
            "backoff_min = 0.05\nbackoff_max = 0.5\nconnect_timeout = 3.0\n"
            + ("" if central else creds) + mqtt
            + (f"[central]\n{creds}" if central else ""))
    path.write_text(text, encoding="utf-8")
    return path


def example_script(path: Path, days: int = 1, first_day: int = 23) -> Path:
    """The bundled example day (2026-11-23) repeated on consecutive days from 2026-11-<first_day>."""
    import datetime as dt

    base = [json.loads(x) for x in EXAMPLE.read_text(encoding="utf-8").splitlines() if x.strip()]
    out = []
    for n in range(days):
        shift = dt.timedelta(days=first_day - 23 + n)
        for cmd in base:
            out.append(json.dumps({**cmd, "at": (dt.datetime.fromisoformat(cmd["at"]) + shift).isoformat()}))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def simulate(cfg: Path, script: Path, db: Path) -> None:
    done = run_cli("--config", str(cfg), "simulate", str(script), "--db", str(db),
                   "--out", str(db.parent / f"sim-{db.stem}"))
    assert done.returncode == 0, done.stderr


class CentralProcess:
    """`kiosk central` as its own process (SIGTERM to stop, SIGKILL to crash)."""

    def __init__(self, cfg: Path, db: Path, log: Path):
        self.cfg, self.db, self.log_path = cfg, db, log
        self.proc: subprocess.Popen | None = None

    def start(self, broker=None, client_id: str = "returpost-central") -> "CentralProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(kiosk_cmd("--config", str(self.cfg), "central", "--db", str(self.db)),
                                     env=env(), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        if broker is not None:  # its QoS 1 subscriptions exist at the broker: nothing is missed
            wait_until(lambda: "returpost.v1.*.*.events" in broker.subscriptions(client_id)
                       or self.proc.poll() is not None, what="central to subscribe")
            assert self.proc.poll() is None, self.log()
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.05, what: str = "condition",
               explain=None):
    """`predicate()` once it is true; on timeout the test fails, with `explain()`'s text (what
    the processes and the broker said) when given."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}" + (f"\n{explain()}" if explain else ""))
        time.sleep(interval)


def broker_state(nats, logs: dict[str, Path], client_ids=("returpost-central",)) -> str:
    """For a failure message: each client's NATS subscriptions and the tail of each log (the
    test's temporary directory is gone after a few runs)."""
    out = []
    for cid in client_ids:
        try:
            out.append(f"NATS subscriptions of {cid}: {sorted(nats.subscriptions(cid))}")
        except OSError as exc:
            out.append(f"NATS subscriptions of {cid}: monitoring unavailable ({exc})")
    for name, path in {**logs, "nats-server": nats.log_path}.items():
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else "(no log)"
        out.append(f"--- {name} (last 40 lines)\n" + "\n".join(text.splitlines()[-40:]))
    return "\n".join(out)


def read_rows(db: Path, sql: str, args=()) -> list[tuple]:
    """Rows from a SQLite file read-only ([] while it does not exist or has no such table)."""
    db = Path(db)
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return []
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def journal_ids(db: Path) -> list[str]:
    return [r[0] for r in read_rows(db, "select id from events order by seq")]


def central_ids(db: Path, site: str = "demo", kiosk: str = "kiosk-1") -> list[str]:
    return [r[0] for r in read_rows(db, "select id from events where site = ? and kiosk = ? order by seq",
                                    (site, kiosk))]


def report(*args: str, cfg: Path | None = None) -> tuple[str, str]:
    done = run_cli(*(("--config", str(cfg)) if cfg else ()), "report", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr
