"""A deterministic, seeded stream of realistic commands spanning several days."""

from __future__ import annotations

import datetime as dt
import random

from kiosk.core.clock import TZ
from kiosk.core.domain import LETA_KUND_TYPES, PILES


def stream(seed: int, n: int) -> list[tuple[dt.datetime, dict]]:
    rnd = random.Random(seed)
    t = dt.datetime(2026, 11, 23, 7, 30, tzinfo=TZ)
    out: list[tuple[dt.datetime, dict]] = []
    while len(out) < n:
        t += dt.timedelta(seconds=rnd.randint(5, 240))
        if t.hour >= 17:  # next morning
            t = (t + dt.timedelta(days=1)).replace(hour=7, minute=30)
            out.append((t, {"cmd": "login", "operator": rnd.choice(["ANNA", "BERT"])}))
            continue
        r = rnd.random()
        if not out:
            cmd = {"cmd": "login", "operator": "ANNA"}
        elif r < 0.30:
            cmd = {"cmd": "sort", "pile": rnd.choice(PILES)}
            if cmd["pile"] == "leta_kund":
                cmd["letter"] = rnd.choice(LETA_KUND_TYPES)
            if cmd["pile"] == "tillfalliga":
                cmd["about"] = rnd.choice(["Priskompensation", "Bristfällig anläggning"])
        elif r < 0.31:
            cmd = {"cmd": "undo", "what": rnd.choice(["sort", "scan", "next_pile", "leta_kund", "date_check",
                                                      "remark", "temporary", "incoming"])}
        elif r < 0.33:
            cmd = {"cmd": "undo"}
        elif r < 0.36:
            cmd = {"cmd": "scan_phase"}
        elif r < 0.60:
            cmd = {"cmd": "scan", "code": f"7350{rnd.randint(0, 400):09d}"}
        elif r < 0.63:
            cmd = {"cmd": "scan", "code": rnd.choice(["", "x", "bad\x07code"])}
        elif r < 0.70:
            cmd = {"cmd": "next_pile", "confirm": rnd.random() < 0.7}
        elif r < 0.76:
            cmd = {"cmd": "leta_kund", "letter": rnd.choice(LETA_KUND_TYPES), "apartments": 0}
        elif r < 0.82:
            cmd = {"cmd": "date_check", "kind": "ovriga_brev",
                   "date": (t.date() + dt.timedelta(days=rnd.randint(-5, 10))).isoformat()}
        elif r < 0.87:
            cmd = {"cmd": "incoming", "kind": rnd.choice(["ovrigt", "bestridan", "autogiro"]),
                   "segment": "privat", "about": "brev"}
        elif r < 0.90:
            cmd = {"cmd": "remark", "code": "brevlada_full"}
        elif r < 0.92:
            cmd = {"cmd": "cover_slip"}
        elif r < 0.925:
            cmd = {"cmd": "close_day", "confirm": rnd.random() < 0.5}
        elif r < 0.93:
            cmd = {"cmd": rnd.choice(["reopen_day", "checklist", "late"]), "item": "wms_ticked",
                   "pile": rnd.choice(PILES), "code": f"7350{rnd.randint(0, 400):09d}"}
        else:
            cmd = {"cmd": "sort", "pile": "faktura"}
        out.append((t, cmd))
    return out


def handle_signed_in(ctl, start: dt.datetime, steps) -> None:
    """ANNA signs in at `start`, then each (seconds later, command) of `steps` goes to the
    controller; the event schema never refuses what the rules decided (no "invalid_event")."""
    at = start
    for gap, cmd in [(0, {"cmd": "login", "operator": "ANNA"})] + list(steps):
        at += dt.timedelta(seconds=gap)
        result = ctl.handle(cmd, at)
        assert result.code != "invalid_event", (cmd, result.message)
