"""Central's delivery outbox against real local servers the tests start: an SMTP server
(aiosmtpd), an HTTP server for the webhook and the billing POST, folders for the CSV and XLSX;
faults with simulated time (down an hour, 500, timeout), a SIGKILL between send and mark, and a
slow target that must not hold up central's ingest."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk.central.db import open_database
from kiosk.central.delivery import outbox, state, worker
from kiosk.central.delivery.config import load, parse, read
from kiosk.core.clock import TZ
from kiosk.core.config import ConfigError

from .delivery_servers import Hook, Kiosk, Smtp, store_class, without_delivery

REPO = Path(__file__).resolve().parents[1]
T0 = dt.datetime(2026, 11, 24, 10, 42, tzinfo=TZ)  # a Tuesday
BESTRIDAN = "Bestridan av faktura inkommen (Inscannat brev: Bestridan)."


def write_config(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "central.toml"
    base = ('[web]\nbase_url = "https://returpost.example.lan"\n'
            '[delivery]\nbackoff_min_s = 60.0\nbackoff_max_s = 600.0\ntimeout_s = 2.0\ninterval_s = 0.05\n'
            '[clock_alerts]\nenabled = false\n')
    p.write_text(base + text, encoding="utf-8")
    return p


class Central:
    """Central's store and delivery config on `db` (a SQLite path or a PostgreSQL URL)."""

    def __init__(self, db: str, tmp_path: Path, text: str):
        self.db = db
        self.store = store_class()(self.db)
        with open_database(self.db) as database:
            outbox.ensure_schema(database)  # delivery is on from the start (history before it is not sent)
        self.config_path = write_config(tmp_path, text)
        self.cfg = read(load(self.config_path))
        self.kiosk = Kiosk(self.store)

    def bestridan(self, at: dt.datetime = T0) -> str:
        ev = self.kiosk.event(at, "alert_raised", {"kind": "bestridan", "text": BESTRIDAN})
        self.kiosk.send(ev)
        return ev["id"]

    def run(self, now: dt.datetime) -> dict:
        return worker.run_once(self.cfg, self.db, now=now.astimezone(dt.timezone.utc))

    def rows(self) -> list[dict]:
        with open_database(self.db) as database:
            return database.dicts("select * from delivery_outbox order by n")

    def close(self):
        self.store.close()


@pytest.fixture
def hook():
    h = Hook().start()
    yield h
    h.stop()


def json_target(hook: Hook, kinds='["bestridan", "tillfalliga", "deadline_missed"]', path="/hook") -> str:
    return f'[[notify.targets]]\nurl = "json://127.0.0.1:{hook.port}{path}"\nkinds = {kinds}\n'


def test_email_notification_reaches_the_smtp_server_in_swedish(central_db, tmp_path):
    smtp = Smtp().start()
    try:
        c = Central(central_db, tmp_path, f'[[notify.targets]]\nurl = "mailto://127.0.0.1:{smtp.port}?from=returpost@example.se'
                              f'&to=tl@example.se&mode=insecure"\nkinds = ["bestridan"]\n')
        alert = c.bestridan()
        counts = c.run(T0 + dt.timedelta(seconds=2))
        assert counts["delivered"] == 1
        [msg] = smtp.messages
        assert msg["Subject"] == "Bestridan av faktura – kiosk-1, sthlm"
        assert msg["To"] == "tl@example.se"
        body = msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
        assert msg.get_content_type() == "text/plain"
        assert body.startswith(BESTRIDAN + "\n\nKiosk: kiosk-1\nPlats: sthlm\nTid: 2026-11-24 10:42\n\nGör så här: ")
        for part in (BESTRIDAN, "Kiosk: kiosk-1", "Plats: sthlm", "Tid: 2026-11-24 10:42", "Gör så här:",
                     f"https://returpost.example.lan/larm#larm-{alert}"):
            assert part in body, part
        key = c.rows()[0]["key"]
        assert msg["X-Idempotency-Key"] == key
        [st] = state.alert_notifications(c.db, alert)
        assert st["state"] == "delivered" and st["attempts"] == 1 and st["delivered_at"]
        assert st["target"] == f"mailto://127.0.0.1:{smtp.port}/…"
        c.close()
    finally:
        smtp.stop()


