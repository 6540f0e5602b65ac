"""The fault campaign, in the suite (slow): three kiosks (one over TLS) make real
routine days while the provisioning broker is SIGKILLed at random points three times (once
restored from an old persistence file) and stopped a while, and the publishers (`kiosk sync`)
and central (`kiosk central`) are SIGKILLed and restarted. Nobody runs a repair command. At the
end every journal event is at central exactly once, central's acks cover every seq, and the
follow-up rows equal each kiosk's own."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import sqlite3
import subprocess
import threading
import time

import pytest

from kiosk.central.store import CentralStore
from kiosk.wire.journal import Journal
from kiosk_dev.localbroker import LocalBroker
from .mqtt_broker import env, example_lines, kiosk_cmd, kiosk_config, needs_mosquitto

pytestmark = [needs_mosquitto, pytest.mark.slow]

KIOSKS = ("kiosk-1", "kiosk-2", "kiosk-3")
USERS = {"central": "c-secret", **{f"demo/{k}": f"{k}-secret" for k in KIOSKS}}
DAYS = 8  # routine days per kiosk, one simulate process per day


def journal_state(db) -> tuple[int, int, list[str]]:
    """(last_seq, confirmed_seq, ids) read-only, while others write."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return 0, 0, []
    try:
        meta = dict(conn.execute("select key, value from meta"))
        ids = [r[0] for r in conn.execute("select id from events order by seq")]
        last = max(len(ids) and conn.execute("select max(seq) from events").fetchone()[0], int(meta.get("last_seq", 0)))
        return last, int(meta.get("confirmed_seq", 0)), ids
    except sqlite3.Error:
        return 0, 0, []
    finally:
        conn.close()


class Proc:
    """A restartable child process (`kiosk sync` or `kiosk central`), SIGKILLed on demand."""

    def __init__(self, args, log):
        self.args, self.log, self.p = args, log, None
        self.kills = 0

    def start(self):
        self.p = subprocess.Popen(self.args, env=env(), stdout=self.log, stderr=self.log)

    def kill(self):
        if self.p and self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)
            self.kills += 1

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)


def wait_confirmed(dbs, kiosks, deadline: float) -> dict:
    """Each kiosk journal's state once central has confirmed every event of all of them (or at
    `deadline`, a time.monotonic(), whatever they are then)."""
    while time.monotonic() < deadline:
        states = {k: journal_state(dbs[k]) for k in kiosks}
        if all(last > 0 and conf == last for last, conf, _ in states.values()):
            break
        time.sleep(0.5)
    return {k: journal_state(dbs[k]) for k in kiosks}


def day_producer(tmp_path, cfgs, dbs, days, errors, rnd, pause, timeout):
    """`produce(k)`: kiosk k's own example days, one `kiosk simulate` process each (the journal
    is the kiosk's), a random pause between days; failures are appended to `errors`."""

    def produce(k):
        try:
            for d in range(days):
                script = tmp_path / f"{k}-day{d}.jsonl"
                script.write_text("\n".join(example_lines(1, start=dt.date(2026, 11, 23) + dt.timedelta(days=d)))
                                  + "\n", encoding="utf-8")
                done = subprocess.run(kiosk_cmd("--config", str(cfgs[k]), "simulate", str(script), "--db",
                                                str(dbs[k]), "--out", str(tmp_path / f"sim-{k}")),
                                      env=env(), capture_output=True, text=True, timeout=timeout)
                if done.returncode != 0:
                    errors.append(done.stderr[-500:])
                time.sleep(rnd.uniform(*pause))
        except Exception as exc:  # reported by the caller
            errors.append(repr(exc))

    return produce


