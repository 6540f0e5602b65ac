"""Several central consumers on one database, in the suite (slow).

Four `kiosk central` processes, each with its own broker user and so its own client id
(provisioning/mosquitto: use_username_as_clientid, users central, central-2 .. central-4), share
the kiosks' events through the MQTT v5 shared subscription (`central.shared_group`) into one
PostgreSQL database, while five kiosks (`kiosk sync` publishers, their days made by `kiosk
simulate` processes) produce. Consumers are SIGKILLed at random moments (sometimes two at once)
and started again. Nobody repairs anything. At the end every journal event is stored exactly
once, the retained ack each kiosk reads on the broker covers its every seq, and the follow-up
rows equal each kiosk's own. The same with two consumers on one SQLite file.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from kiosk.central.db import open_database
from kiosk.wire.journal import Journal
from kiosk_dev.localbroker import LocalBroker
from .mqtt_broker import env, kiosk_cmd, kiosk_config, needs_mosquitto
from .test_sync_campaign import Proc, day_producer, wait_confirmed

pytestmark = [needs_mosquitto, pytest.mark.slow]

KIOSKS = tuple(f"kiosk-{n}" for n in range(1, 6))
CENTRALS = ("central", "central-2", "central-3", "central-4")
USERS = {**{c: f"{c}-secret" for c in CENTRALS}, **{f"demo/{k}": f"{k}-secret" for k in KIOSKS}}
DAYS = 3  # routine days per kiosk, one simulate process per day
GROUP = "returpost"


def retained_ack(port: int, kiosk: str, timeout: float = 10.0) -> dict | None:
    """The ack the broker keeps for a kiosk, read as that kiosk (its user may read only its own)."""
    got: dict = {}
    done = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"demo/{kiosk}", protocol=mqtt.MQTTv5)
    c.username_pw_set(f"demo/{kiosk}", USERS[f"demo/{kiosk}"])

    def on_connect(client, u, flags, rc, props):
        client.subscribe(f"returpost/v1/demo/{kiosk}/ack", qos=1)

    def on_message(client, u, msg):
        got["doc"] = json.loads(msg.payload)
        done.set()

    c.on_connect, c.on_message = on_connect, on_message
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        done.wait(timeout)
    finally:
        c.loop_stop()
        c.disconnect()
    return got.get("doc")


def central_events(target: str) -> dict[str, list[str]]:
    db = open_database(target)
    try:
        out: dict[str, list[str]] = {k: [] for k in KIOSKS}
        for kiosk, eid in db.query("select kiosk, id from events order by kiosk, journal, seq"):
            out.setdefault(kiosk, []).append(eid)
        return out
    finally:
        db.close()


def central_numbers(target: str) -> tuple[dict[str, int], int]:
    db = open_database(target)
    try:
        meta = {k: int(v) for k, v in db.query("select key, value from central_meta")}
        return meta, db.query_one("select count(*) from dead_letters")[0]
    finally:
        db.close()


@pytest.fixture(params=[("postgresql", 4), ("sqlite", 2)], ids=["postgresql-4", "sqlite-2"])
def shared_db(request, tmp_path):
    engine, consumers = request.param
    if engine == "sqlite":
        yield str(tmp_path / "central.db"), consumers
        return
    from kiosk_dev.pgtest import temp_database

    with temp_database("kiosk_consumers") as url:
        yield url, consumers


def test_consumers_sigkilled_at_random_every_event_once_acks_complete(tmp_path, shared_db):
    target, n_consumers = shared_db
    rnd = random.Random(20261201 + n_consumers)
    broker = LocalBroker(tmp_path / "broker", provisioning=True, users=USERS)
    broker.start()
    log = open(tmp_path / "children.log", "ab")
    consumers = []
    for user in CENTRALS[:n_consumers]:
        cfg = kiosk_config(tmp_path / f"{user}.toml", broker.port, mqtt="ack_timeout = 2.0\n",
                           tail=f'[central]\nusername = "{user}"\npassword = "{USERS[user]}"\n'
                                f'client_id = "{user}"\nshared_group = "{GROUP}"\n')
        consumers.append(Proc(kiosk_cmd("--config", str(cfg), "central", "--db", target), log))
    cfgs, dbs, pubs = {}, {}, {}
    for k in KIOSKS:
        cfgs[k] = kiosk_config(tmp_path / f"{k}.toml", broker.port, kiosk=k,
                               mqtt=f'username = "demo/{k}"\npassword = "{USERS["demo/" + k]}"\n'
                                    "ack_timeout = 2.0\nstatus_interval = 1.0\n")
        dbs[k] = tmp_path / f"{k}.db"
        Journal(dbs[k], "demo", k).close()
        pubs[k] = Proc(kiosk_cmd("--config", str(cfgs[k]), "sync", "--db", str(dbs[k])), log)
    producing: dict = {"errors": []}
    produce = day_producer(tmp_path, cfgs, dbs, DAYS, producing["errors"], rnd, pause=(0.2, 1.0), timeout=180)

    t0 = time.monotonic()
    kills = 0
    double_kills = 0
    done = False
    try:
        # The first consumer makes the schema alone; the others start once it is there (they
        # would wait for each other's migrations anyway).
        consumers[0].start()
        time.sleep(2.0)
        for c in consumers[1:]:
            c.start()
        for p in pubs.values():
            p.start()
        producers = [threading.Thread(target=produce, args=(k,)) for k in KIOSKS]
        for t in producers:
            t.start()
        time.sleep(2.0)
        while any(t.is_alive() for t in producers) or kills < 8:
            time.sleep(rnd.uniform(0.3, 1.5))
            victims = rnd.sample(consumers, 2 if n_consumers > 2 and rnd.random() < 0.25 else 1)
            double_kills += len(victims) == 2
            for v in victims:
                v.kill()
                kills += 1
            time.sleep(rnd.uniform(0.05, 1.0))
            for v in victims:
                v.start()
            if time.monotonic() - t0 > 400:
                break
        for t in producers:
            t.join(300)
        assert not producing["errors"], producing["errors"]
        t_faults_over = time.monotonic()
        # (a loaded machine: consumers take a while to start)
        states = wait_confirmed(dbs, KIOSKS, t_faults_over + 240)
        t_confirmed = time.monotonic()
        done = True
    finally:
        for p in pubs.values():
            p.stop()
        for c in consumers:
            c.stop()
        log.close()
        if not done:
            broker.kill()
    try:
        acks = {k: retained_ack(broker.port, k) for k in KIOSKS}
    finally:
        broker.kill()
    stored = central_events(target)
    total = 0
    for k, (last, conf, ids) in states.items():
        assert conf == last, f"{k}: central confirmed {conf} of {last}; see {tmp_path / 'children.log'}"
        got = stored.get(k, [])
        assert len(got) == len(set(got)) == len(ids) and set(got) == set(ids), k
        jid = Journal.open_existing(dbs[k])
        try:
            entry = (acks[k] or {}).get("journals", {}).get(jid.journal_id)
            assert entry is not None and entry["upto"] == jid.last_seq == last and entry["start"] == 1, (k, acks[k])
            assert entry["id"] == ids[-1]
        finally:
            jid.close()
        total += len(ids)
    meta, dead = central_numbers(target)
    assert dead == 0 and meta.get("received_stored") == total
    central_rows = json.loads(subprocess.run(kiosk_cmd("report", "--central", target), env=env(),
                                             capture_output=True, text=True, timeout=60).stdout)
    for k in KIOSKS:
        mine = json.loads(subprocess.run(kiosk_cmd("--config", str(cfgs[k]), "report", "--db", str(dbs[k])),
                                         env=env(), capture_output=True, text=True, timeout=60).stdout)
        assert [r for r in central_rows if r["kiosk"] == k] == mine and len(mine) == DAYS
    engine = "PostgreSQL" if target.startswith("postgresql") else "SQLite"
    print(f"\ncentral consumers: {n_consumers} on one {engine} database, {len(KIOSKS)} kiosks, {total} journal "
          f"events; consumers SIGKILLed {kills}x ({double_kills}x two at once), each restarted")
    print(f"central consumers: received {meta.get('received_stored', 0)} stored + "
          f"{meta.get('received_duplicate', 0)} duplicates; stored exactly once: {total}; retained acks "
          f"cover every seq; time to full confirmation after the faults: {t_confirmed - t_faults_over:.1f} s "
          f"(whole run {t_confirmed - t0:.1f} s)")


def test_a_consumer_gone_for_good_holds_its_share_until_its_session_expires(tmp_path):
    """A consumer that never comes back (its host lost) keeps a persistent session in the shared
    group, and the broker keeps giving it a share of what the kiosks send, resends included: with
    the default week-long `central.session_expiry` a kiosk stays unconfirmed (mostly: printed).
    With a short one the session ends, the survivor gets everything, and the kiosk is confirmed
    by its next resend (asserted)."""
    from .mqtt_broker import bulk_events

    users = {**{c: USERS[c] for c in CENTRALS}, "demo/kiosk-1": USERS["demo/kiosk-1"]}
    broker = LocalBroker(tmp_path / "broker", provisioning=True, users=users, verbose=True)
    broker.start()
    log = open(tmp_path / "children.log", "ab")
    results = {}
    procs: list[Proc] = []
    try:
        for expiry, pair in ((604800, ("central", "central-2")), (3, ("central-3", "central-4"))):
            work = tmp_path / f"expiry-{expiry}"
            work.mkdir()
            group = f"g{expiry}"
            for p in procs:
                p.stop()
            procs = []
            for user in pair:  # users of their own: no session of the other round is resumed
                cfg = kiosk_config(work / f"{user}.toml", broker.port,
                                   tail=f'[central]\nusername = "{user}"\npassword = "{users[user]}"\n'
                                        f'shared_group = "{group}"\nsession_expiry = {expiry}\n')
                procs.append(Proc(kiosk_cmd("--config", str(cfg), "central", "--db", str(work / "central.db")), log))
            for p in procs:
                p.start()
            deadline = time.monotonic() + 60
            while broker.log_text().count(f"$share/{group}/returpost/v1/+/+/events") < 2:
                assert time.monotonic() < deadline, "the consumers did not subscribe"
                time.sleep(0.1)
            journal = work / "kiosk-1.db"
            j = Journal(journal, "demo", "kiosk-1")
            bulk_events(j, 60)
            j.close()
            kcfg = kiosk_config(work / "kiosk.toml", broker.port, mqtt=f'username = "demo/kiosk-1"\n'
                                f'password = "{users["demo/kiosk-1"]}"\nack_timeout = 1.0\n')
            first = subprocess.run(kiosk_cmd("--config", str(kcfg), "sync", "--once", "--db", str(journal),
                                             "--timeout", "30"), env=env(), capture_output=True, text=True, timeout=90)
            assert first.returncode == 0, first.stdout[-500:]  # both consumers are up and subscribed
            procs[1].kill()  # the second consumer is gone for good
            j = Journal.open_existing(journal)
            bulk_events(j, 60, day=dt.date(2026, 12, 2))
            j.close()
            t0 = time.monotonic()
            later = subprocess.run(kiosk_cmd("--config", str(kcfg), "sync", "--once", "--db", str(journal),
                                             "--timeout", "12"), env=env(), capture_output=True, text=True, timeout=90)
            results[expiry] = (later.returncode, time.monotonic() - t0)
    finally:
        for p in procs:
            p.stop()
        broker.kill()
        log.close()
    # With the week the kiosk mostly stays unconfirmed (exit 4: the dead session holds a share),
    # but mosquitto does not always route to it (1 run in 4 here was confirmed): only printed.
    assert results[3][0] == 0, results
    week = "not confirmed within 12 s" if results[604800][0] == 4 else f"confirmed in {results[604800][1]:.1f} s"
    print(f"\nconsumer gone for good: session_expiry 604800 s: kiosk {week}; "
          f"session_expiry 3 s: confirmed in {results[3][1]:.1f} s")