def test_webhook_billing_post_csv_and_workbook(central_db, tmp_path, hook):
    billing_hook = Hook().start()
    try:
        c = Central(central_db, tmp_path, json_target(hook) + f'[billing]\ndir = "{tmp_path}/billing"\n'
                    f'url = "http://127.0.0.1:{billing_hook.port}/returnerade"\npost_delay_s = 0.0\n'
                    f'[followup]\ndir = "{tmp_path}/teams"\ntime = "23:59"\n')
        k = c.kiosk
        k.send(k.event(T0, "signed_in", {"operator": "ANNA"}),
               k.event(T0, "sorted", {"pile": "faktura"}),
               k.event(T0, "sorted", {"pile": "faktura"}),
               k.event(T0, "scan_phase_started", {}),
               k.event(T0 + dt.timedelta(minutes=1), "scan_accepted", {"code": "73000001", "pile": "faktura"}),
               k.event(T0 + dt.timedelta(minutes=2), "scan_accepted", {"code": "73000002", "pile": "faktura"}))
        alert = c.bestridan(T0 + dt.timedelta(minutes=3))
        c.run(T0 + dt.timedelta(minutes=4))
        # the webhook: Apprise's JSON with the Swedish text and the idempotency key
        [req] = hook.requests
        assert req["json"]["title"] == "Bestridan av faktura – kiosk-1, sthlm"
        assert BESTRIDAN in req["json"]["message"] and "Tid: 2026-11-24 10:45" in req["json"]["message"]
        [notify_row] = [r for r in c.rows() if r["alert_id"] == alert]
        assert req["headers"]["idempotency-key"] == notify_row["key"]
        # the billing POST
        [post] = billing_hook.requests
        assert post["path"] == "/returnerade" and post["headers"]["idempotency-key"]
        doc = post["json"]
        assert (doc["site"], doc["kiosk"], doc["day"], doc["version"], doc["count"]) == ("sthlm", "kiosk-1", "2026-11-24", 1, 2)
        assert [s["barcode"] for s in doc["scans"]] == ["73000001", "73000002"]
        assert doc["scans"][0]["local_time"] == "10:43:00" and doc["scans"][0]["operator"] == "ANNA"
        # the CSV: UTF-8, ;-separated, Swedish headers, local time
        f = tmp_path / "billing" / "returnerade-fakturor_2026-11-24_sthlm_kiosk-1.csv"
        text = f.read_bytes().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text), delimiter=";"))
        assert rows[0] == ["Datum", "Tid", "Streckkod", "Hög", "Plats", "Kiosk", "Signatur", "Sen", "Sedd tidigare"]
        assert rows[1] == ["2026-11-24", "10:43:00", "73000001", "Faktura/påminnelse", "sthlm", "kiosk-1", "ANNA", "", ""]
        assert len(rows) == 3
        # a late undo rewrites the file and sends version 2 with a new key
        k.send(k.event(T0 + dt.timedelta(hours=3), "undone", {"what": "scan", "pile": "faktura", "code": "73000001"}))
        c.run(T0 + dt.timedelta(hours=3, minutes=1))
        rows = list(csv.reader(io.StringIO(f.read_bytes().decode("utf-8-sig")), delimiter=";"))
        assert [r[2] for r in rows[1:]] == ["73000002"]
        assert [r["json"]["version"] for r in billing_hook.requests] == [1, 2]
        assert len(set(billing_hook.keys())) == 2
        assert not list((tmp_path / "billing").glob(".*tmp"))  # atomic: no temporary left behind
        # the day closes: the month's follow-up workbook lands in the folder
        k.send(k.event(T0 + dt.timedelta(hours=4), "day_closed", {}))
        c.run(T0 + dt.timedelta(hours=4, minutes=1))
        from openpyxl import load_workbook
        wb = load_workbook(tmp_path / "teams" / "uppfoljning-2026-11.xlsx")
        ws = wb.worksheets[0]
        header = [c.value for c in ws[1]]
        assert header[:3] == ["Datum", "Plats", "Kiosk"]
        values = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
        mine = [r for r in values if r[1] == "sthlm" and r[2] == "kiosk-1"]
        assert len(mine) == 1
        assert mine[0][header.index("Skannade")] == 1
        assert not [r for r in c.rows() if r["state"] not in ("delivered", "superseded")]
        # nothing is sent twice on later passes
        c.run(T0 + dt.timedelta(hours=5))
        assert len(hook.requests) == 1 and len(billing_hook.requests) == 2
        c.close()
    finally:
        billing_hook.stop()


