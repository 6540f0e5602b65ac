"""What the delivery outbox's triggers cost central's ingest: the same events stored through the
real `CentralStore.ingest`, on each engine, into a database without the delivery room and into
one with it (the triggers on `events` and `alerts` queue every scan, undo, day close and alert
into `delivery_queue` in the storing transaction), in one run. Figures are printed, never asserted.

    .venv/bin/python -m kiosk_dev.outbox_trigger_bench [--events 20000] [--batch 100] [--engine both]

PostgreSQL is the test server (kiosk_dev.pgtest: a throw-away database each).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

from kiosk.central.db import open_database
from kiosk.core.clock import TZ, utc_iso

SITE, KIOSK = "bench", "kiosk-1"
TOPIC = f"returpost/v1/{SITE}/{KIOSK}/events"


def messages(n: int) -> list[tuple[str, bytes]]:
    """`n` events of one kiosk's journal: per day a sign-in, sorted letters, accepted scans (what
    the outbox queues) and a close; about half of them are queued by the triggers."""
    journal, out, seq = str(uuid.uuid4()), [], 0
    day = dt.date(2026, 11, 2)
    while len(out) < n:
        at = dt.datetime.combine(day, dt.time(8), tzinfo=TZ)
        kinds = [("signed_in", {"operator": "ANNA"})] + [("sorted", {"pile": "faktura"})] * 40 + \
            [("scan_phase_started", {})] + [("scan_accepted", {"pile": "faktura"})] * 40 + [("day_closed", {})]
        for i, (kind, data) in enumerate(kinds):
            seq += 1
            if kind == "scan_accepted":
                data = {**data, "code": f"7300{seq:06d}"}
            ev = {"v": 1, "id": str(uuid.uuid4()), "journal": journal, "site": SITE, "kiosk": KIOSK, "seq": seq,
                  "ts": utc_iso(at + dt.timedelta(seconds=10 * i)), "day": day.isoformat(), "operator": "ANNA",
                  "type": kind, "data": data}
            out.append((TOPIC, json.dumps(ev).encode()))
        day += dt.timedelta(days=1)
    return out[:n]


@contextlib.contextmanager
def _target(engine: str, folder: Path, name: str) -> Iterator[str]:
    if engine == "sqlite":
        yield str(folder / f"{name}.db")
        return
    from kiosk_dev.pgtest import temp_database

    with temp_database("kiosk_bench") as url:
        yield url


def _ingest(target: str, msgs: list[tuple[str, bytes]], batch: int, delivery: bool) -> tuple[float, int]:
    from kiosk.central.delivery import outbox
    from kiosk.central.store import CentralStore

    store = CentralStore(target)
    try:
        if delivery:
            with open_database(target) as db:
                outbox.ensure_schema(db)
        t0 = time.perf_counter()
        for i in range(0, len(msgs), batch):
            counts = store.ingest(msgs[i:i + batch])
            if counts.get("dead"):
                raise RuntimeError(f"dead letters in the benchmark: {counts}")
        seconds = time.perf_counter() - t0
    finally:
        store.close()
    with open_database(target) as db:
        queued = db.query_one("select count(*) from delivery_queue")[0] if delivery else 0  # type: ignore[index]
    return seconds, int(queued)


def run(events: int = 20000, batch: int = 100, engines=("sqlite", "postgresql"), rounds: int = 3,
        out=sys.stdout) -> dict:
    """`rounds` alternating runs of each (without, with, without, ...: a shared machine's load
    drifts); the medians are compared."""
    msgs = messages(events)
    res: dict = {}
    with tempfile.TemporaryDirectory(prefix="outbox-trigger-bench-") as tmp:
        for engine in engines:
            times: dict[bool, list[float]] = {False: [], True: []}
            queued = 0
            for r in range(rounds):
                for delivery in (False, True):
                    with _target(engine, Path(tmp), f"{engine}-{r}-{int(delivery)}") as target:
                        seconds, n = _ingest(target, msgs, batch, delivery)
                    times[delivery].append(seconds)
                    queued = max(queued, n)
            without, with_ = statistics.median(times[False]), statistics.median(times[True])
            res[engine] = {"without_s": times[False], "with_s": times[True], "queued": queued,
                           "ratio": with_ / without}
            print(f"{engine}: {events} events in batches of {batch}, median of {rounds}: without the delivery room "
                  f"{events / without:,.0f} events/s, with its triggers {events / with_:,.0f} events/s "
                  f"({queued} rows queued); time with / without = {with_ / without:.2f}", file=out)
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=20000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(argv)
    engines = ("sqlite", "postgresql") if a.engine == "both" else (a.engine,)
    run(a.events, a.batch, engines, a.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
