"""Central's per-event validation cost, before and after the event schema (kiosk/core/schema.py).

    python -m kiosk_dev.schema_bench [--events N] [--repeat R]

Events are what the controller commits for a realistic command stream (tests' generator: the
same mix of sorts, scans, rejected scans, incoming letters, alerts), as the journal stores them.
Printed side by side, measured in the same run: the bare JSON decode (the floor), the
hand-written checks central used before this round (kept here, verbatim in behaviour, as the
baseline), and parse_json + check_event over the schema. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import tempfile
import time
from pathlib import Path


# -- the baseline: central's checks before the schema (kiosk/wire/validate.py at 8a407c4) ----------
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEYS = frozenset({"v", "id", "journal", "kiosk", "site", "seq", "ts", "day", "operator", "type", "data"})
_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
S, I, B, D = "str", "int", "bool", "dict"
_FIELDS = {
    "signed_in": {"operator": (S, True)}, "signed_out": {}, "sorted": {"pile": (S, True)},
    "undone": {"what": (S, True), "pile": (S, True), "code": (S, False)}, "scan_phase_started": {},
    "scan_accepted": {"code": (S, True), "pile": (S, True)},
    "scan_rejected": {"code": (S, True), "reason": (S, True), "pile": (S, False)},
    "pile_done": {"pile": (S, True), "sorted": (I, True), "scanned": (I, True)},
    "scanning_done": {"deadline_met": (B, True)}, "dodsbo_label_printed": {}, "cover_slip_printed": {},
    "leta_kund_counted": {"letter": (S, True), "apartments": (I, False)},
    "date_checked": {"kind": (S, True), "decision": (S, True), "slot": (S, True), "date": (S, False)},
    "incoming_registered": {"cab": (D, True)}, "temporary_counted": {"about": (S, True)},
    "alert_raised": {"kind": (S, True), "text": (S, True)}, "remark_logged": {}, "day_closed": {},
}


def _kind_ok(value, kind):
    if kind == I:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == B:
        return isinstance(value, bool)
    if kind == S:
        return isinstance(value, str)
    return isinstance(value, dict)


def before(payload: bytes, site: str, kiosk: str) -> dict:
    """Parse and check as central did before (raises ValueError)."""
    doc = json.loads(payload.decode("utf-8"))
    if not isinstance(doc, dict) or _KEYS - doc.keys() or doc.keys() - _KEYS:
        raise ValueError("keys")
    if doc["v"] != 1 or isinstance(doc["v"], bool):
        raise ValueError("v")
    for key, want in (("site", site), ("kiosk", kiosk)):
        if not isinstance(doc[key], str) or not _ID_RE.match(doc[key]) or doc[key] != want:
            raise ValueError(key)
    if not isinstance(doc["id"], str) or not _UUID_RE.match(doc["id"]):
        raise ValueError("id")
    seq = doc["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= 2**53:
        raise ValueError("seq")
    ts = doc["ts"]
    if not isinstance(ts, str) or not _TS_RE.match(ts):
        raise ValueError("ts")
    dt.datetime.fromisoformat(ts[:-1] + "+00:00")
    if not isinstance(doc["day"], str) or not _DAY_RE.match(doc["day"]):
        raise ValueError("day")
    dt.date.fromisoformat(doc["day"])
    op = doc["operator"]
    if op is not None and (not isinstance(op, str) or len(op) > 64):
        raise ValueError("operator")
    fields = _FIELDS.get(doc["type"])
    data = doc["data"]
    if fields is None or not isinstance(data, dict):
        raise ValueError("type")
    for field, (want, required) in fields.items():
        if field not in data:
            if required:
                raise ValueError(field)
            continue
        if data[field] is None and not required and want == S:
            continue
        if not _kind_ok(data[field], want):
            raise ValueError(field)
    return doc


def _before_accepts(payload: bytes) -> bool:
    try:
        before(payload, "demo", "kiosk-1")
        return True
    except ValueError:
        return False


def sample_events(n: int, folder: Path) -> list[bytes]:
    """At least n events as the journal stores them, from the controller on a command stream."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from kiosk.core.clock import FixedClock
    from kiosk.core.config import parse
    from kiosk.shelf.controller import Controller
    from kiosk.wire.journal import Journal
    from tests.command_stream import stream

    cfg = parse(f'[kiosk]\nsite = "demo"\nid = "kiosk-1"\ndata_dir = "{folder}"\n')
    journal = Journal(folder / "bench-journal.db", "demo", "kiosk-1")
    commands = stream(seed=1, n=max(50, n * 2))
    ctl = Controller(cfg, journal, FixedClock(commands[0][0]))
    with journal.db.conn:  # the bench needs events, not durability: one fsync for the lot
        journal.db.execute("PRAGMA synchronous=OFF")
    for at, cmd in commands:
        ctl.handle(cmd, at)
        if journal.last_seq >= n:
            break
    payloads = [p.encode("utf-8") for (p,) in journal.db.execute("select payload from events order by seq")]
    journal.close()
    return payloads[:n]