def test_target_down_for_an_hour_then_back_loses_nothing_and_delivers_each_once(central_db, tmp_path):
    hook = Hook()  # not started: the port is closed
    c = Central(central_db, tmp_path, json_target(hook))
    alerts = [c.bestridan(T0 + dt.timedelta(minutes=i)) for i in range(3)]
    now = T0 + dt.timedelta(minutes=3)
    end = now + dt.timedelta(hours=1)
    passes = 0
    while now < end:
        c.run(now)
        now += dt.timedelta(minutes=1)
        passes += 1
    rows = c.rows()
    # the target's lane tries its oldest row with backoff; the others wait with the lane, untried
    assert len(rows) == 3 and [r["state"] for r in rows] == ["failing", "pending", "pending"]
    assert 2 <= rows[0]["attempts"] < passes and rows[0]["last_error"]  # backoff: not every pass
    assert [r["attempts"] for r in rows[1:]] == [0, 0]
    assert {r["next_attempt_at"] for r in rows} == {rows[0]["next_attempt_at"]}
    st = state.alert_notifications(c.db, alerts[0])[0]
    assert st["state"] == "failing" and st["last_error"]
    summary = state.summary(c.db)
    assert summary["failing"] == 1 and summary["pending"] == 2 and summary["failing_items"]
    hook.start()
    try:
        for _ in range(12):  # the longest backoff is 10 minutes
            c.run(now)
            now += dt.timedelta(minutes=1)
        assert len(hook.requests) == 3
        assert len(set(hook.keys())) == 3
        assert {r["state"] for r in c.rows()} == {"delivered"}
        assert sorted(json.loads(r["body"])["title"] for r in hook.requests) == ["Bestridan av faktura – kiosk-1, sthlm"] * 3
    finally:
        hook.stop()
        c.close()


def test_a_500_and_a_timeout_are_retried_until_the_target_confirms(central_db, tmp_path, hook):
    c = Central(central_db, tmp_path, json_target(hook))
    alert = c.bestridan()
    hook.status = 500
    c.run(T0 + dt.timedelta(seconds=1))
    [st] = state.alert_notifications(c.db, alert)
    assert st["state"] == "failing" and "500" in st["last_error"]
    hook.status, hook.sleep = 200, 4.0  # longer than delivery.timeout_s = 2
    c.run(T0 + dt.timedelta(minutes=2))
    [st] = state.alert_notifications(c.db, alert)
    assert st["state"] == "failing" and st["attempts"] == 2
    hook.sleep = 0.0
    c.run(T0 + dt.timedelta(minutes=4))
    [st] = state.alert_notifications(c.db, alert)
    assert st["state"] == "delivered" and st["attempts"] == 3
    assert len(set(hook.keys())) == 1 and len(hook.requests) == 3  # three tries, one delivery
    c.close()


