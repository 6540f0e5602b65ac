"""The web app's core: materialised summaries equal full replay however events arrive, the
follow-up sheet's Ja/Nej/pågår rule, the XLSX writer, alert states, `kiosk web-user`, SVG charts."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.central import summaries
from kiosk.core import followup
from kiosk.central.web import charts, state
from kiosk.core.clock import TZ
from kiosk_dev.web_bench import day_events, day_script

from kiosk.central.db import open_database

from .conftest import ROOT
from .web_helpers import CentralStore

DAY = dt.date(2026, 11, 23)


def _days(seed: int, kiosks: int = 2, days: int = 3) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for k in range(kiosks):
        seq, state_ = 0, None
        for d in range(days):
            evs, state_ = day_events(day_script(rng, DAY + dt.timedelta(days=d)), "s", f"k{k}", seq, state=state_)
            seq += len(evs)
            out += evs
    return out


def _messages(events):
    return [(f"returpost/v1/{e['site']}/{e['kiosk']}/events", json.dumps(e, ensure_ascii=False).encode()) for e in events]


EVENTS = _days(1)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(0, len(EVENTS)), max_size=6), batch=st.integers(1, 400),
       order=st.randoms(use_true_random=False))
def test_incremental_summaries_equal_full_replay(tmp_path_factory, engine, cuts, batch, order):
    """Events arrive in any order (kiosks interleaved, a kiosk's seq out of order as after a gap
    and a resend), in chunks, refreshed between chunks (and in small refresh batches): the
    materialised rows always equal the rows replayed from scratch. On both engines."""
    if engine == "sqlite":
        _incremental(tmp_path_factory.mktemp("c") / "central.db", cuts, batch, order)
        return
    from kiosk_dev.pgtest import temp_database

    with temp_database() as url:
        _incremental(url, cuts, batch, order)


def _incremental(db, cuts, batch, order):
    arrival = list(EVENTS)
    order.shuffle(arrival)
    store = CentralStore(db)
    conn = summaries.connect(db)
    summaries.ensure_schema(conn)
    bounds = sorted(set([0, len(arrival)] + cuts))
    for lo, hi in zip(bounds, bounds[1:]):
        assert store.ingest(_messages(arrival[lo:hi])).get("dead", 0) == 0
        summaries.refresh(conn, batch=batch)
        got = [summaries.follow_up_row(r) for r in summaries.day_rows(conn)]
        assert got == summaries.replay_rows(conn)
    store.close()
    conn.close()
    assert len(got) == 6


def test_materialised_row_equals_the_kiosks_own_row(central_db, tmp_path):
    """Against the kiosk's own `kiosk report` row (followup.follow_up_row over its journal)."""
    from .web_helpers import KioskDay, example_day, ingest

    k = KioskDay(tmp_path / "k", None)
    example_day(k, DAY)
    ingest(central_db, k.messages())
    conn = summaries.connect(central_db)
    summaries.ensure_schema(conn)
    assert summaries.refresh(conn) == 1
    mine = [followup.follow_up_row(s, "demo", "kiosk-1") for s in followup.day_summaries(k.journal)]
    assert [summaries.follow_up_row(r) for r in summaries.day_rows(conn)] == mine
    assert summaries.refresh(conn) == 0  # nothing new: nothing re-folded


