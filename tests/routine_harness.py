"""Drive the pure routine without a journal: decide, stamp like the controller would, apply."""

from __future__ import annotations

import datetime as dt

from kiosk import routine
from kiosk.clock import local_day, utc_iso
from kiosk.routine import Context, DayState


class PureDay:
    def __init__(self, ctx: Context | None = None, state: DayState | None = None):
        self.ctx = ctx or Context(operators=("ANNA", "BERT"), badges={"B-1": "BERT"})
        self.state = state or DayState()
        self.events: list[dict] = []
        self.seq = 0

    def run(self, command: dict, now: dt.datetime) -> routine.Decision:
        decision = routine.step(self.state, command, now, self.ctx)
        for kind, data in decision.events:
            self.seq += 1
            event = {"seq": self.seq, "type": kind, "data": data, "ts": utc_iso(now),
                     "day": local_day(now).isoformat()}
            self.events.append(event)
            self.state = routine.apply(self.state, event)
        return decision

    def summary(self) -> dict:
        return routine.summary(self.state)