@pytest.mark.slow
def test_sigkill_between_send_and_mark_the_target_sees_one_delivery(central_db, tmp_path, hook):
    c = Central(central_db, tmp_path, json_target(hook))
    alert = c.bestridan()
    procs: list[subprocess.Popen] = []

    def kill_the_sender(h, req):  # the request has arrived: kill central before it can mark it
        if len(h.requests) == 1:
            os.kill(procs[0].pid, signal.SIGKILL)
            procs[0].wait(30)

    hook.on_request = kill_the_sender
    env = {**os.environ, "KIOSK_CONFIG": str(c.config_path)}
    cmd = [sys.executable, "-m", "kiosk", "central", "deliver", "--once", "--db", c.db]
    procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    assert procs[0].wait(60) == -signal.SIGKILL
    [st] = state.alert_notifications(c.db, alert)
    assert st["state"] == "pending" and st["attempts"] == 0  # sent, never marked
    hook.on_request = None
    # central again: the dead process' claim keeps the row until its lease lapses (so a second
    # central process would not send it meanwhile), then it is sent again
    delivered = 0
    for _ in range(60):
        out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        delivered = json.loads(out.stdout.splitlines()[0])["delivered"]
        if delivered:
            break
        assert len(hook.requests) == 1
        threading.Event().wait(1.0)
    assert delivered == 1
    assert len(hook.requests) == 2
    assert len(set(hook.keys())) == 1  # the same idempotency key: a deduping target sees one
    [st] = state.alert_notifications(c.db, alert)
    assert st["state"] == "delivered"
    c.close()


def test_a_slow_target_does_not_hold_up_ingest(central_db, tmp_path, hook):
    c = Central(central_db, tmp_path, json_target(hook))
    c.bestridan()
    hook.hold = threading.Event()
    stop = threading.Event()
    t = threading.Thread(target=worker.run, args=(c.cfg, c.db, stop), daemon=True)
    t.start()
    try:
        assert hook.received.wait(30), "the worker never reached the target"
        # the worker is inside the send now, the target holds it; central stores meanwhile
        k = c.kiosk
        done = threading.Event()

        def ingest():
            k.send(*[k.event(T0, "sorted", {"pile": "faktura"}) for _ in range(50)])
            done.set()

        threading.Thread(target=ingest, daemon=True).start()
        assert done.wait(30), "ingest waited for the slow target"
        assert not hook.hold.is_set() and len(hook.requests) == 1  # still held while ingest completed
        with open_database(c.db) as database:
            assert database.query_one("select count(*) from events where type = 'sorted'") == (50,)
    finally:
        hook.hold.set()
        stop.set()
        t.join(30)
    assert state.summary(c.db)["delivered"] == 1
    c.close()


def test_secrets_in_urls_never_reach_logs_status_or_cli(central_db, tmp_path, hook, caplog):
    secret = "hemligt-L0senord"
    token = "SIGtoken0123456789"
    c = Central(central_db, tmp_path, f'[[notify.targets]]\nurl = "json://tl:{secret}@127.0.0.1:{hook.port}/hook/{token}"\n'
                          'kinds = ["bestridan"]\n')
    hook.status = 500
    alert = c.bestridan()
    worker.install_log_filter(c.cfg)
    with caplog.at_level(logging.DEBUG):
        c.run(T0 + dt.timedelta(seconds=1))
    assert hook.requests  # it did try, with the credentials
    seen = caplog.text + repr(c.cfg) + repr(load(c.config_path)) + json.dumps(state.alert_notifications(c.db, alert)) + json.dumps(state.summary(c.db)) + \
        "\n".join(state.summary_lines(c.db))
    out = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(c.config_path), "central", "deliver",
                          "--once", "--db", c.db], cwd=REPO, capture_output=True, text=True, timeout=60)
    seen += out.stdout + out.stderr
    assert "failing" in seen and f"127.0.0.1:{hook.port}" in seen
    assert secret not in seen and token not in seen
    c.close()


def test_an_alert_undone_before_delivery_is_not_sent(central_db, tmp_path):
    hook = Hook()  # down
    c = Central(central_db, tmp_path, json_target(hook))
    alert = c.bestridan()
    c.run(T0 + dt.timedelta(seconds=1))
    k = c.kiosk
    k.send(k.event(T0 + dt.timedelta(minutes=1), "alert_cancelled", {"alert": alert, "kind": "bestridan"}))
    hook.start()
    try:
        c.run(T0 + dt.timedelta(minutes=30))
        assert hook.requests == []
        assert state.alert_notifications(c.db, alert)[0]["state"] == "cancelled"
    finally:
        hook.stop()
        c.close()


