"""`kiosk example`: run the bundled example day through the simulator and show its summary."""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path

from . import simulate
from ..core.config import load


def script_lines() -> list[str]:
    return resources.files("kiosk.shelf").joinpath("examples/example-day.jsonl").read_text(encoding="utf-8").splitlines()


def main(args) -> int:
    config = load(args.config)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="kiosk-example-"))
    doc = simulate.run(script_lines(), config, out / "journal.db", out)
    for day in doc["days"]:
        print(f"Dag {day['day']}")
        for pile, n in day["counts"].items():
            print(f"  {pile:18} {n:3d} sorterade")
        scans = day["scans"]
        print(f"  skannade: {len(scans['accepted'])} godkända, {len(scans['rejected'])} avvisade")
        deadline = config.deadline.strftime("%H:%M")
        met = {True: "ja", False: "nej"}.get(day["deadline_met"], "pågår")
        print(f"  klart före {deadline}: {met}")
        for w in day["warnings"]:
            print(f"  varning: {w['text']}")
        for a in day["alerts"]:
            print(f"  larm till TL ({a['kind']}){' – återkallat' if a.get('cancelled') else ''}: {a['text']}")
        for p in day["prints"]:
            print(f"  utskrift {p['kind']}: {p['preview']}")
    for e in doc["errors"]:
        print(f"  fel på rad {e['line']}: {e['message']}")
    print(f"Journal och förhandsvisningar: {out}")
    return 1 if doc["errors"] else 0