def test_fault_campaign_every_event_once_with_no_repair(tmp_path):
    rnd = random.Random(20261201)
    broker = LocalBroker(tmp_path / "broker", provisioning=True, users=USERS, tls=True)
    broker.start()
    log = open(tmp_path / "children.log", "ab")
    central_db = tmp_path / "central.db"
    central_cfg = kiosk_config(tmp_path / "central.toml", broker.port,
                               mqtt="ack_timeout = 2.0\n",
                               tail=f'[central]\nusername = "central"\npassword = "{USERS["central"]}"\n')
    central = Proc(kiosk_cmd("--config", str(central_cfg), "central", "--db", str(central_db)), log)
    cfgs, dbs, pubs = {}, {}, {}
    for n, k in enumerate(KIOSKS):
        tls = f'tls = true\nca_file = "{broker.ca_file}"\n' if n == 0 else ""
        port = broker.tls_port if n == 0 else broker.port
        cfgs[k] = kiosk_config(tmp_path / f"{k}.toml", port, kiosk=k,
                               mqtt=f'username = "demo/{k}"\npassword = "{USERS["demo/" + k]}"\n'
                                    f"ack_timeout = 2.0\nstatus_interval = 1.0\n{tls}")
        dbs[k] = tmp_path / f"{k}.db"
        Journal(dbs[k], "demo", k).close()  # made before two processes open it (schema race: item 8)
        pubs[k] = Proc(kiosk_cmd("--config", str(cfgs[k]), "sync", "--db", str(dbs[k])), log)
    producing: dict = {"errors": []}
    produce = day_producer(tmp_path, cfgs, dbs, DAYS, producing["errors"], rnd, pause=(0.5, 2.0), timeout=120)

    t0 = time.monotonic()
    central.start()
    for p in pubs.values():
        p.start()
    producers = [threading.Thread(target=produce, args=(k,)) for k in KIOSKS]
    for t in producers:
        t.start()
    broker_kills = 0
    old_persistence = tmp_path / "mosquitto.db.old"
    try:
        time.sleep(3)
        broker.stop()  # a clean stop: mosquitto saves its persistence file; stays down a while
        shutil.copy(broker.dir / "data" / "mosquitto.db", old_persistence)
        time.sleep(3)
        broker.start()
        faults = ["broker", "broker", "publisher", "central", "broker-restore", "publisher", "central"]
        rnd.shuffle(faults)
        for fault in faults:
            time.sleep(rnd.uniform(1.0, 3.0))
            if fault == "broker":
                broker.kill()
                broker_kills += 1
                time.sleep(rnd.uniform(0.2, 1.5))
                broker.start()
            elif fault == "broker-restore":
                broker.kill()
                broker_kills += 1
                shutil.copy(old_persistence, broker.dir / "data" / "mosquitto.db")
                broker.start()
            elif fault == "publisher":
                p = pubs[rnd.choice(KIOSKS)]
                p.kill()
                time.sleep(rnd.uniform(0.1, 1.0))
                p.start()
            else:
                central.kill()
                time.sleep(rnd.uniform(0.1, 1.5))
                central.start()
        t_last_fault = time.monotonic()
        still_producing = sum(t.is_alive() for t in producers)
        for t in producers:
            t.join(300)
        assert not producing["errors"], producing["errors"]
        t_faults_over = time.monotonic()
        states = wait_confirmed(dbs, KIOSKS, t_faults_over + 120)
        t_confirmed = time.monotonic()
    finally:
        for p in pubs.values():
            p.stop()
        central.stop()
        broker.kill()
        log.close()
    assert broker_kills >= 3
    for k, (last, conf, ids) in states.items():
        assert conf == last, f"{k}: central confirmed {conf} of {last}; see {tmp_path / 'children.log'}"

    store = CentralStore(central_db)
    try:
        counters = store.counters()
        total = 0
        for k, (last, _, ids) in states.items():
            got = [r[0] for r in store.conn.execute("select id from events where kiosk = ?", [k])]
            assert len(got) == len(set(got)) == len(ids) and set(got) == set(ids), k
            j = Journal.open_existing(dbs[k])
            ack = store.ack("demo", k)["journals"][j.journal_id]
            assert ack["upto"] == j.last_seq == last and ack["start"] == 1
            j.close()
            total += len(ids)
        assert store.gaps() == [] and store.count("dead_letters") == 0
    finally:
        store.close()
    central_rows = json.loads(subprocess.run(kiosk_cmd("report", "--central", str(central_db)), env=env(),
                                             capture_output=True, text=True, timeout=60).stdout)
    for k in KIOSKS:
        mine = json.loads(subprocess.run(kiosk_cmd("--config", str(cfgs[k]), "report", "--db", str(dbs[k])),
                                         env=env(), capture_output=True, text=True, timeout=60).stdout)
        assert [r for r in central_rows if r["kiosk"] == k] == mine and len(mine) == DAYS
    print(f"\nfault campaign: {len(KIOSKS)} kiosks (1 over TLS), {total} journal events; "
          f"broker SIGKILLed {broker_kills}x (1x restored from old persistence) + 1 clean stop of 3 s; "
          f"publishers SIGKILLed {sum(p.kills for p in pubs.values())}x, central {central.kills}x")
    print(f"fault campaign: received at central {counters.get('received_stored', 0)} stored + "
          f"{counters.get('received_duplicate', 0)} duplicates; stored exactly once: {total}; "
          f"time to full confirmation after the faults: {t_confirmed - t_faults_over:.1f} s "
          f"(whole run {t_confirmed - t0:.1f} s; {still_producing} of {len(KIOSKS)} kiosks still "
          f"producing when the last fault ended, {t_faults_over - t_last_fault:.1f} s before the last event)")