def test_targets_filter_by_kind_and_site(central_db, tmp_path, hook):
    c = Central(central_db, tmp_path, json_target(hook, kinds='["tillfalliga"]') +
                f'[[notify.targets]]\nurl = "json://127.0.0.1:{hook.port}/other"\nkinds = ["bestridan"]\n'
                'sites = ["goteborg"]\n')
    c.bestridan()
    c.run(T0 + dt.timedelta(seconds=1))
    assert hook.requests == [] and c.rows() == []
    k = c.kiosk
    k.send(k.event(T0, "alert_raised", {"kind": "tillfalliga", "text": "Tillfälligt utskick: priskompensation."}))
    c.run(T0 + dt.timedelta(seconds=2))
    [req] = hook.requests
    assert req["path"] == "/hook" and "besked" in req["json"]["title"]


def test_a_bad_delivery_setting_stops_central_at_start_naming_the_key_and_never_a_kiosk(tmp_path):
    """Central's entry points check the delivery settings; a kiosk's config load does not read them."""
    from kiosk.core import config as kiosk_config

    bad = tmp_path / "config.toml"
    bad.write_text('[[notify.targets]]\nurl = "json://x/y"\nkinds = ["bestrid"]\n', encoding="utf-8")
    assert kiosk_config.load(bad).notify.targets  # the kiosk loads it: not its settings
    env = {**os.environ, "KIOSK_CONFIG": str(bad)}
    for argv in (["central", "deliver", "--once", "--db", str(tmp_path / "c.db")], ["central", "--db", str(tmp_path / "c.db")]):
        proc = subprocess.run([sys.executable, "-m", "kiosk", *argv], capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        assert "notify.targets[0].kinds" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    # and `kiosk doctor --central` says what central would (the kiosk's doctor does not read these keys)
    doc = subprocess.run([sys.executable, "-m", "kiosk", "doctor", "--central", "--json"], capture_output=True,
                         text=True, timeout=60, env=env)
    [check] = json.loads(doc.stdout)
    assert doc.returncode == 2 and check["name"] == "Inställningar" and check["status"] == "FEL", doc.stdout
    assert "notify.targets[0].kinds" in check["detail"]


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"notify.targets\[0\].kinds"):
        parse('[[notify.targets]]\nurl = "json://x/y"\nkinds = ["bestrid"]\n')
    with pytest.raises(ConfigError, match=r"notify.targets\[0\].url"):
        parse('[[notify.targets]]\nkinds = ["bestridan"]\n')
    with pytest.raises(ConfigError, match=r"notify.targets\[0\].extra"):
        parse('[[notify.targets]]\nurl = "json://x/y"\nextra = 1\n')
    with pytest.raises(ConfigError, match="clock_alerts.working_hours"):
        parse('[clock_alerts]\nworking_hours = "17:00-07:00"\n')
    with pytest.raises(ConfigError, match="clock_alerts.extra_holidays"):
        parse('[clock_alerts]\nextra_holidays = ["24 dec"]\n')
    with pytest.raises(ConfigError, match="billing.separator"):
        parse('[billing]\nseparator = ";;"\n')


@pytest.mark.slow
def test_the_delivery_bench_runs_end_to_end(tmp_path, capsys):
    """kiosk bestridan command -> mosquitto -> central -> outbox -> webhook, a few times (figures
    are printed, never asserted)."""
    from kiosk_dev import delivery_bench

    out = delivery_bench.run(alerts=3, interval=0.05, workdir=str(tmp_path))
    assert out["lost"] == 0 and len(out["delivery_ms"]) == 3 and len(out["baseline_ms"]) == 3
    out_text = capsys.readouterr().out
    assert "bestridan command -> webhook received" in out_text
    assert "within interval_s + 5 s" in out_text and "beside a target that never answers" in out_text


