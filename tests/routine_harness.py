"""Drive the pure routine without a journal: decide, stamp like the controller would, apply."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from kiosk.core import routine
from kiosk.core.clock import local_day, utc_iso
from kiosk.core.routine import Context, DayState


class PureDay:
    def __init__(self, ctx: Context | None = None, state: DayState | None = None):
        self.ctx = ctx or Context(operators=("ANNA", "BERT"), badges={"B-1": "BERT"})
        self.state = state or DayState()
        self.events: list[dict] = []
        self.seq = 0
        self.new_day: routine.Decision | None = None
        self.printer_takes: bool | None = True  # True: every label/slip prints; False: none; None: no answer
        self.learn_codes = False  # True: as the controller, ctx.earlier_codes from earlier days' events
        self._codes_day: dt.date | None = None

    def run(self, command: dict, now: dt.datetime) -> routine.Decision:
        """As the controller runs a command: a day change first (its own commit), then the step."""
        if self.learn_codes and self._codes_day != local_day(now):
            today = local_day(now)
            self.ctx = replace(self.ctx, earlier_codes=routine.earlier_codes(
                e for e in self.events if e["type"] in ("scan_accepted", "undone") and e["day"] < today.isoformat()))
            self._codes_day = today
        self.new_day = routine.rollover(self.state, now, self.ctx)
        if self.new_day is not None:
            self._commit(self.new_day, now)
        decision = routine.step(self.state, command, now, self.ctx)
        self._commit(decision, now)
        for job in decision.effects.prints:  # as the shell does: the printer's answer is recorded
            if job.job is not None and self.printer_takes is not None:
                report = {"cmd": "print_outcome", "job": job.job, "ok": self.printer_takes}
                if not self.printer_takes:
                    report["reason"] = "offline"
                self._commit(routine.step(self.state, report, now, self.ctx), now)
        return decision

    def _commit(self, decision: routine.Decision, now: dt.datetime) -> None:
        for kind, data in decision.events:
            self.seq += 1
            event = {"seq": self.seq, "id": f"event-{self.seq}", "type": kind, "data": data, "ts": utc_iso(now),
                     "day": (decision.day or local_day(now)).isoformat()}
            self.events.append(event)
            self.state = routine.apply(self.state, event)

    def summary(self) -> dict:
        return routine.summary(self.state)
