"""Headless simulation: run a JSONL script of commands through the real controller and journal.

    kiosk simulate SCRIPT.jsonl [--db FILE] [--out DIR]

Each line is {"at": "<ISO 8601 with offset>", "cmd": "<name>", ...args}. The script's times drive
the clock; nothing reads the wall clock. Prints {"days": [...], "errors": [...]}.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from . import preview
from ..core import followup, routine
from ..core.clock import FixedClock, local_day, parse_iso
from ..core.config import Config
from .controller import Controller
from ..wire.journal import Journal

SCRIPT_COMMANDS = frozenset(routine.COMMANDS) - {"tick"} | {"printer"}
# {"cmd": "printer", "state": "offline"}: the simulated printer's state from then on (ok | offline |
# no_paper | error); labels and slips asked for while it is not ok fail and wait, and print when
# it is ok again (as the kiosk's printer retries them)
PRINTER_STATES = ("ok", "offline", "no_paper", "error")


def run(script_lines, config: Config, db: Path, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    journal = Journal(db, config.kiosk.site, config.kiosk.id)
    clock = None
    controller = None
    errors: list[dict] = []
    prints: dict[str, list[dict]] = {}
    printer = {"state": "ok", "waiting": []}
    last_at = None
    for number, raw in enumerate(script_lines, start=1):
        if not raw.strip():
            continue
        try:
            command = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append({"line": number, "message": f"not valid JSON: {exc.msg}"})
            continue
        if not isinstance(command, dict):
            errors.append({"line": number, "message": "a line must be a JSON object"})
            continue
        try:
            at = parse_iso(command.get("at"))
        except (ValueError, TypeError):
            errors.append({"line": number, "message": "bad or missing 'at': ISO 8601 with a UTC offset required"})
            continue
        if last_at is not None and at < last_at:
            errors.append({"line": number, "message": "time goes backwards: 'at' is earlier than the line before"})
            continue
        last_at = at
        name = command.get("cmd")
        if name not in SCRIPT_COMMANDS:
            errors.append({"line": number, "message": f"unknown command {name!r}"})
            continue
        if clock is None:
            clock = FixedClock(at)
            controller = Controller(config, journal, clock)
        clock.set(at)
        args = {k: v for k, v in command.items() if k != "at"}
        if name == "printer":
            if args.get("state") not in PRINTER_STATES:
                errors.append({"line": number, "message": f"printer state must be one of {', '.join(PRINTER_STATES)}"})
                continue
            printer["state"] = args["state"]
            if printer["state"] == "ok":
                for job in printer["waiting"]:
                    controller.handle({"cmd": "print_outcome", "job": job, "ok": True}, at)
                printer["waiting"] = []
            continue
        result = controller.handle(args, at)
        if result.status == routine.ERROR:
            errors.append({"line": number, "code": result.code, "message": result.message})
        day = local_day(at).isoformat()
        for job in result.effects.prints:
            n = sum(len(v) for v in prints.values()) + 1
            path = preview.save_png(job.layout, out / "prints" / f"{day}-{n:03d}-{job.kind}.png")
            prints.setdefault(day, []).append({"kind": job.kind, "preview": str(path)})
            if job.job is None:
                continue
            if printer["state"] == "ok":  # the simulator's printer (a folder of files) took it
                controller.handle({"cmd": "print_outcome", "job": job.job, "ok": True}, at)
            else:
                controller.handle({"cmd": "print_outcome", "job": job.job, "ok": False, "reason": printer["state"]}, at)
                printer["waiting"].append(job.job)
    days = []
    for summary in followup.day_summaries(journal):
        summary["prints"] = prints.get(summary["day"], [])
        days.append(summary)
    journal.close()
    return {"days": days, "errors": errors}


def main(args) -> int:
    from ..core.config import load

    config = load(args.config)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="kiosk-sim-"))
    db = Path(args.db) if args.db else out / "journal.db"
    with open(args.script, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    doc = run(lines, config, db, out)
    print(json.dumps(doc, ensure_ascii=False, indent=2))
    return 1 if doc["errors"] else 0