def test_the_followup_workbook_is_also_written_at_the_configured_time_once_a_working_day(central_db, tmp_path):
    c = Central(central_db, tmp_path, f'[followup]\ndir = "{tmp_path}/teams"\ntime = "16:00"\n')
    k = c.kiosk
    k.send(k.event(T0, "signed_in", {"operator": "ANNA"}), k.event(T0, "sorted", {"pile": "leta_kund"}))
    book = tmp_path / "teams" / "uppfoljning-2026-11.xlsx"
    c.run(T0.replace(hour=15, minute=59))
    assert not book.exists()
    c.run(T0.replace(hour=16, minute=0))
    assert book.exists()
    first = book.stat().st_mtime_ns
    c.run(T0.replace(hour=16, minute=30))
    c.run(T0.replace(hour=23, minute=0))
    assert book.stat().st_mtime_ns == first and len(c.rows()) == 1
    c.run(dt.datetime(2026, 11, 28, 16, 30, tzinfo=TZ))  # Saturday: not a working day
    assert len(c.rows()) == 1
    c.run(dt.datetime(2026, 11, 30, 16, 30, tzinfo=TZ))  # Monday
    assert [r["state"] for r in c.rows()] == ["delivered", "delivered"]
    c.close()


def test_two_central_workers_at_once_send_each_delivery_once(central_db, tmp_path, hook):
    c = Central(central_db, tmp_path, json_target(hook))
    for i in range(5):
        c.bestridan(T0 + dt.timedelta(seconds=i))
    hook.sleep = 0.2  # each send takes a while: the two workers overlap
    results = []
    threads = [threading.Thread(target=lambda: results.append(worker.run_once(c.cfg, c.db))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r["delivered"] for r in results) == 5
    assert len(hook.requests) == 5 and len(set(hook.keys())) == 5
    c.close()


def test_turning_delivery_on_does_not_send_the_history(central_db, tmp_path, hook):
    """An older central (from before the delivery room) upgraded: what it stored before is not sent."""
    db = central_db
    store = store_class()(db)
    without_delivery(db)
    old = Kiosk(store)
    old.send(old.event(T0 - dt.timedelta(days=30), "alert_raised", {"kind": "bestridan", "text": "gammal"}),
             old.event(T0 - dt.timedelta(days=30), "scan_accepted", {"code": "73000009", "pile": "faktura"}))
    cfg = read(load(write_config(tmp_path, json_target(hook) + f'[billing]\ndir = "{tmp_path}/billing"\n')))
    worker.run_once(cfg, db, now=T0)
    assert hook.requests == [] and not (tmp_path / "billing").exists()
    new = old.event(T0, "alert_raised", {"kind": "bestridan", "text": BESTRIDAN})
    old.send(new)
    worker.run_once(cfg, db, now=T0 + dt.timedelta(seconds=1))
    [req] = hook.requests
    assert BESTRIDAN in req["json"]["message"]
    store.close()


def test_billing_list_from_a_real_kiosk_day_through_the_controller(central_db, tmp_path):
    """The events a real controller commits (as the publisher sends them, byte for byte) give the
    billing CSV: accepted scans in order, an undone one gone, a late one marked."""
    from kiosk.core.clock import FixedClock
    from kiosk.shelf.controller import Controller
    from kiosk.wire.journal import Journal

    c = Central(central_db, tmp_path, f'[billing]\ndir = "{tmp_path}/billing"\n')
    config = parse('[kiosk]\nsite = "sthlm"\nid = "kiosk-1"\n')
    journal = Journal(tmp_path / "journal.db", "sthlm", "kiosk-1")
    clock = FixedClock(T0.replace(hour=9))
    ctl = Controller(config, journal, clock)

    def do(minute: int, **cmd):
        clock.now_value = T0.replace(hour=9, minute=minute)
        r = ctl.handle(cmd)
        assert r.status == "ok", r
        return r

    do(0, cmd="login", operator="ANNA")
    for _ in range(3):
        do(1, cmd="sort", pile="faktura")
    do(2, cmd="scan_phase")
    for _ in ("dodsbo", "sekretess"):
        do(3, cmd="next_pile")
    do(4, cmd="scan", code="73000001")
    do(5, cmd="scan", code="73000002")
    do(6, cmd="undo", what="scan", code="73000001")
    do(7, cmd="scan", code="73000003")
    do(8, cmd="next_pile", confirm=True)  # faktura: 3 sorted, 2 scanned
    do(8, cmd="next_pile")
    do(30, cmd="late", pile="faktura", code="73000004")
    topic = "returpost/v1/sthlm/kiosk-1/events"
    payloads = [(topic, row[0].encode()) for row in journal.db.execute("select payload from events order by seq")]
    journal.close()
    assert not c.store.ingest(payloads)["dead"]
    c.run(T0.replace(hour=9, minute=31))
    f = tmp_path / "billing" / "returnerade-fakturor_2026-11-24_sthlm_kiosk-1.csv"
    rows = list(csv.reader(io.StringIO(f.read_bytes().decode("utf-8-sig")), delimiter=";"))
    assert [(r[1], r[2], r[3], r[6], r[7]) for r in rows[1:]] == [
        ("09:05:00", "73000002", "Faktura/påminnelse", "ANNA", ""),
        ("09:07:00", "73000003", "Faktura/påminnelse", "ANNA", ""),
        ("09:30:00", "73000004", "Faktura/påminnelse", "ANNA", "Ja")]
    c.close()


def test_deliver_runs_until_sigterm_and_delivers_what_arrives_meanwhile(central_db, tmp_path, hook):
    c = Central(central_db, tmp_path, json_target(hook))
    env = {**os.environ, "KIOSK_CONFIG": str(c.config_path)}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "central", "deliver", "--db", c.db], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        c.bestridan()  # arrives while the worker runs
        assert hook.received.wait(60), "the running worker did not deliver"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(hook.requests) == 1 and state.summary(c.db)["delivered"] == 1
    c.close()