@given(minutes=st.integers(0, 24 * 60 - 1), met=st.sampled_from([None, 0, 1]), offset=st.integers(-2, 2))
def test_no_nej_before_the_deadline_of_a_day_in_progress(minutes, met, offset):
    day = DAY + dt.timedelta(days=offset)
    now = dt.datetime.combine(DAY, dt.time(minutes // 60, minutes % 60), tzinfo=TZ)
    text = followup.deadline_text({"day": day.isoformat(), "deadline_met": met}, now)
    deadline = dt.datetime.combine(day, dt.time(14, 0), tzinfo=TZ)
    if met is None:  # pending: in progress until its 14:00
        assert text == ("pågår" if now < deadline else "Nej")
    else:
        assert text == ("Ja" if met else "Nej")


def test_workbook_round_trip(central_db, tmp_path):
    from openpyxl import load_workbook

    db = central_db
    store = CentralStore(db)
    store.ingest(_messages(EVENTS))
    store.close()
    conn = summaries.connect(db)
    summaries.ensure_schema(conn)
    summaries.refresh(conn)
    days = summaries.day_rows(conn)
    now = dt.datetime.combine(DAY + dt.timedelta(days=5), dt.time(9), tzinfo=TZ)
    rows = followup.sheet_rows(days, now)
    path = followup.write_workbook(rows, followup.case_rows(days), tmp_path / "out" / "u.xlsx", followup.totals(rows))
    wb = load_workbook(path)
    ws = wb[followup.SHEET_TITLE]
    assert [c.value for c in ws[1]] == list(followup.SHEET_COLUMNS)
    assert ws.max_row == len(rows) + 2 and ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    back = [{h: v for h, v in zip(followup.SHEET_COLUMNS, r)} for r in ws.iter_rows(min_row=2, max_row=len(rows) + 1,
                                                                               values_only=True)]
    for want, got in zip(rows, back):
        assert got["Datum"].date() == want["Datum"] and got["Skannade"] == want["Skannade"]
        assert got["Före 14:00"] in ("Ja", "Nej")
    assert wb[followup.CASES_TITLE].max_row >= 2
    text = followup.sheet_csv(rows, followup.totals(rows))
    assert text.count("\r\n") == len(rows) + 2


def test_page_totals_by_sql_equal_the_sheets_totals(central_db):
    """The page's SQL totals, month totals and pages of rows equal the sheet of every row."""
    from kiosk.central.web import views

    store = CentralStore(central_db)
    store.ingest(_messages(EVENTS[: len(EVENTS) - 40]))  # the last day unfinished
    store.close()
    conn = summaries.connect(central_db)
    summaries.ensure_schema(conn)
    summaries.refresh(conn)
    last = DAY + dt.timedelta(days=2)
    for now in (dt.datetime.combine(last, dt.time(h), tzinfo=TZ) for h in (9, 13, 14, 18)):
        rows = followup.sheet_rows(summaries.day_rows(conn), now)
        lo, hi = DAY.isoformat(), last.isoformat()
        assert views.sql_totals(conn, lo, hi, now) == followup.totals(rows), now
        page = views.followup_page(conn, now, DAY, last, show=2)
        assert page["count"] == len(rows) and page["rows"] == rows[:2]
        assert page["pager"]["pages"] == -(-len(rows) // 2) > 1
        paged = [r for n in range(1, page["pager"]["pages"] + 2)  # one past the last: the last again
                 for r in views.followup_page(conn, now, DAY, last, show=2, page=n)["rows"]]
        assert paged[:len(rows)] == rows and paged[len(rows):] == rows[-(len(rows) % 2 or 2):]
        # a range over two months: one totals row per month with letters, summing to the total
        wide = views.followup_page(conn, now, DAY.replace(month=DAY.month - 1, day=1), last, show=2)
        assert [m["Datum"] for m in wide["months"]] == [f"{views.MONTHS[DAY.month - 1]} {DAY.year}"]
        assert {k: v for k, v in wide["months"][0].items() if k != "Datum"} == \
            {k: v for k, v in wide["total"].items() if k != "Datum"}
        assert wide["total"] == page["total"]


def test_alerts_page_pages_in_the_order_of_state_alerts(central_db):
    """/larm's SQL paging shows exactly `state.alerts`: open ones first, newest first, every one once."""
    from kiosk.central.web import views

    store = CentralStore(central_db)
    store.ingest(_messages(EVENTS))
    store.close()
    conn = summaries.connect(central_db)
    state.ensure_schema(conn)
    state.refresh(conn)
    now = dt.datetime.combine(DAY + dt.timedelta(days=2), dt.time(18), tzinfo=TZ)
    every = state.alerts(conn, since=(DAY - dt.timedelta(days=1)).isoformat())
    assert len(every) >= 3
    state.record(conn, every[1]["alert"], "ack", "tl1", now)  # one closed: it moves to the end
    want = state.alerts(conn, since=(DAY - dt.timedelta(days=1)).isoformat())
    n_pages = -(-len(want) // 2)
    pages = [views.alerts_page(conn, now, days=3, page=n, per_page=2) for n in range(1, n_pages + 1)]
    got = [(a["alert"], a["open"], bool(a["acknowledged"])) for p in pages for a in p["alerts"]]
    assert got == [(a["alert"], a["open"], bool(a["acknowledged"])) for a in want]
    assert not want[-1]["open"] and pages[0]["pager"]["pages"] == n_pages
    assert pages[0]["count"] == len(want) and pages[0]["open"] == sum(a["open"] for a in want)


def test_alert_states_for_a_kiosk(central_db):
    store = CentralStore(central_db)
    store.ingest(_messages(EVENTS))
    # a device alert on the alerts topic
    store.ingest([("returpost/v1/s/k0/alerts", json.dumps({"v": 1, "id": "dev-1", "site": "s", "kiosk": "k0",
                   "kind": "printer", "text": "Skrivaren har slut på papper.", "ts": "2026-11-23T09:00:00.000Z"}).encode())])
    store.close()
    got = state.alert_states(central_db, "s", "k0", DAY.isoformat())
    kinds = [a["kind"] for a in got]
    assert "printer" in kinds
    assert all(a["acknowledged"] is None and a["answer"] is None for a in got)
    now = dt.datetime.combine(DAY, dt.time(10), tzinfo=TZ)
    with open_database(central_db) as db:
        with db.connection() as conn:
            before = state.open_count(conn)
        with db.transaction() as conn:
            state.record(conn, "dev-1", "ack", "tl1", now)
        try:
            with db.transaction() as conn:
                state.record(conn, "dev-1", "answer", "tl1", now, "x")
            raise AssertionError("a device alert cannot get an answer")
        except state.ActionError as exc:
            assert "tillfälligt utskick" in str(exc)
        ack = [a for a in state.alert_states(db, "s", "k0", DAY.isoformat()) if a["alert"] == "dev-1"][0]
        assert ack["acknowledged"] == {"by": "tl1", "at": "2026-11-23T09:00:00.000Z"}
        with db.connection() as conn:
            assert state.open_count(conn) == before - 1 and before >= 1


def test_web_user_cli_add_list_remove(central_db, tmp_path):
    run = lambda *a, stdin="": subprocess.run([sys.executable, "-m", "kiosk", "web-user", *a, "--db", central_db],  # noqa: E731
                                              input=stdin, capture_output=True, text=True, timeout=60)
    r = run("add", "anna", "--role", "tl", stdin="ett långt lösenord\n")
    assert r.returncode == 0, r.stderr
    assert run("add", "kort", stdin="kort\n").returncode == 2  # too short
    pw = tmp_path / "pw"
    pw.write_text("läsarens lösenord\n", encoding="utf-8")
    assert run("add", "bo", "--password-file", str(pw)).returncode == 0
    listed = run("list").stdout.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [["anna", "tl"], ["bo", "viewer"]]
    assert run("remove", "bo").returncode == 0 and run("remove", "bo").returncode == 1
    with open_database(central_db) as db:
        (h,) = db.query_one("select hash from web_users where username = 'anna'")
        actions = [a for (a,) in db.query("select action from web_audit order by n")]
        web = db.query("select version from schema_migrations where room = 'web'")
    assert h.startswith("$argon2") and "lösenord" not in h
    assert actions == ["user_add", "user_add", "user_remove"]
    from kiosk.central.web import schema

    assert sorted(web) == [(step.version,) for step in schema.MIGRATIONS]  # every web migration, once
    help_text = subprocess.run([sys.executable, "-m", "kiosk", "web-user", "--help"], capture_output=True, text=True).stdout
    assert "--password " not in help_text  # never on the command line


def test_web_tables_of_a_central_db_from_before_migrations_are_kept(tmp_path):
    """Version 1 of room "web" takes the tables an older `kiosk web` made (no schema_migrations)
    with their rows, and goes on numbering after them."""
    import sqlite3

    from kiosk.central.web import auth, schema

    from kiosk.central import store
    from kiosk.central.db import migrate

    path = tmp_path / "central.db"
    with open_database(path) as db:  # the store alone, as an older central made it (a new one makes every room)
        migrate(db, "store", store.MIGRATIONS)
    old = sqlite3.connect(path)
    old.executescript(
        "create table web_users (username text primary key, role text not null, hash text not null, created_at text not null);"
        "create table web_login_failures (n integer primary key, at text not null, username text, ip text);"
        "create table web_audit (n integer primary key, at text not null, who text, action text not null, detail text, ip text);"
        "create table web_alert_actions (n integer primary key, alert_id text not null, site text not null, "
        "kiosk text not null, day text, action text not null, who text not null, at text not null, text text);"
        "insert into web_audit(at, who, action) values ('2026-11-01T08:00:00.000Z', 'tl1', 'login');")
    old.commit()
    old.close()
    now = dt.datetime.combine(DAY, dt.time(10), tzinfo=TZ)
    with open_database(path) as db:
        assert schema.ensure(db) == [s.version for s in schema.MIGRATIONS] and schema.ensure(db) == []
        with db.transaction() as conn:
            auth.add_user(conn, "anna", "tl", "ett långt lösenord", now)
        assert db.query("select n, action from web_audit order by n") == [(1, "login"), (2, "user_add")]


def test_bar_chart_is_svg_with_a_bar_per_label():
    svg = charts.bar_chart("Test <&>", ["a", "b", "c"], [("x", [1, 2, 0]), ("y", [0, 1, 3])])
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "Test &lt;&amp;&gt;" in svg
    assert svg.count("<rect") == 4 + 2  # four non-zero segments, two legend keys
    assert "Inga data" in charts.bar_chart("t", [], [("x", [])])


def test_small_benchmark_runs_and_agrees(central_db, tmp_path):
    """The web benchmark at a small size on either engine, built, then from its cache
    (the full one: python -m kiosk_dev.web_bench [--pg])."""
    import io

    from kiosk_dev import web_bench

    url = central_db if str(central_db).startswith("postgresql://") else None
    out = io.StringIO()
    res = web_bench.run(2, 10, 2, tmp_path, out=out, cache=tmp_path / "cache", db_url=url)
    assert res["same"] and res["rows"] > 0, out.getvalue()
    assert "/uppfoljning (year)" in out.getvalue() and "full replay" in out.getvalue()
    if url is None:  # the second run copies the cached data set and agrees again
        again = io.StringIO()
        (tmp_path / "central.db").unlink()
        assert web_bench.run(2, 10, 2, tmp_path, out=again, cache=tmp_path / "cache")["same"], again.getvalue()
        assert "copied from the cache" in again.getvalue()


def test_kiosk_web_command_serves_the_login_page(central_db, tmp_path):
    """`kiosk web` as the unit runs it: a real process on a free port, the session key file made 0600
    (beside a SQLite file; for a URL in the working directory)."""
    import os
    import stat
    import time
    import urllib.request

    from kiosk_dev.web_serve import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "web", "--db", central_db, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                    body = r.read().decode()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else "slow"
                time.sleep(0.2)
        assert "Logga in" in body and 'name="csrf"' in body
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/htmx.min.js", timeout=5) as r:
            assert r.status == 200 and b"htmx" in r.read()[:2000]
        secret = tmp_path / "web-secret"
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600 and len(secret.read_text().strip()) == 64
    finally:
        proc.terminate()
        proc.wait(10)


def test_free_text_that_looks_like_a_formula_stays_text(tmp_path):
    from openpyxl import load_workbook

    day = {"day": DAY.isoformat(), "site": "s", "kiosk": "k", "deadline_met": 1, "scan_done_at": None,
           "summary": json.dumps({"temporary": [{"about": "=HYPERLINK(\"http://x\")"}], "cab": [], "decisions": [],
                                  "remarks": [{"note": "+46 70", "checklist": []}]})}
    cases = followup.case_rows([day])
    path = followup.write_workbook([], cases, tmp_path / "f.xlsx")
    ws = load_workbook(path)[followup.CASES_TITLE]
    values = [c.value for row in ws.iter_rows(min_row=2) for c in row]
    assert '=HYPERLINK("http://x")' in values and "+46 70" in values
    assert all(c.data_type == "s" for row in ws.iter_rows(min_row=2) for c in row if isinstance(c.value, str))
    rows = followup.sheet_rows([{**day, "warnings": "=cmd"}], dt.datetime.now(dt.timezone.utc))
    assert ";'=cmd" in followup.sheet_csv(rows)


def test_fleet_shows_the_same_gaps_as_the_store(central_db):
    from kiosk.central.web import views

    db = central_db
    store = CentralStore(db)
    mine = [e for e in EVENTS if e["kiosk"] == "k0"]
    store.ingest(_messages([e for e in mine if e["seq"] not in (3, 4, 10)]))
    want = [(g["from_seq"], g["to_seq"]) for g in store.gaps() if g["kiosk"] == "k0"]
    store.close()
    assert want == [(3, 4), (10, 10)]
    conn = summaries.connect(db)
    summaries.ensure_schema(conn)
    summaries.refresh(conn)
    (k0,) = [k for k in views.fleet(conn) if k["kiosk"] == "k0"]
    assert k0["gaps"] == ["3–4", "10–10"]
