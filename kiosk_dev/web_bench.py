"""Realistic central data for the web app, and its benchmark (issue 10 item 8).

    python -m kiosk_dev.web_bench [--kiosks 100] [--days 365] [--repeat 20] [--dir DIR]

`day_script(rng, day)` is one day at the shelf as (local time, command) pairs: sorting, scanning
in order (a duplicate and a bad code now and then, sometimes after 14:00), dödsbo labels, the
cover slip, Leta Kund, date checks, incoming letters (a bestridan some days), temporary mailings,
remarks, closing the day. `day_events` runs a script through the real rules (`routine.step`)
and stamps the events as the journal does. The benchmark fills a central database with
kiosks x days of them (a template pool restamped per kiosk and day, so generation stays quick),
then times `/`, `/uppfoljning` for the whole year and `/historik` through the real app (HTTP
in-process), beside the same answers computed by full replay of `events` in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kiosk import routine
from kiosk.clock import TZ, utc_iso
from kiosk.domain import INCOMING_KINDS, LETA_KUND_TYPES, PILES, REMARK_CODES, SCAN_ORDER


def _code(rng: random.Random, pile: str) -> str:
    return f"735{SCAN_ORDER.index(pile) + 1:04d}{rng.randrange(10**6):06d}"


def day_script(rng: random.Random, day: dt.date, operator: str = "ANNA", late: bool | None = None) -> list[tuple[dt.datetime, dict]]:
    """One realistic day as (aware local time, command)."""
    t = dt.datetime.combine(day, dt.time(8, rng.randrange(0, 50)), tzinfo=TZ)
    out: list[tuple[dt.datetime, dict]] = []

    def at(seconds: float) -> dt.datetime:
        nonlocal t
        t = t + dt.timedelta(seconds=seconds)
        return t

    out.append((at(0), {"cmd": "login", "operator": operator}))
    counts = {"dodsbo": rng.choice([0, 0, 1, 1, 2, 3]), "sekretess": rng.choice([0, 1, 1, 2]),
              "faktura": rng.randrange(3, 25), "ovriga_streckkod": rng.randrange(0, 8),
              "leta_kund": rng.randrange(0, 7), "ovriga_brev": rng.randrange(0, 6),
              "inkomna_brev": rng.randrange(0, 4), "tillfalliga": rng.choice([0, 0, 0, 1])}
    for pile in PILES:
        for _ in range(counts[pile]):
            out.append((at(rng.uniform(3, 9)), {"cmd": "sort", "pile": pile}))
    late = rng.random() < 0.06 if late is None else late
    if late:
        t = dt.datetime.combine(day, dt.time(14, rng.randrange(5, 50)), tzinfo=TZ)
    out.append((at(30), {"cmd": "scan_phase"}))
    for i, pile in enumerate(SCAN_ORDER):
        n = counts[pile] - (1 if counts[pile] and rng.random() < 0.05 else 0)
        for _ in range(n):
            out.append((at(rng.uniform(2, 6)), {"cmd": "scan", "code": _code(rng, pile)}))
        if pile == "faktura" and rng.random() < 0.2:
            out.append((at(3), {"cmd": "scan", "code": "12"}))  # a bad read
        out.append((at(8), {"cmd": "next_pile", "confirm": True}))
    for _ in range(counts["dodsbo"]):
        out.append((at(60), {"cmd": "dodsbo_label", "personnummer": "19121212-1212"}))
    if counts["sekretess"]:
        out.append((at(40), {"cmd": "cover_slip"}))
    for _ in range(counts["leta_kund"]):
        letter = rng.choice(LETA_KUND_TYPES)
        cmd = {"cmd": "leta_kund", "letter": letter}
        if letter == "A":
            cmd["apartments"] = rng.randrange(0, 2)
        out.append((at(15), cmd))
    for _ in range(counts["ovriga_brev"]):
        delta = rng.randrange(-20, 40)
        out.append((at(20), {"cmd": "date_check", "kind": rng.choice(["planerat_stromavbrott", "ovriga_brev"]),
                             "date": (day + dt.timedelta(days=delta)).isoformat()}))
    for _ in range(counts["inkomna_brev"]):
        kind = rng.choice(list(INCOMING_KINDS) + ["ovrigt", "ovrigt"])
        cmd = {"cmd": "incoming", "kind": kind}
        if kind in ("ovrigt", "fullmakt_med_brev", "bestridan"):
            cmd["segment"] = rng.choice(["privat", "foretag"])
        if kind in ("ovrigt", "fullmakt_med_brev"):
            cmd["about"] = rng.choice(["adressändring", "flytt", "fråga om elavtal"])
        out.append((at(45), cmd))
    for _ in range(counts["tillfalliga"]):
        out.append((at(30), {"cmd": "temporary", "about": rng.choice(["bristfällig anläggning", "fel huvudsäkring"])}))
    if rng.random() < 0.3:
        out.append((at(20), {"cmd": "remark", "code": rng.choice(list(REMARK_CODES))}))
    out.append((at(60), {"cmd": "close_day", "confirm": True}))
    return out


def journal_id(site: str, kiosk: str) -> str:
    """A stable journal id per kiosk (a canonical uuid4, as the journal's meta table holds)."""
    return str(uuid.UUID(int=random.Random(f"{site}/{kiosk}").getrandbits(128), version=4))


def day_events(script, site: str, kiosk: str, seq0: int = 0, ctx: routine.Context | None = None,
               state: routine.DayState | None = None, journal: str | None = None) -> tuple[list[dict], routine.DayState]:
    """Run a script through the rules; events stamped as the journal stamps them (seq from seq0+1)."""
    journal = journal or journal_id(site, kiosk)
    ctx = ctx or routine.Context(site=site, kiosk=kiosk)
    state = state or routine.DayState()
    events: list[dict] = []
    seq = seq0
    for now, cmd in script:
        if cmd["cmd"] == "login":
            cmd = {**cmd, "clock_synced": True}
        decision = routine.step(state, cmd, now, ctx)
        if not decision.events:
            continue
        folded = routine.replay(routine.provisional(decision.events, now, ctx), state)
        operator = folded.operator or routine.roll(state, now.astimezone(TZ).date()).operator
        for kind, data in decision.events:
            seq += 1
            events.append({"v": 1, "id": str(uuid.uuid4()), "journal": journal, "kiosk": kiosk, "site": site, "seq": seq,
                           "ts": utc_iso(now), "day": now.astimezone(TZ).date().isoformat(),
                           "operator": operator, "type": kind, "data": data})
        state = folded
    return events, state


def _restamp(template: list[dict], site: str, kiosk: str, day: dt.date, seq0: int) -> list[dict]:
    src_day = dt.date.fromisoformat(template[0]["day"])
    shift = day - src_day
    out = []
    for i, e in enumerate(template, start=1):
        ts = dt.datetime.fromisoformat(e["ts"][:-1] + "+00:00")
        local = ts.astimezone(TZ)
        moved = dt.datetime.combine(local.date() + shift, local.time(), tzinfo=TZ)  # same wall clock
        out.append({**e, "id": str(uuid.uuid4()), "site": site, "kiosk": kiosk, "seq": seq0 + i,
                    "ts": utc_iso(moved), "day": day.isoformat()})
    return out


def fill(db: Path, kiosks: int, days: int, last_day: dt.date, seed: int = 7, templates: int = 60) -> int:
    """Fill central's `events` (and `kiosks`) with kiosks x days of realistic days. Returns the count."""
    from kiosk.central.summaries import _central_store_class, connect

    _central_store_class()(db).close()
    rng = random.Random(seed)
    base = last_day - dt.timedelta(days=days - 1)
    pool = [day_events(day_script(rng, base), "t", "t")[0] for _ in range(templates)]
    conn = connect(db)
    cols = [r[1] for r in conn.execute("pragma table_info(events)")]
    total = 0
    now = utc_iso(dt.datetime.now(dt.timezone.utc))
    conn.execute("BEGIN")
    for k in range(kiosks):
        site, kiosk = f"site{k // 10:02d}", f"kiosk-{k % 10 + 1}"
        journal = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        seq = 0
        rows = []
        for d in range(days):
            day = base + dt.timedelta(days=d)
            if day.weekday() >= 5:
                continue  # the office is closed at weekends
            evs = _restamp(rng.choice(pool), site, kiosk, day, seq)
            seq += len(evs)
            for e in evs:
                e["journal"] = journal
                value = {"id": e["id"], "site": site, "kiosk": kiosk, "journal": journal, "seq": e["seq"],
                         "ts": e["ts"], "day": e["day"], "type": e["type"], "operator": e["operator"],
                         "payload": json.dumps(e, ensure_ascii=False, separators=(",", ":")),
                         "topic": f"returpost/v1/{site}/{kiosk}/events", "received_at": now}
                rows.append(tuple(value.get(c) for c in cols))
        conn.executemany(f"insert into events({', '.join(cols)}) values ({', '.join('?' * len(cols))})", rows)
        conn.execute("insert or replace into kiosks(site, kiosk, max_seq, events, last_event_at, online, "
                     "status_pending, status_last_seq, status, status_at) values (?,?,?,?,?,?,?,?,?,?)",
                     [site, kiosk, seq, seq, now, 1, 0, seq,
                      json.dumps({"v": 1, "site": site, "kiosk": kiosk, "online": True, "pending": 0,
                                  "last_seq": seq, "version": "0.1.0"}), now])
        total += seq
    conn.execute("COMMIT")
    conn.close()
    return total


def _time(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times), p95


def run(kiosks: int, days: int, repeat: int, folder: Path, out=sys.stdout, reuse: bool = False,
        replay_days: int = 0) -> dict:
    from kiosk.central import summaries
    from kiosk.central.web import auth
    from kiosk.central.web.app import create_app

    last_day = dt.date(2026, 11, 27)
    now = dt.datetime.combine(last_day, dt.time(12, 0), tzinfo=TZ)
    db = folder / "central.db"
    if reuse and db.exists():
        conn = summaries.connect(db)
        n = conn.execute("select count(*) from events").fetchone()[0]
        print(f"web bench: reusing {db}: {n} events", file=out)
    else:
        t0 = time.perf_counter()
        n = fill(db, kiosks, days, last_day)
        t_fill = time.perf_counter() - t0
        print(f"web bench: {kiosks} kiosks x {days} days: {n} events generated in {t_fill:.1f} s", file=out)
        conn = summaries.connect(db)
    summaries.ensure_schema(conn)
    t0 = time.perf_counter()
    folded = summaries.refresh(conn, now)
    t_mat = time.perf_counter() - t0
    print(f"  materialise (from scratch unless reused): {folded} kiosk-days in {t_mat:.1f} s "
          f"({folded / max(t_mat, 1e-9):.0f} kiosk-days/s)", file=out)
    auth.ensure_schema(conn)
    auth.add_user(conn, "bench", "viewer", "bench-password", now)
    # incremental: one more event for one kiosk today, then the refresh a page view does
    last = conn.execute("select payload from events where site = 'site00' and kiosk = 'kiosk-1' "
                        "order by seq desc limit 1").fetchone()
    if last:
        ev = json.loads(last[0])
        ev.update({"id": str(uuid.uuid4()), "seq": ev["seq"] + 1, "type": "remark_logged",
                   "data": {"code": "brevlada_full", "note": "Kundlogg: Brevlådan full", "checklist": []}})
        cols = [r[1] for r in conn.execute("pragma table_info(events)")]
        value = {"id": ev["id"], "site": ev["site"], "kiosk": ev["kiosk"], "journal": ev.get("journal"),
                 "seq": ev["seq"], "ts": ev["ts"], "day": ev["day"], "type": ev["type"], "operator": ev["operator"],
                 "payload": json.dumps(ev), "topic": "bench", "received_at": ev["ts"]}
        conn.execute(f"insert into events({', '.join(cols)}) values ({', '.join('?' * len(cols))})",
                     [value.get(c) for c in cols])
        t0 = time.perf_counter()
        one = summaries.refresh(conn, now)
        print(f"  incremental refresh after one new event: {one} kiosk-day in "
              f"{(time.perf_counter() - t0) * 1000:.1f} ms", file=out)

    from .web_serve import Client, Served

    print("  pages (HTTP, in-process uvicorn) ...", file=out, flush=True)

    app = create_app(db, secret="b" * 64, clock=lambda: now)
    with Served(app) as served:
        client = Client(served.url)
        assert client.login("bench", "bench-password") == 303
        results = _pages(client, days, last_day, repeat)
    year_from = (last_day - dt.timedelta(days=days - 1)).isoformat()

    # the same answers by full replay, in the same run
    rconn = summaries.connect(db)
    day = last_day.isoformat()
    med_today, p95_today = _time(lambda: summaries.replay_rows(rconn, day, day), max(3, repeat // 4))
    replay_from = year_from if not replay_days else (last_day - dt.timedelta(days=replay_days - 1)).isoformat()
    t0 = time.perf_counter()
    year_rows = summaries.replay_rows(rconn, replay_from, day)
    t_year = (time.perf_counter() - t0) * 1000
    if replay_days:
        part = t_year
        t_year = part * days / replay_days
        print(f"  full replay of the last {replay_days} days: {part:.0f} ms; a year by scale: {t_year:.0f} ms",
              file=out)
    mat_rows = [summaries.follow_up_row(r) for r in summaries.day_rows(conn, replay_from, day)]
    same = year_rows == mat_rows
    print(f"  {'page':28s} {'median ms':>10s} {'p95 ms':>10s}   baseline: full replay of events", file=out)
    print(f"  {'/':28s} {results['/'][0]:10.1f} {results['/'][1]:10.1f}   "
          f"today's rows by replay: median {med_today:.1f} ms, p95 {p95_today:.1f} ms", file=out)
    for name in ("/uppfoljning (year)", "/historik (year)"):
        print(f"  {name:28s} {results[name][0]:10.1f} {results[name][1]:10.1f}   "
              f"a year's rows by replay (what both need): {t_year:.0f} ms once", file=out)
    for name in ("/historik (12 weeks)", "/larm", "/kiosker", "/uppfoljning csv (year)", "/uppfoljning xlsx (4 weeks)"):
        print(f"  {name:28s} {results[name][0]:10.1f} {results[name][1]:10.1f}", file=out)
    print(f"  materialised rows equal the replayed rows: {same} ({len(mat_rows)} rows)", file=out)
    # incremental: one new event for one kiosk, then the next page view
    return {"events": n, "pages": results, "replay_today_ms": (med_today, p95_today),
            "replay_year_ms": t_year, "same": same, "rows": len(mat_rows)}


def _pages(client, days: int, last_day: dt.date, repeat: int) -> dict:
    year_from = (last_day - dt.timedelta(days=days - 1)).isoformat()
    pages = {
        "/": "/",
        "/uppfoljning (year)": f"/uppfoljning?from={year_from}&to={last_day.isoformat()}",
        "/uppfoljning xlsx (4 weeks)": f"/uppfoljning?from={(last_day - dt.timedelta(days=27)).isoformat()}"
                                       f"&to={last_day.isoformat()}&format=xlsx",
        "/uppfoljning csv (year)": f"/uppfoljning?from={year_from}&to={last_day.isoformat()}&format=csv",
        "/larm": "/larm",
        "/kiosker": "/kiosker",
        "/historik (year)": f"/historik?from={year_from}&to={last_day.isoformat()}",
        "/historik (12 weeks)": "/historik",
    }
    results = {}
    for name, url in pages.items():
        rep = repeat if "xlsx" not in name and "csv" not in name else max(3, repeat // 5)
        status = client.get(url)[0]
        assert status == 200, (url, status)
        results[name] = _time(lambda u=url: client.get(u), rep)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kiosks", type=int, default=100)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--dir", help="working folder (default: a temp folder)")
    p.add_argument("--reuse", action="store_true", help="use DIR/central.db as it is (no new events)")
    p.add_argument("--replay-days", type=int, default=0,
                   help="replay only the last N days for the baseline and scale to the year (default: all)")
    a = p.parse_args(argv)
    folder = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="web-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    res = run(a.kiosks, a.days, a.repeat, folder, reuse=a.reuse, replay_days=a.replay_days)
    return 0 if res["same"] else 1


if __name__ == "__main__":
    sys.exit(main())