def test_a_cancellation_stored_before_its_alert_sends_nothing(central_db, tmp_path, hook):
    """Several consumers may commit a kiosk's events out of order: the alert_cancelled first, its
    alert_raised in a later transaction. The outbox makes no notification for it either way."""
    c = Central(central_db, tmp_path, json_target(hook))
    k = c.kiosk
    raised = k.event(T0, "alert_raised", {"kind": "bestridan", "text": BESTRIDAN})
    cancel = k.event(T0 + dt.timedelta(seconds=5), "alert_cancelled", {"alert": raised["id"], "kind": "bestridan"})
    k.send(cancel)
    c.run(T0 + dt.timedelta(seconds=6))
    k.send(raised)
    c.run(T0 + dt.timedelta(seconds=7))
    assert hook.requests == [] and c.rows() == []
    other = c.bestridan(T0 + dt.timedelta(seconds=8))  # the next one goes out as ever
    c.run(T0 + dt.timedelta(seconds=9))
    assert [r["alert_id"] for r in c.rows()] == [other] and len(hook.requests) == 1
    c.close()


def test_an_outbox_of_the_rowid_cursors_loses_nothing_at_the_upgrade(tmp_path, hook):
    """A SQLite central.db whose outbox (before migrations) had derived up to its cursors: the
    rows stored after them are delivered once, the rows before them are not sent again."""
    import sqlite3

    db = str(tmp_path / "central.db")
    store = store_class()(db)
    without_delivery(db)
    k = Kiosk(store)
    k.send(k.event(T0, "alert_raised", {"kind": "bestridan", "text": "redan skickad"}))
    old = sqlite3.connect(db)
    old.executescript(outbox._V1.replace("AUTOINCREMENT", "autoincrement"))
    for source in ("alerts", "events"):
        old.execute("insert into delivery_cursor(name, pos) values (?, (select max(rowid) from %s))" % source, (source,))
    old.commit()
    old.close()
    k.send(k.event(T0 + dt.timedelta(minutes=1), "alert_raised", {"kind": "bestridan", "text": BESTRIDAN}))
    cfg = read(load(write_config(tmp_path, json_target(hook))))
    worker.run_once(cfg, db, now=T0 + dt.timedelta(minutes=2))
    worker.run_once(cfg, db, now=T0 + dt.timedelta(minutes=3))
    [req] = hook.requests
    assert BESTRIDAN in req["json"]["message"]
    with open_database(db) as database:
        assert database.query("select version from schema_migrations where room = 'delivery' order by version") == [(1,), (2,), (3,)]
        assert database.query("select count(*) from delivery_queue") == [(0,)]
    store.close()