def _best(variants: dict, payloads, repeat: int) -> dict[str, float]:
    """Best time of each variant over `repeat` rounds; the variants take turns within a round,
    so a busy machine slows them alike."""
    best = {name: float("inf") for name in variants}
    for _ in range(repeat):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            for p in payloads:
                fn(p)
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def _schema_before_refusals(payload: bytes) -> dict:
    """parse_json + check_event as they were before central refused duplicate keys, a `day`
    other than the local date of `ts` and a `ts` ahead of its clock: the baseline of those
    checks' cost (the same steps, without them)."""
    import msgspec

    from kiosk.core import schema

    if len(payload) > schema.MAX_PAYLOAD or not payload:
        raise schema.Invalid("size")
    bytes(payload).decode("utf-8")
    doc = msgspec.json.decode(payload)
    if not isinstance(doc, dict) or schema.ENVELOPE_KEYS - doc.keys():
        raise schema.Invalid("keys")
    env = schema._convert(doc, schema.Envelope)
    if env.site != "demo" or env.kiosk != "kiosk-1":
        raise schema.Invalid("topic")
    schema.check_data(env.type, env.data)
    return doc


def run(n: int = 5000, repeat: int = 5, out=sys.stdout) -> dict:
    import msgspec

    from kiosk.wire.validate import check_event, parse_json

    with tempfile.TemporaryDirectory(prefix="schema-bench-") as tmp:
        payloads = sample_events(n, Path(tmp))
    now = dt.datetime.now(dt.timezone.utc)
    for p in payloads:  # the schema accepts every event the kiosk commits ...
        check_event(parse_json(p), "demo", "kiosk-1", now)
    payloads = [p for p in payloads if _before_accepts(p)]  # ... the baseline those of its day
    count = len(payloads)
    figures = _best({
        "json.loads only (floor, before)": lambda p: json.loads(p.decode("utf-8")),
        "msgspec decode only (floor, after)": msgspec.json.decode,
        "before: json + hand-written checks": lambda p: before(p, "demo", "kiosk-1"),
        "schema before the duplicate/day/ahead refusals": lambda p: _schema_before_refusals(p),
        "after: parse_json + check_event (schema)": lambda p: check_event(parse_json(p), "demo", "kiosk-1", now),
    }, payloads, repeat)
    print(f"central per-event validation, {count} events as the kiosk commits them, best of {repeat}:", file=out)
    base = figures["before: json + hand-written checks"]
    for name, secs in figures.items():
        print(f"  {name:<48} {secs / count * 1e6:7.2f} us/event  {count / secs:10.0f} events/s"
              f"  ({secs / base:4.2f} x before)", file=out)
    added = figures["after: parse_json + check_event (schema)"] - figures["schema before the duplicate/day/ahead refusals"]
    print(f"  duplicate keys, day = local date of ts, ts not ahead: {added / count * 1e6:+.2f} us/event "
          f"({figures['after: parse_json + check_event (schema)'] / figures['schema before the duplicate/day/ahead refusals']:.2f}"
          " x the schema without them)", file=out)
    # The kiosk side: the same check before each commit (before this round: none), beside the
    # durable commit it precedes.
    from kiosk.core import schema

    docs = [json.loads(p) for p in payloads]
    items = [(d["type"], d["data"], d["ts"], d["day"], d["operator"]) for d in docs]

    def pre_commit(item):
        schema.check_decided([(item[0], item[1])], ts=item[2], day=item[3], operator=item[4],
                             site="demo", kiosk="kiosk-1")

    kiosk_side = _best({"controller pre-commit check": pre_commit}, items, repeat)["controller pre-commit check"]
    commit = _commit_time(min(count, 300))
    print(f"kiosk: pre-commit schema check {kiosk_side / count * 1e6:7.2f} us/event, beside one durable "
          f"journal commit {commit * 1e6:9.1f} us (synchronous=FULL, same run)", file=out)
    result = {k: v / count for k, v in figures.items()}
    result["pre_commit"] = kiosk_side / count
    result["commit"] = commit
    return result


def _commit_time(n: int) -> float:
    """Median seconds of one durable journal.append of one event."""
    import statistics

    from kiosk.core.clock import TZ
    from kiosk.wire.journal import Journal

    with tempfile.TemporaryDirectory(prefix="schema-bench-commit-") as tmp:
        j = Journal(Path(tmp) / "j.db", "demo", "kiosk-1")
        at = dt.datetime(2026, 11, 23, 8, tzinfo=TZ)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            j.append([("sorted", {"pile": "faktura"})], at, at.date(), "ANNA")
            times.append(time.perf_counter() - t0)
        j.close()
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m kiosk_dev.schema_bench", description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=5000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    run(args.events, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
