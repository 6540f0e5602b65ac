"""The controller: the one entry point for every command, from the touch UI, the scanner, the
badge reader or a script.

    result = controller.handle({"cmd": "scan", "code": "7350012345678"})

It asks the pure routine for a decision, commits the decision's events to the journal (durable
before anything is confirmed), folds them into the in-memory state, and returns a `Result` with
the Swedish message and the effects for the shell to carry out. On start it rebuilds the state
from the journal, so a restart or power cut loses nothing that was confirmed.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from dataclasses import dataclass, field, replace
from typing import Callable

from ..core import followup, routine, schema
from ..core.clock import local_day, utc_iso
from ..core.config import Config
from ..core.effects import Effects, Sound
from ..wire.journal import Journal
from ..core.routine import Context, DayState, Decision

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    status: str  # ok | rejected | error
    code: str
    message: str  # Swedish, for the screen
    effects: Effects = field(default_factory=Effects)
    events: tuple[dict, ...] = ()  # the events committed for this command
    data: dict = field(default_factory=dict)
    severity: str = "ok"  # ok | warning | error | alert: what the screen colours by

    @property
    def ok(self) -> bool:
        return self.status == routine.OK


def context_from(config: Config) -> Context:
    return Context(
        site=config.kiosk.site,
        kiosk=config.kiosk.id,
        operators=tuple(o.signature for o in config.operators),
        badges={o.badge: o.signature for o in config.operators if o.badge},
        barcode=config.barcode_rules(),
        deadline=config.deadline,
        envelope=config.envelope.name,
    )


class Controller:
    def __init__(self, config: Config, journal: Journal, clock):
        self.config = config
        self.journal = journal
        self.clock = clock
        self.ctx = context_from(config)
        self.listeners: list[Callable[[Result], None]] = []
        self._codes_day: dt.date | None = None  # the day ctx.earlier_codes was built for
        # Commands arrive from the UI thread and from the scanner/badge reader threads: one at a time.
        self._lock = threading.RLock()
        self.state = self._rebuild()

    def _rebuild(self) -> DayState:
        state = DayState()
        sign = self.journal.last_of_types(("signed_in", "signed_out"))
        last_day = self.journal.last_day()
        if last_day is not None:
            state = routine.replay(self.journal.events(day=last_day))
        operator = sign["data"]["operator"] if sign and sign["type"] == "signed_in" else None
        return replace(state, operator=operator)

    def handle(self, command: dict, now: dt.datetime | None = None) -> Result:
        """Run one command. `now` defaults to the injected clock."""
        if command.get("cmd") in ("login", "badge"):
            command = {**command, "clock_synced": bool(getattr(self.clock, "synced", False))}
        with self._lock:
            now = now or self.clock.now()
            self._learn_earlier_codes(now)
            new_day = self._rollover(now)
            result = self._commit(routine.step(self.state, command, now, self.ctx), now)
            return _after(new_day, result)

    def tick(self, now: dt.datetime | None = None) -> Result | None:
        """Let time pass (the UI calls this every few seconds): raises the 14:00 alert once."""
        with self._lock:
            return self._tick(now or self.clock.now())

    def _tick(self, now: dt.datetime) -> Result | None:
        new_day = self._rollover(now)
        decision = routine.step(self.state, routine.TICK, now, self.ctx)
        if decision.events:
            return _after(new_day, self._commit(decision, now))
        return new_day

    def _learn_earlier_codes(self, now: dt.datetime) -> None:
        """The codes accepted on earlier days (this journal), for the rules' `seen_before` flag:
        read once per local day, so the rules stay pure and a scan costs no query."""
        today = local_day(now, self.ctx.tz)
        if self._codes_day != today:
            events = self.journal.events_of_types(("scan_accepted", "undone"), before_day=today)
            self.ctx = replace(self.ctx, earlier_codes=routine.earlier_codes(events))
            self._codes_day = today

    def _rollover(self, now: dt.datetime) -> Result | None:
        """Midnight with the old day unfinished: settle the old day first (its own commit)."""
        decision = routine.rollover(self.state, now, self.ctx)
        if decision is None:
            return None
        result = self._commit(decision, now)
        return result if result.events else None

    def _commit(self, decision: Decision, now: dt.datetime) -> Result:
        events: list[dict] = []
        if decision.events:
            day = decision.day or local_day(now, self.ctx.tz)
            # The state after these events: the committed events differ only in id and seq, which
            # the state does not hold, so this fold is the new state once the commit succeeds.
            folded = routine.replay(routine.provisional(decision.events, now, self.ctx, day), self.state)
            # a sign-in carries the new operator, a sign-out the leaving one
            operator = folded.operator or routine.roll(self.state, day).operator
            try:  # the event schema central checks too: what is committed is what central accepts
                schema.check_decided(decision.events, ts=utc_iso(now), day=day.isoformat(), operator=operator,
                                     site=self.journal.site, kiosk=self.journal.kiosk,
                                     journal=getattr(self.journal, "journal_id", None))
            except schema.Invalid as exc:
                log.error("refused by the event schema, nothing recorded: %s (%s)", exc, decision.code)
                return Result(routine.ERROR, "invalid_event", schema.refusal_sv(exc),
                              effects=Effects(sound=Sound("error")), severity="error")
            try:
                events = self.journal.append(decision.events, now, day, operator)
            except sqlite3.Error as exc:
                log.error("journal write failed, nothing recorded: %s", exc)
                return Result(routine.ERROR, "storage_error", _storage_message(exc),
                              effects=Effects(sound=Sound("error")), severity="error")
            # Alerts are referred to by their event id (an undo cancels that alert), which only
            # the committed events carry: fold those ids into the state.
            self.state = _with_alert_ids(folded, events)
        result = Result(decision.status, decision.code, decision.message, decision.effects,
                        tuple(events), decision.data, decision.severity)
        for listener in list(self.listeners):
            try:
                listener(result)
            except Exception:  # an adapter's failure must never undo a committed command
                log.exception("effect listener failed")
        return result

    def summary(self, day: str | None = None) -> dict:
        if day is None or (self.state.day and day == self.state.day.isoformat()):
            return routine.summary(self.state)
        return followup.day_summaries(self.journal, [day])[0]

    @property
    def operator(self) -> str | None:
        return self.state.operator


def _with_alert_ids(state: DayState, events: list[dict]) -> DayState:
    """The provisional fold with the committed ids of its new alerts (same order, same day)."""
    ids = [e["id"] for e in events if e["type"] == "alert_raised" and e["day"] == (state.day and state.day.isoformat())]
    if not ids:
        return state
    alerts = list(state.alerts)
    for i, event_id in zip(range(len(alerts) - len(ids), len(alerts)), ids):
        alerts[i] = {**alerts[i], "id": event_id}
    return replace(state, alerts=tuple(alerts))


def _after(new_day: Result | None, result: Result) -> Result:
    """A command's result, preceded by the day change it triggered (message and events)."""
    if new_day is None:
        return result
    effects = replace(result.effects, alerts=new_day.effects.alerts + result.effects.alerts)
    severity = "alert" if effects.alerts else ("warning" if result.severity == "ok" else result.severity)
    return replace(result, message=f"{new_day.message} {result.message}".strip(), events=new_day.events + result.events,
                   effects=effects, severity=severity, data={**result.data, "new_day": new_day.data})


def _storage_message(exc: Exception) -> str:
    text = str(exc).lower()
    if "full" in text:
        return "Kunde inte spara: lagringen är full. Inget registrerades. Kontakta tekniker."
    return "Kunde inte spara. Inget registrerades. Försök igen, och kontakta tekniker om felet kvarstår."