def test_a_central_moved_to_postgresql_sends_only_what_it_had_not_sent(tmp_path, hook):
    """`kiosk central migrate --to URL` copies the outbox and its queue as they are: what was
    delivered on SQLite is not sent again from PostgreSQL, what was still queued goes out once,
    and the triggers work on the new database for what arrives after the move."""
    from kiosk.central import migrate
    from kiosk_dev.pgtest import temp_database

    c = Central(str(tmp_path / "central.db"), tmp_path, json_target(hook))
    sent = c.bestridan(T0)
    c.run(T0 + dt.timedelta(seconds=1))
    queued = c.bestridan(T0 + dt.timedelta(minutes=1))  # stored, not yet derived when central stops
    c.close()
    assert len(hook.requests) == 1
    with temp_database() as url:
        assert migrate.main(c.db, url) == 0
        with open_database(url) as db:
            assert db.query_one("select count(*) from delivery_queue")[0] == 2  # the alert and its event
        moved = Central(url, tmp_path, json_target(hook))
        moved.run(T0 + dt.timedelta(minutes=2))
        later = moved.bestridan(T0 + dt.timedelta(minutes=3))
        moved.run(T0 + dt.timedelta(minutes=4))
        moved.run(T0 + dt.timedelta(minutes=5))
        got = [r["json"]["message"] for r in hook.requests]
        assert len(got) == 3 and len(set(hook.keys())) == 3
        assert {r["alert_id"]: r["state"] for r in moved.rows()} == {sent: "delivered", queued: "delivered",
                                                                      later: "delivered"}
        moved.close()


def test_the_outbox_trigger_bench_runs_and_queues_what_the_outbox_takes(capsys):
    """kiosk_dev.outbox_trigger_bench at a small size (figures printed, never asserted): with the
    delivery room every scan and day close is queued, once, on both engines."""
    from kiosk_dev import outbox_trigger_bench as bench

    msgs = bench.messages(300)
    want = sum(json.loads(p)["type"] in outbox.EVENT_TYPES for _, p in msgs)
    res = bench.run(300, 50, rounds=1)
    assert {e: r["queued"] for e, r in res.items()} == {"sqlite": want, "postgresql": want} and want > 100
    assert "time with / without" in capsys.readouterr().out


def test_two_deliver_processes_at_once_send_each_delivery_once(central_db, tmp_path, hook):
    """Two `kiosk central deliver --once` processes on one database at the same time (as two
    central hosts would): each notification reaches the target once, whichever process took it."""
    c = Central(central_db, tmp_path, json_target(hook))
    for i in range(8):
        c.bestridan(T0 + dt.timedelta(seconds=i))
    hook.sleep = 0.5  # the sends overlap the other process' claims
    env = {**os.environ, "KIOSK_CONFIG": str(c.config_path)}
    cmd = [sys.executable, "-m", "kiosk", "central", "deliver", "--once", "--db", c.db]
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    delivered = [json.loads(o[0].splitlines()[0])["delivered"] for o in outs]
    assert sum(delivered) == 8, delivered
    assert len(hook.requests) == 8 and len(set(hook.keys())) == 8
    assert {r["state"] for r in c.rows()} == {"delivered"} and all(r["attempts"] == 1 for r in c.rows())
    c.close()
