"""Realistic central data for the web app, and its benchmark.

    python -m kiosk_dev.web_bench [--kiosks 100] [--days 365] [--repeat 20] [--dir DIR]
                                  [--db postgresql://... | --pg] [--replay-days 10] [--no-cache]

`day_script(rng, day)` is one day at the shelf as (local time, command) pairs: sorting, scanning
in order (a duplicate and a bad code now and then, sometimes after 14:00), dödsbo labels, the
cover slip, Leta Kund, date checks, incoming letters (a bestridan some days), temporary mailings,
remarks, closing the day. `day_events` runs a script through the real rules (`routine.step`)
and stamps the events as the journal does. The benchmark fills a central database with
kiosks x days of them (a template pool restamped per kiosk and day, so generation stays quick),
then times `/`, `/uppfoljning` for the whole year and `/historik` through the real app (HTTP
in-process), beside the same answers computed by full replay of `events` in the same run.

The built data set (events, and every day folded by `summaries.rebuild`) is kept under
`var/web-bench/`, named by `GENERATOR` (bump it when the generator changes), the materialised
columns and the size; the next run copies it in seconds (to PostgreSQL by `kiosk central
migrate`). The full-replay baseline replays today and 9 days drawn at random (`--replay-days`),
checks those 1,000 rows equal the materialised ones, and scales its time to the whole range.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kiosk.core import routine
from kiosk.core.clock import TZ, utc_iso
from kiosk.core.domain import INCOMING_KINDS, LETA_KUND_TYPES, PILES, REMARK_CODES, SCAN_ORDER


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
        stamped = []
        for kind, data in decision.events:
            seq += 1
            stamped.append({"v": 1, "id": str(uuid.uuid4()), "journal": journal, "kiosk": kiosk, "site": site, "seq": seq,
                            "ts": utc_iso(now), "day": now.astimezone(TZ).date().isoformat(),
                            "operator": operator, "type": kind, "data": data})
        events += stamped
        # folded with their ids, as the journal does: an undo names the alert it cancels by its id
        state = routine.replay(stamped, state) if any(k == "alert_raised" for k, _ in decision.events) else folded
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


def fill(target: str | Path, kiosks: int, days: int, last_day: dt.date, seed: int = 7, templates: int = 60) -> int:
    """Fill central's `events` (and `kiosks`) with kiosks x days of realistic days, written straight
    into the tables (not through the store: no day is marked for the summaries, `build` folds them
    all). `target`: a SQLite path or a PostgreSQL URL. Returns the count."""
    from kiosk.central import db as dbm
    from kiosk.central import store

    rng = random.Random(seed)
    base = last_day - dt.timedelta(days=days - 1)
    pool = [day_events(day_script(rng, base), "t", "t")[0] for _ in range(templates)]
    database = dbm.open_database(target)
    total = 0
    try:
        store.ensure_schema(database)
        with database.connection() as conn:
            cols = conn.columns("events")
        now = utc_iso(dt.datetime.now(dt.timezone.utc))
        insert = f"insert into events({', '.join(cols)}) values ({', '.join('?' * len(cols))})"
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
            with database.transaction() as conn:  # one kiosk's year a transaction
                conn.executemany(insert, rows)
                conn.execute("insert into kiosks(site, kiosk, max_seq, events, last_event_at, online, "
                             "status_pending, status_last_seq, status, status_at, journal) values (?,?,?,?,?,?,?,?,?,?,?) "
                             "on conflict (site, kiosk) do update set max_seq = excluded.max_seq, "
                             "events = excluded.events, last_event_at = excluded.last_event_at, "
                             "status_last_seq = excluded.status_last_seq, status = excluded.status",
                             [site, kiosk, seq, seq, now, 1, 0, seq,
                              json.dumps({"v": 1, "site": site, "kiosk": kiosk, "online": True, "pending": 0,
                                          "last_seq": seq, "version": "0.1.0"}), now, journal])
                conn.execute("insert into journals(site, kiosk, journal, n, start_seq, acked_seq, max_seq, events, "
                             "kiosk_last_seq, first_at, last_at) values (?,?,?,1,1,?,?,?,?,?,?) "
                             "on conflict (site, kiosk, journal) do nothing",
                             [site, kiosk, journal, seq, seq, seq, seq, now, now])
            total += seq
    finally:
        database.close()
    return total


def _time(fn, repeat: int, before=None) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times), p95


# Bump when day_script, fill or the materialised tables change: a cached data set of another
# version is never used.
GENERATOR = 2
LAST_DAY = dt.date(2026, 11, 27)


def cache_name(kiosks: int, days: int, seed: int = 7) -> str:
    from kiosk.central import summaries

    columns = len(summaries.DAY_COLUMNS)
    return f"central-g{GENERATOR}-c{columns}-{kiosks}x{days}-s{seed}-{LAST_DAY.isoformat()}.db"


def build(target: str | Path, kiosks: int, days: int, out, cache: Path | None = None, seed: int = 7) -> tuple[int, str]:
    """The data set at `target` (a SQLite path or a PostgreSQL URL): copied from `cache` when a
    SQLite data set of this generator version and size is there (into PostgreSQL by `kiosk
    central migrate`), otherwise generated and every day folded by the summaries' full path
    (`summaries.rebuild`); a SQLite one is then stored in `cache`."""
    import shutil

    from kiosk.central import db as dbm
    from kiosk.central import summaries

    now = dt.datetime.combine(LAST_DAY, dt.time(12, 0), tzinfo=TZ)
    url = dbm.is_url(str(target))
    cached = cache / cache_name(kiosks, days, seed) if cache else None
    if url and cached is not None and cached.exists():
        # PostgreSQL from the cached SQLite data set, the way a central moves: `kiosk central migrate`
        import tempfile

        from kiosk.central import migrate

        meta = json.loads(cached.with_suffix(".json").read_text(encoding="utf-8"))
        with tempfile.TemporaryDirectory(prefix="web-bench-") as tmp:
            source = Path(tmp) / "central.db"
            shutil.copyfile(cached, source)
            t0 = time.perf_counter()
            migrate.migrate(source, str(target), out=io.StringIO())
            _analyze(target)  # what autovacuum does soon after a bulk load: statistics, visibility map
            t_copy = time.perf_counter() - t0
        return meta["events"], (f"copied from the cached SQLite data set {cached} by `kiosk central migrate` in "
                                f"{t_copy:.1f} s, materialised days included (built there: {meta['events']} events "
                                f"in {meta['fill_s']:.1f} s, {meta['kiosk_days']} kiosk-days materialised on "
                                f"SQLite in {meta['materialise_s']:.1f} s)")
    if not url and cached is not None and cached.exists():
        t0 = time.perf_counter()
        shutil.copyfile(cached, target)
        meta = json.loads(cached.with_suffix(".json").read_text(encoding="utf-8"))
        how = (f"copied from the cache {cached} in {time.perf_counter() - t0:.1f} s (built there: {meta['events']} "
               f"events in {meta['fill_s']:.1f} s, {meta['kiosk_days']} kiosk-days materialised in "
               f"{meta['materialise_s']:.1f} s, {meta['kiosk_days'] / max(meta['materialise_s'], 1e-9):.0f} kiosk-days/s)")
        return meta["events"], how
    t0 = time.perf_counter()
    n = fill(target, kiosks, days, LAST_DAY, seed=seed)
    t_fill = time.perf_counter() - t0
    database = dbm.open_database(target)
    try:
        summaries.ensure_schema(database)
        t0 = time.perf_counter()
        folded = summaries.rebuild(database, now)
        t_mat = time.perf_counter() - t0
        if not url:
            database.execute("pragma wal_checkpoint(truncate)")
        else:
            _analyze(target)
    finally:
        database.close()
    how = (f"{n} events generated in {t_fill:.1f} s; {folded} kiosk-days materialised from scratch in {t_mat:.1f} s "
           f"({folded / max(t_mat, 1e-9):.0f} kiosk-days/s)")
    if cached is not None and not url:
        cached.parent.mkdir(parents=True, exist_ok=True)
        part = cached.with_suffix(".part")
        shutil.copyfile(target, part)
        cached.with_suffix(".json").write_text(json.dumps({"events": n, "fill_s": t_fill, "kiosk_days": folded,
                                                           "materialise_s": t_mat}), encoding="utf-8")
        part.replace(cached)
        how += f"; cached as {cached}"
    return n, how


def _analyze(url: str | Path) -> None:
    from kiosk.central import db as dbm

    database = dbm.open_database(url)
    try:
        database.execute("vacuum analyze")
    finally:
        database.close()


def _sample_days(conn, days: int, replay_days: int, seed: int = 11) -> list[str]:
    """The days replayed for the baseline: every day, or today and `replay_days - 1` drawn at random."""
    every = [d for (d,) in conn.execute("select distinct day from web_days order by day").fetchall()]
    if not replay_days or replay_days >= len(every):
        return every
    rest = random.Random(seed).sample(every[:-1], replay_days - 1)
    return sorted(rest) + every[-1:]


def run(kiosks: int, days: int, repeat: int, folder: Path, out=sys.stdout, reuse: bool = False,
        replay_days: int = 0, cache: Path | None = None, db_url: str | None = None) -> dict:
    """Build (or copy) the data set, time the pages, and compute the same answers by full replay
    of `events` (all days, or a sample of `replay_days` days scaled to the range) in the same run.
    `db_url`: a PostgreSQL database (empty, or the data set when `reuse`) instead of DIR/central.db."""
    from kiosk.central import db as dbm
    from kiosk.central import summaries
    from kiosk.central.store import CentralStore
    from kiosk.central.web import auth, views
    from kiosk.central.web.app import create_app

    last_day = LAST_DAY
    now = dt.datetime.combine(last_day, dt.time(12, 0), tzinfo=TZ)
    target: str | Path = db_url or folder / "central.db"
    engine = "PostgreSQL" if db_url else "SQLite"
    if reuse and (db_url or Path(target).exists()):
        how = "reusing it as it is"
    else:
        n, how = build(target, kiosks, days, out, cache)
    database = dbm.open_database(target)
    stack = contextlib.ExitStack()
    stack.callback(database.close)
    conn = stack.enter_context(database.connection())
    n = conn.query_one("select count(*) from events")[0]  # type: ignore[index]
    print(f"web bench ({engine}, {dbm.display_name(target)}): {kiosks} kiosks x {days} days, {n} events: {how}",
          file=out)
    summaries.ensure_schema(database)
    summaries.refresh(database, now)
    auth.ensure_schema(database)
    with database.transaction() as tx:
        auth.add_user(tx, "bench", "viewer", "bench-password", now)
    # incremental: one more event for one kiosk today through the store, then the refresh a page view does
    last = conn.query_one("select payload from events where site = 'site00' and kiosk = 'kiosk-1' "
                          "order by seq desc limit 1")
    if last:
        ev = json.loads(last[0])
        ev.update({"id": str(uuid.uuid4()), "seq": ev["seq"] + 1, "type": "remark_logged",
                   "data": {"code": "brevlada_full", "note": "Kundlogg: Brevlådan full", "checklist": []}})
        store = CentralStore(target)
        try:
            store.ingest([(f"returpost/v1/{ev['site']}/{ev['kiosk']}/events", json.dumps(ev).encode())])
        finally:
            store.close()
        t0 = time.perf_counter()
        one = summaries.refresh(database, now)
        print(f"  incremental refresh after one new event: {one} kiosk-day in "
              f"{(time.perf_counter() - t0) * 1000:.1f} ms", file=out)

    from .web_serve import Client, Served

    print("  pages (HTTP, in-process uvicorn) ...", file=out, flush=True)

    app = create_app(target, secret="b" * 64, clock=lambda: now)
    with Served(app) as served:
        client = Client(served.url)
        assert client.login("bench", "bench-password") == 303
        results = _pages(client, days, last_day, repeat)
        # `/` as the first view after a start (or after every kiosk changed): no cached card
        results["/ (nothing cached)"] = _time(lambda: client.get("/"), repeat, before=views.forget)

    # the same answers by full replay, in the same run
    rconn = conn
    day = last_day.isoformat()
    med_today, p95_today = _time(lambda: summaries.replay_rows(rconn, day, day), max(3, repeat // 4))
    sample = _sample_days(conn, days, replay_days)
    t0 = time.perf_counter()
    replayed: list[dict] = []
    for d in sample:
        replayed += summaries.replay_rows(rconn, d, d)
    t_sample = (time.perf_counter() - t0) * 1000
    mat_rows = [summaries.follow_up_row(r) for d in sample for r in summaries.day_rows(conn, d, d, summary=False)]
    total_rows = conn.query_one("select count(*) from web_days")[0]  # type: ignore[index]
    t_year = t_sample * total_rows / max(1, len(mat_rows))
    if len(sample) < days:
        print(f"  full replay of {len(sample)} sampled days ({len(mat_rows)} kiosk-days, today's included): "
              f"{t_sample:.0f} ms; the whole range ({total_rows} kiosk-days) by scale: {t_year / 1000:.0f} s", file=out)
    same = replayed == mat_rows
    print(f"  {'page':28s} {'median ms':>10s} {'p95 ms':>10s}   baseline: full replay of events (same run)", file=out)
    print(f"  {'/':28s} {results['/'][0]:10.1f} {results['/'][1]:10.1f}   "
          f"today's rows by replay: median {med_today:.1f} ms, p95 {p95_today:.1f} ms "
          f"({med_today / max(results['/'][0], 1e-9):.0f}x the page)", file=out)
    print(f"  {'/ (nothing cached)':28s} {results['/ (nothing cached)'][0]:10.1f} "
          f"{results['/ (nothing cached)'][1]:10.1f}", file=out)
    for name in ("/uppfoljning (year)", "/uppfoljning (year, last page)", "/historik (year)"):
        print(f"  {name:28s} {results[name][0]:10.1f} {results[name][1]:10.1f}   "
              f"the range's rows by replay: {t_year / 1000:.1f} s ({t_year / max(results[name][0], 1e-9):.0f}x)",
              file=out)
    for name in ("/historik (12 weeks)", "/larm", "/kiosker", "/uppfoljning csv (year)", "/uppfoljning xlsx (4 weeks)"):
        print(f"  {name:28s} {results[name][0]:10.1f} {results[name][1]:10.1f}", file=out)
    print(f"  materialised rows equal the replayed rows: {same} ({len(mat_rows)} rows of {len(sample)} days)"
          + ("" if same else "; a data set cached by an older fold? run again with --no-cache, and bump GENERATOR"),
          file=out)
    stack.close()
    return {"events": n, "pages": results, "replay_today_ms": (med_today, p95_today),
            "replay_year_ms": t_year, "same": same, "rows": len(mat_rows)}


def _pages(client, days: int, last_day: dt.date, repeat: int) -> dict:
    year_from = (last_day - dt.timedelta(days=days - 1)).isoformat()
    pages = {
        "/": "/",
        "/uppfoljning (year)": f"/uppfoljning?from={year_from}&to={last_day.isoformat()}",
        "/uppfoljning (year, last page)": f"/uppfoljning?from={year_from}&to={last_day.isoformat()}&sida=100000",
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
    p.add_argument("--replay-days", type=int, default=10,
                   help="the full-replay baseline replays today and N-1 days drawn at random, scaled to the range "
                        "(0: every day; default 10)")
    p.add_argument("--cache", default=str(Path(__file__).resolve().parent.parent / "var" / "web-bench"),
                   help="where built data sets are kept, by generator version and size (default: var/web-bench)")
    p.add_argument("--no-cache", action="store_true", help="build the data set even if it is cached")
    p.add_argument("--db", help="a postgresql:// URL of an empty database (or the data set, with --reuse) "
                                "instead of DIR/central.db")
    p.add_argument("--pg", action="store_true",
                   help="on a throw-away PostgreSQL database (kiosk_dev.pgtest: made, then dropped)")
    a = p.parse_args(argv)
    import shutil

    folder = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="web-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.ExitStack() as stack:
            url = a.db
            if a.pg:
                from .pgtest import temp_database

                url = stack.enter_context(temp_database("web_bench"))
            res = run(a.kiosks, a.days, a.repeat, folder, reuse=a.reuse, replay_days=a.replay_days,
                      cache=None if a.no_cache else Path(a.cache), db_url=url)
    finally:
        if not a.dir:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if res["same"] else 1


if __name__ == "__main__":
    sys.exit(main())
