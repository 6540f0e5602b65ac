"""The returpost routine as pure rules (DESIGN.md §3).

Two functions carry the whole routine:

- `decide(state, command, now, ctx)` checks a command against the day's state at time `now` and
  returns a `Decision`: the events to make durable, the Swedish message, and the effects.
- `apply(state, event)` folds one durable event into the state. `replay(events)` folds many, which
  is how the kiosk rebuilds its state from the journal after a restart.

No I/O, no clock reads, no randomness: the controller stamps events (id, seq, ts) and commits them.

Each routine step has one function below, named after it:
  step 1 `_sort`, step 2 `_scan_phase` / `_scan` / `_next_pile`, step 3 `_dodsbo_label`,
  step 4 `_cover_slip`, step 5 `_leta_kund`, steps 6-7 `_date_check` / `_stromavbrott_atgard`,
  step 8 `_incoming`, step 9 `_temporary`, step 10 `_remark`; the deadline `_tick`; midnight `rollover`;
  corrections `_undo`, `_close_day` / `_reopen_day`, `_late`, `_checklist`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping

from . import limits, printouts
from .barcode import BarcodeRules, check
from .clock import DEADLINE, TZ, deadline_for, local_day, parse_iso, utc_iso
from .domain import (
    CHECKLIST_ITEMS,
    DATE_CHECK_KINDS,
    DESTINATION_NAMES,
    DISCARD_WITHIN_DAYS,
    INCOMING_KINDS,
    LETA_KUND_TYPES,
    LETA_KUND_WMS,
    PILE_NAMES,
    PILES,
    POSTE_RESTANTE_CHECKLIST,
    REMARK_CODES,
    SCAN_ORDER,
    SEGMENTS,
    TO_SEKRETESSLADA_AFTER_SCAN,
)
from .effects import FAST_BLINK, SLOW_BLINK, STEADY, Alert, Effects, Lights, Print, Sound
from .personnummer import CENTURIES, CenturyNeeded, PersonnummerError
from .personnummer import parse as parse_personnummer
from .limits import journal_code

SORTING, SCANNING, SCANNED, CLOSED = "sorting", "scanning", "scanned", "closed"
MAX_CODE_IN_JOURNAL = 128
LETTERS_PER_COMMAND_MAX = 500  # `count` of one leta_kund command: a day's pile, not a typo's 10^15

# Outcome statuses of a decision.
OK = "ok"  # done, events to commit
REJECTED = "rejected"  # a domain rejection (a duplicate scan, recorded) or a question (confirm_needed)
ERROR = "error"  # refused: nothing is recorded

# Severity: the one thing a screen colours by (green / amber / red / red), with words and an icon.
SEVERITIES = ("ok", "warning", "error", "alert")

# The record kinds `undo` can take back (`what`).
UNDO_KINDS = ("sort", "scan", "next_pile", "leta_kund", "date_check", "remark", "temporary", "incoming")
UNDO_NAMES = {"sort": "sortering", "scan": "skanning", "next_pile": "Klar – nästa hög", "leta_kund": "Leta Kund-brev",
              "date_check": "datumbeslut", "remark": "anmärkning", "temporary": "tillfälligt utskick",
              "incoming": "inkommet brev"}
WARNING_KINDS = ("missing_scans", "extra_scans", "labels_missing", "cover_slip_missing", "unscanned")


@dataclass(frozen=True)
class Context:
    """What the rules need from configuration."""

    site: str = "site"
    kiosk: str = "kiosk"
    operators: tuple[str, ...] = ()  # allowed signatures; empty: anyone may sign in
    badges: dict[str, str] = field(default_factory=dict)  # badge id -> signature
    barcode: BarcodeRules = field(default_factory=BarcodeRules)
    deadline: dt.time = DEADLINE
    tz: Any = TZ
    envelope: str = "C5-kuvert utan fönster"  # config [envelope] name: the sekretess envelope
    # codes accepted on earlier days in this kiosk's journal -> the first such local day (ISO);
    # built by the shell from the journal (`earlier_codes`), so the rules stay pure
    earlier_codes: Mapping[str, str] = field(default_factory=dict)

    @property
    def deadline_text(self) -> str:
        return self.deadline.strftime("%H:%M")


@dataclass(frozen=True)
class DayState:
    day: dt.date | None = None
    operator: str | None = None
    phase: str = SORTING
    phase_before_close: str | None = None  # what reopen_day returns to
    counts: dict[str, int] = field(default_factory=lambda: {p: 0 for p in PILES})
    scan_index: int = 0  # index into SCAN_ORDER while scanning
    scanned: dict[str, int] = field(default_factory=lambda: {p: 0 for p in SCAN_ORDER})
    accepted: tuple[dict, ...] = ()
    rejected: tuple[dict, ...] = ()
    last_scan_rejected: bool = False  # the latest scan of the current pile was refused
    sorts: tuple[str, ...] = ()  # step 1 sorts in order (pile ids), for undo
    # letters sorted in step 1 onto the piles whose letters are also registered one by one
    # (RECORD_PILES); the pile's count is the larger of the two: one letter, one count
    piled: dict[str, int] = field(default_factory=lambda: {"inkomna_brev": 0, "tillfalliga": 0})
    recent: tuple[str, ...] = ()  # undoable record kinds in order (see UNDO_KINDS)
    scan_done_at: str | None = None
    deadline_met: bool | None = None  # None: pending (deadline not passed, scanning unfinished)
    deadline_met_before_close: bool | None = None
    leta_kund: dict[str, int] = field(default_factory=lambda: {**{t: 0 for t in LETA_KUND_TYPES}, "apartments": 0})
    leta_kund_log: tuple[dict, ...] = ()
    decisions: tuple[dict, ...] = ()
    cab: tuple[dict, ...] = ()
    alerts: tuple[dict, ...] = ()  # {"kind","text","at","id","link","cancelled"}
    temporary: tuple[dict, ...] = ()
    remarks: tuple[dict, ...] = ()
    checklist: dict[str, int] = field(default_factory=lambda: {k: 0 for k in CHECKLIST_ITEMS})
    labels_printed: int = 0  # dödsbo labels the printer took (reprints not included)
    label_reprints: int = 0  # extra labels the printer took
    cover_slips_printed: int = 0  # cover slips the printer took
    covered: int = 0  # sekretess invoices covered by a cover slip the printer took
    # Every label and cover slip asked for today, in order: {"job", "kind", "reprint", "count",
    # "state": queued|printed|failed, "reason"}. A print counts when the printer took it
    # (`print_done`); until then it is queued, or failed (`print_failed`, e.g. printer offline).
    prints: tuple[dict, ...] = ()
    summary_printed: int = 0
    closed_by: str | None = None  # "operator" | "midnight"
    reopened: int = 0
    started: bool = False  # anything happened this day
    accepted_codes: frozenset[str] = frozenset()  # derived from `accepted`, kept for speed

    @property
    def scan_phase(self) -> str:
        """The scanning phase, also of a closed day (what it was when it closed)."""
        return (self.phase_before_close or SORTING) if self.phase == CLOSED else self.phase

    @property
    def current_pile(self) -> str | None:
        if self.phase == SCANNING and self.scan_index < len(SCAN_ORDER):
            return SCAN_ORDER[self.scan_index]
        return None

    def pile_scan_started(self, pile: str) -> bool:
        """Has scanning reached this pile (it is current or finished)?"""
        phase = self.scan_phase
        if pile not in SCAN_ORDER or phase == SORTING:
            return False
        if phase == SCANNED:
            return True
        return SCAN_ORDER.index(pile) <= self.scan_index

    def pile_scanned(self, pile: str) -> bool:
        """Is this pile's scanning finished?"""
        phase = self.scan_phase
        if phase == SCANNED:
            return True
        return phase == SCANNING and SCAN_ORDER.index(pile) < self.scan_index

    def unfinished_piles(self) -> list[str]:
        """Barcoded piles with letters sorted whose scanning is not finished."""
        return [p for p in SCAN_ORDER if self.counts.get(p, 0) > 0 and not self.pile_scanned(p)]

    def has_barcoded_mail(self) -> bool:
        """Has a barcoded letter been sorted or scanned today (a day without is neither met nor missed)?"""
        return any(self.counts.get(p, 0) > 0 or self.scanned.get(p, 0) > 0 for p in SCAN_ORDER)

    def deadline_alerted(self) -> bool:
        return any(a["kind"] == "deadline_missed" and not a["cancelled"] for a in self.alerts)

    def print_jobs(self, kind: str, *states: str) -> list[dict]:
        """Today's label or cover slip jobs of `kind` in one of `states` (all states if none)."""
        return [p for p in self.prints if p["kind"] == kind and (not states or p["state"] in states)]

    def covered_or_coming(self) -> int:
        """Sekretess invoices covered by a cover slip that printed or still waits to print (a
        failed slip covers nothing: the next slip covers its invoices again)."""
        return sum(p["count"] for p in self.print_jobs("cover_slip", PRINTED, QUEUED) if not p["reprint"])

    def labels_printed_or_coming(self) -> int:
        return sum(1 for p in self.print_jobs("dodsbo_label", PRINTED, QUEUED) if not p["reprint"])


def _default_severity(status: str, effects: Effects) -> str:
    if effects.alerts:
        return "alert"
    return {OK: "ok", REJECTED: "warning"}.get(status, "error")


@dataclass(frozen=True)
class Decision:
    status: str  # OK | REJECTED | ERROR
    code: str  # machine-readable outcome: accepted, duplicate, invalid, step_order, ...
    message: str  # Swedish, for the screen
    events: tuple[tuple[str, dict], ...] = ()
    effects: Effects = field(default_factory=Effects)
    data: dict = field(default_factory=dict)  # extra result for the caller (CAB case, decision, ...)
    severity: str = ""  # ok | warning | error | alert; "" = from status and effects
    day: dt.date | None = None  # the day the events belong to; None = the local day of `now`

    def __post_init__(self):
        if not self.severity:
            object.__setattr__(self, "severity", _default_severity(self.status, self.effects))
        elif self.effects.alerts:
            object.__setattr__(self, "severity", "alert")

    @property
    def ok(self) -> bool:
        return self.status == OK


def _error(code: str, message: str, **kw) -> Decision:
    return Decision(ERROR, code, message, effects=Effects(sound=Sound("error")), **kw)


# ---------------------------------------------------------------------------------------------
# Folding events into state
# ---------------------------------------------------------------------------------------------


def roll(state: DayState, day: dt.date) -> DayState:
    """The state at the start of `day`: the same operator, everything else new."""
    if state.day == day:
        return state
    return DayState(day=day, operator=state.operator)


def apply(state: DayState, event: dict) -> DayState:
    """Fold one durable event (as the journal holds it) into the state of its day."""
    day = dt.date.fromisoformat(event["day"])
    state = roll(state, day)
    kind, data, at = event["type"], event.get("data") or {}, event["ts"]
    state = replace(state, started=True) if kind not in ("signed_in", "signed_out") else state
    if kind == "alert_raised":
        return _a_alert_raised(state, data, at, event.get("id"))
    handler = _APPLY.get(kind)
    return handler(state, data, at) if handler else state


def replay(events, state: DayState | None = None) -> DayState:
    state = state or DayState()
    for event in events:
        state = apply(state, event)
    return state


def _bump(mapping: dict[str, int], key: str, by: int = 1) -> dict[str, int]:
    return {**mapping, key: max(0, mapping.get(key, 0) + by)}


def _drop_last(items: tuple, match: Callable[[Any], bool]) -> tuple[tuple, Any]:
    for i in range(len(items) - 1, -1, -1):
        if match(items[i]):
            return items[:i] + items[i + 1:], items[i]
    return items, None


def _a_signed_in(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, operator=d["operator"])


def _a_signed_out(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, operator=None)


# Piles whose letters are also registered one by one (step 8's CAB cases, step 9's mailings): a
# letter counts once, by whichever step sees it first. The pile's count is the larger of the letters
# sorted onto it and the letters registered, so registering a letter sorted there already does not
# count it again, and registering one never sorted counts it.
RECORD_PILES = {"inkomna_brev": "cab", "tillfalliga": "temporary"}


def _recount(s: DayState) -> DayState:
    counts = dict(s.counts)
    for pile, attr in RECORD_PILES.items():
        counts[pile] = max(s.piled.get(pile, 0), len(getattr(s, attr)))
    return replace(s, counts=counts)


def _a_sorted(s: DayState, d: dict, at: str) -> DayState:
    if d["pile"] in RECORD_PILES:
        s = _recount(replace(s, piled=_bump(s.piled, d["pile"])))
    else:
        s = replace(s, counts=_bump(s.counts, d["pile"]))
    if d.get("late"):
        return s
    return replace(s, sorts=s.sorts + (d["pile"],), recent=s.recent + ("sort",))


def _a_undone(s: DayState, d: dict, at: str) -> DayState:
    what = d["what"]
    recent, _ = _drop_last(s.recent, lambda w: w == what)
    s = replace(s, recent=recent)
    if what == "sort":
        sorts, _ = _drop_last(s.sorts, lambda p: p == d["pile"])
        if d["pile"] in RECORD_PILES:
            return _recount(replace(s, piled=_bump(s.piled, d["pile"], -1), sorts=sorts))
        return replace(s, counts=_bump(s.counts, d["pile"], -1), sorts=sorts)
    if what == "scan":
        accepted, gone = _drop_last(s.accepted, lambda a: a["code"] == d["code"])
        if gone is None:
            return s
        s = replace(s, accepted=accepted, accepted_codes=s.accepted_codes - {d["code"]},
                    scanned=_bump(s.scanned, gone["pile"], -1), last_scan_rejected=False)
        if gone.get("late"):
            s = replace(s, counts=_bump(s.counts, gone["pile"], -1))
        return s
    if what == "next_pile":
        if s.phase == SCANNED:
            s = replace(s, phase=SCANNING, scan_index=len(SCAN_ORDER) - 1, last_scan_rejected=False)
            if d.get("after_deadline"):  # the verdict was settled at the deadline: a correction keeps it
                return s
            return replace(s, scan_done_at=None, deadline_met=False if s.deadline_alerted() else None)
        return replace(s, scan_index=max(0, s.scan_index - 1), last_scan_rejected=False)
    if what == "leta_kund":
        log, gone = _drop_last(s.leta_kund_log, lambda e: True)
        if gone is None:
            return s
        lk = _bump(_bump(s.leta_kund, gone["letter"], -gone["count"]), "apartments", -gone["apartments"])
        return replace(s, leta_kund_log=log, leta_kund=lk, counts=_bump(s.counts, "leta_kund", -gone["count"]))
    if what in ("date_check", "remark", "temporary", "incoming"):
        attr = {"date_check": "decisions", "remark": "remarks", "temporary": "temporary", "incoming": "cab"}[what]
        return _recount(replace(s, **{attr: getattr(s, attr)[:-1]}))
    return s


def _a_scan_phase_started(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, phase=SCANNING, scan_index=0, last_scan_rejected=False)


def _a_scan_accepted(s: DayState, d: dict, at: str) -> DayState:
    entry = {"code": d["code"], "pile": d["pile"], "at": at}
    if d.get("late"):
        entry["late"] = True
    if d.get("seen_before"):
        entry["seen_before"] = d["seen_before"]
    if d.get("deadline_met") is True and s.deadline_met is None:  # a late letter before the deadline
        s = replace(s, deadline_met=True)
    return replace(
        s,
        accepted=s.accepted + (entry,),
        accepted_codes=s.accepted_codes | {d["code"]},
        scanned=_bump(s.scanned, d["pile"]),
        recent=s.recent + ("scan",),
        last_scan_rejected=False,
    )


def _a_scan_rejected(s: DayState, d: dict, at: str) -> DayState:
    # a refused late letter is not the current pile's scan: plain undo still takes that pile's last
    return replace(s, rejected=s.rejected + ({"code": d["code"], "reason": d["reason"], "pile": d.get("pile"), "at": at},),
                   last_scan_rejected=s.last_scan_rejected if d.get("late") else True)


def _a_pile_done(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, scan_index=s.scan_index + 1, recent=s.recent + ("next_pile",), last_scan_rejected=False)


def _a_scanning_done(s: DayState, d: dict, at: str) -> DayState:
    met = False if s.deadline_met is False else d.get("deadline_met")
    # after a correction past the deadline the first finish stands (scan_done_at kept by the undo)
    return replace(s, phase=SCANNED, scan_done_at=s.scan_done_at or at, deadline_met=met)


# A label's or cover slip's print job: asked for (queued), then printed or failed by the printer.
QUEUED, PRINTED, FAILED = "queued", "printed", "failed"
PRINT_KINDS = {"dodsbo_label_printed": "dodsbo_label", "cover_slip_printed": "cover_slip"}


def print_job_id(s: DayState, kind: str) -> str:
    """The id of the next `kind` print job today: kind and number (the journal's order makes it
    the same on every replay, at the kiosk and at central)."""
    return f"{kind}-{len(s.print_jobs(kind)) + 1}"


def _with_print_counts(s: DayState) -> DayState:
    """The counts the screens and the follow-up row show: only what the printer took."""
    labels, slips = s.print_jobs("dodsbo_label", PRINTED), s.print_jobs("cover_slip", PRINTED)
    return replace(s, labels_printed=sum(1 for p in labels if not p["reprint"]),
                   label_reprints=sum(1 for p in labels if p["reprint"]),
                   cover_slips_printed=len(slips), covered=sum(p["count"] for p in slips if not p["reprint"]))


def _a_print_asked(s: DayState, d: dict, at: str, kind: str) -> DayState:
    # Asked for by a kiosk before print outcomes were recorded (no job id): counted as printed,
    # as it was then.
    job = d.get("job")
    entry = {"job": job, "kind": kind, "reprint": bool(d.get("reprint")), "count": int(d.get("count") or 0),
             "state": QUEUED if job else PRINTED, "reason": None, "at": at}
    return _with_print_counts(replace(s, prints=s.prints + (entry,)))


def _a_dodsbo_label_printed(s: DayState, d: dict, at: str) -> DayState:
    return _a_print_asked(s, d, at, "dodsbo_label")


def _a_cover_slip_printed(s: DayState, d: dict, at: str) -> DayState:
    return _a_print_asked(s, d, at, "cover_slip")


def _print_outcome_folded(s: DayState, d: dict, state: str) -> DayState:
    prints = tuple({**p, "state": state, "reason": d.get("reason")} if p["job"] == d["job"] else p for p in s.prints)
    return _with_print_counts(replace(s, prints=prints))


def _a_print_done(s: DayState, d: dict, at: str) -> DayState:
    return _print_outcome_folded(s, d, PRINTED)


def _a_print_failed(s: DayState, d: dict, at: str) -> DayState:
    return _print_outcome_folded(s, d, FAILED)


def _a_alert_delivered(s: DayState, d: dict, at: str) -> DayState:
    alerts = tuple({**a, "delivered_at": d["at"]} if a["id"] == d["alert"] else a for a in s.alerts)
    return replace(s, alerts=alerts)


def _a_leta_kund_counted(s: DayState, d: dict, at: str) -> DayState:
    count, apartments = int(d.get("count", 1)), int(d.get("apartments", 0))
    lk = _bump(_bump(s.leta_kund, d["letter"], count), "apartments", apartments)
    entry = {"letter": d["letter"], "count": count, "apartments": apartments}
    return replace(s, leta_kund=lk, counts=_bump(s.counts, "leta_kund", count),
                   leta_kund_log=s.leta_kund_log + (entry,), recent=s.recent + ("leta_kund",))


def _a_date_checked(s: DayState, d: dict, at: str) -> DayState:
    entry = {"kind": d["kind"], "date": d.get("date"), "decision": d["decision"], "slot": d["slot"]}
    return replace(s, decisions=s.decisions + (entry,), recent=s.recent + ("date_check",))


def _a_incoming_registered(s: DayState, d: dict, at: str) -> DayState:
    return _recount(replace(s, cab=s.cab + (dict(d["cab"]),), recent=s.recent + ("incoming",)))


def _a_temporary_counted(s: DayState, d: dict, at: str) -> DayState:
    return _recount(replace(s, temporary=s.temporary + ({"about": d["about"], "at": at},),
                            recent=s.recent + ("temporary",)))


# The record an alert of this kind belongs to: the one folded just before it, in the same command.
_ALERT_RECORD = {"bestridan": ("incoming", "cab"), "tillfalliga": ("temporary", "temporary")}


def _a_alert_raised(s: DayState, d: dict, at: str, event_id: str | None = None) -> DayState:
    link = None
    if d["kind"] in _ALERT_RECORD:
        what, attr = _ALERT_RECORD[d["kind"]]
        link = [what, len(getattr(s, attr)) - 1]
    entry = {"kind": d["kind"], "text": d["text"], "at": at, "id": event_id, "link": link, "cancelled": False,
             "cancelled_at": None, "delivered_at": None}
    s = replace(s, alerts=s.alerts + (entry,))
    if d["kind"] == "deadline_missed":
        s = replace(s, deadline_met=False)
    return s


def _a_alert_cancelled(s: DayState, d: dict, at: str) -> DayState:
    alerts = list(s.alerts)
    for i in range(len(alerts) - 1, -1, -1):
        a = alerts[i]
        if not a["cancelled"] and a["kind"] == d["kind"] and (d.get("alert") is None or a["id"] == d["alert"]):
            alerts[i] = {**a, "cancelled": True, "cancelled_at": at}
            break
    return replace(s, alerts=tuple(alerts))


def _a_remark_logged(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, remarks=s.remarks + (dict(d),), recent=s.recent + ("remark",))


def _a_checklist_ticked(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, checklist=_bump(s.checklist, d["item"], 1 if d.get("done", True) else -1))


def _a_day_closed(s: DayState, d: dict, at: str) -> DayState:
    if s.phase == CLOSED:
        return s
    met = s.deadline_met
    if met is None and s.has_barcoded_mail():
        met = not s.unfinished_piles()
    by = d.get("reason") or "operator"
    return replace(s, phase=CLOSED, phase_before_close=s.phase, deadline_met_before_close=s.deadline_met,
                   deadline_met=met, closed_by=by,
                   summary_printed=s.summary_printed + (0 if by == "midnight" else 1))


def _a_day_reopened(s: DayState, d: dict, at: str) -> DayState:
    if s.phase != CLOSED:
        return s
    met = False if s.deadline_alerted() else s.deadline_met_before_close
    if d.get("after_deadline") and s.deadline_met is not None:
        met = s.deadline_met  # the verdict the close settled after the deadline stands
    return replace(s, phase=s.phase_before_close or SORTING, phase_before_close=None, deadline_met=met,
                   closed_by=None, reopened=s.reopened + 1)


_APPLY: dict[str, Callable[[DayState, dict, str], DayState]] = {
    "signed_in": _a_signed_in,
    "signed_out": _a_signed_out,
    "sorted": _a_sorted,
    "undone": _a_undone,
    "scan_phase_started": _a_scan_phase_started,
    "scan_accepted": _a_scan_accepted,
    "scan_rejected": _a_scan_rejected,
    "pile_done": _a_pile_done,
    "scanning_done": _a_scanning_done,
    "dodsbo_label_printed": _a_dodsbo_label_printed,
    "cover_slip_printed": _a_cover_slip_printed,
    "leta_kund_counted": _a_leta_kund_counted,
    "date_checked": _a_date_checked,
    "incoming_registered": _a_incoming_registered,
    "temporary_counted": _a_temporary_counted,
    "alert_raised": _a_alert_raised,
    "alert_cancelled": _a_alert_cancelled,
    "alert_delivered": _a_alert_delivered,
    "print_done": _a_print_done,
    "print_failed": _a_print_failed,
    "remark_logged": _a_remark_logged,
    "checklist_ticked": _a_checklist_ticked,
    "day_closed": _a_day_closed,
    "day_reopened": _a_day_reopened,
}

EVENT_TYPES: frozenset[str] = frozenset(_APPLY)


# ---------------------------------------------------------------------------------------------
# Warnings a TL reads (derived from the state, so an undo corrects them)
# ---------------------------------------------------------------------------------------------


def warnings(s: DayState, closing: bool = False) -> list[dict]:
    """The day's warnings. `closing`: as if the day closed now (adds `unscanned` piles)."""
    closing = closing or s.phase == CLOSED
    out: list[dict] = []
    for pile in SCAN_ORDER:
        sorted_, scanned = s.counts.get(pile, 0), s.scanned.get(pile, 0)
        name = PILE_NAMES[pile]
        if scanned > sorted_:
            out.append({"kind": "extra_scans", "pile": pile, "sorted": sorted_, "scanned": scanned,
                        "text": f"{name}: fler skannade ({scanned}) än sorterade ({sorted_})."})
        if s.pile_scanned(pile):
            if scanned < sorted_:
                out.append({"kind": "missing_scans", "pile": pile, "sorted": sorted_, "scanned": scanned,
                            "text": f"{name}: {sorted_ - scanned} av {sorted_} är inte skannade."})
        elif closing and sorted_ > 0:
            out.append({"kind": "unscanned", "pile": pile, "sorted": sorted_, "scanned": scanned,
                        "text": f"{name}: högen skannades aldrig klart ({scanned} av {sorted_})."})
    if (s.pile_scanned("dodsbo") or closing) and s.scanned["dodsbo"] > s.labels_printed:
        n = s.scanned["dodsbo"] - s.labels_printed
        out.append({"kind": "labels_missing", "pile": "dodsbo", "scanned": s.scanned["dodsbo"],
                    "labels": s.labels_printed, "text": f"Dödsbo: {n} utan personnummer-etikett."})
    if (s.pile_scanned("sekretess") or closing) and s.scanned["sekretess"] > s.covered:
        out.append({"kind": "cover_slip_missing", "pile": "sekretess", "scanned": s.scanned["sekretess"],
                    "covered": s.covered,
                    "text": f"Sekretess: {s.scanned['sekretess'] - s.covered} utan försättsblad."})
    return out + print_warnings(s) + alert_warnings(s)


PRINT_NAMES = {"dodsbo_label": ("dödsbo-etikett", "dödsbo-etiketter"), "cover_slip": ("försättsblad", "försättsblad")}


def print_warnings(s: DayState) -> list[dict]:
    """Labels and cover slips asked for that the printer has not taken: waiting or failed."""
    out = []
    for kind, (one, many) in PRINT_NAMES.items():
        for state, what in ((QUEUED, "väntar på skrivaren"), (FAILED, "skrevs inte ut")):
            n = len(s.print_jobs(kind, state))
            if n:
                out.append({"kind": f"print_{state}", "print": kind, "jobs": n,
                            "text": f"{n} {one if n == 1 else many} {what}."})
    return out


ALERT_NAMES = {"bestridan": "larmet om bestridan", "deadline_missed": "larmet om skanningen",
               "tillfalliga": "frågan om tillfälligt utskick"}


def alert_warnings(s: DayState) -> list[dict]:
    """Alerts of today that central has not reported delivered to a TL."""
    return [{"kind": "alert_unconfirmed", "alert": a["id"], "alert_kind": a["kind"],
             "text": f"Ingen bekräftelse på att TL fått {ALERT_NAMES.get(a['kind'], 'larmet')}."}
            for a in s.alerts if not a["cancelled"] and not a.get("delivered_at")]


# ---------------------------------------------------------------------------------------------
# Deciding commands
# ---------------------------------------------------------------------------------------------

# What the shell reports without anyone signed in, also on a closed day: the printer took or refused a
# job asked for earlier, central confirmed an alert's delivery.
REPORTS = frozenset({"print_outcome", "alert_delivered"})
COMMANDS_WITHOUT_LOGIN = frozenset({"login", "badge", "tick"}) | REPORTS
# What a closed day still takes: sign-in/out, time, reopening it, a bestridan that needs the TL
# now (incoming), and the checklist ticks of work done.
COMMANDS_ON_CLOSED_DAY = frozenset({"login", "badge", "logout", "tick", "reopen_day", "incoming", "checklist"}) | REPORTS


class ArgError(ValueError):
    """A command lacks an argument or carries a malformed one (message in Swedish)."""

    def __init__(self, message: str, code: str = "bad_argument"):
        super().__init__(message)
        self.code = code


def _arg(cmd: dict, name: str, kind: type = str, choices=None, required: bool = True, default=None):
    if name not in cmd or cmd[name] is None:
        if required:
            raise ArgError(f"Uppgift saknas: {name}.")
        return default
    value = cmd[name]
    if kind is int and isinstance(value, bool):
        raise ArgError(f"{name} måste vara ett heltal.")
    if not isinstance(value, kind):
        raise ArgError(f"{name} har fel typ.")
    if kind is str and isinstance(value, str):
        value = value.strip() if name != "code" else value
        if required and value == "" and name != "code":
            raise ArgError(f"Uppgift saknas: {name}.")
    if choices is not None and value not in choices:
        raise ArgError(f"Okänt värde för {name}.")
    return value


def _text_arg(cmd: dict, name: str, required: bool = True) -> str | None:
    """Free text (`about`): trimmed, at most limits.FREE_TEXT_MAX printable characters."""
    value = _arg(cmd, name, required=required)
    if value is None:
        return None
    value = limits.clean_text(value)
    if not value:
        if required:
            raise ArgError(f"Uppgift saknas: {name}.")
        return None
    if len(value) > limits.FREE_TEXT_MAX:
        raise ArgError(f"Texten är för lång: högst {limits.FREE_TEXT_MAX} tecken (nu {len(value)}).")
    if limits.unprintable(value) is not None:
        raise ArgError(f"Texten innehåller ett otillåtet tecken. Använd bokstäver, siffror, skiljetecken och "
                       f"mellanslag (högst {limits.FREE_TEXT_MAX} tecken).")
    if limits.has_personnummer(value):
        raise ArgError(limits.PERSONNUMMER_IN_TEXT_SV, code="personnummer_in_text")
    return value


def _int_arg(cmd: dict, name: str, default: int, low: int, high: int) -> int:
    value = _arg(cmd, name, int, required=False, default=default)
    if not low <= value <= high:
        raise ArgError(f"{name} ska vara mellan {low} och {high}.")
    return value


def _bool_arg(cmd: dict, name: str, default: bool = False) -> bool:
    value = cmd.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ArgError(f"{name} ska vara true eller false.")
    return value


def _date_arg(cmd: dict, name: str, today: dt.date) -> dt.date:
    """A letter's date: strictly ÅÅÅÅ-MM-DD, from a year back to two years ahead."""
    first = today - dt.timedelta(days=limits.DATE_PAST_DAYS)
    last = today + dt.timedelta(days=limits.DATE_FUTURE_DAYS)
    message = f"Datumet ska skrivas ÅÅÅÅ-MM-DD och ligga mellan {first.isoformat()} och {last.isoformat()}."
    value = cmd.get(name)
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise ArgError(message)
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        raise ArgError(message) from None
    if not first <= date <= last:
        raise ArgError(message)
    return date


_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def decide(state: DayState, command: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Check one command against the state of the day at `now`."""
    today = local_day(now, ctx.tz)
    state = roll(state, today)
    name = command.get("cmd")
    handler = _DECIDE.get(name) if isinstance(name, str) else None
    if handler is None:
        return _error("unknown_command", "Okänt kommando.")
    if name not in COMMANDS_WITHOUT_LOGIN and not state.operator:
        return _error("not_signed_in", "Logga in först: tryck på din signatur eller blippa din tagg.")
    if state.phase == CLOSED and name not in COMMANDS_ON_CLOSED_DAY:
        return _error("day_closed", "Dagen är avslutad. Öppna dagen igen för att registrera mer, "
                                    "eller registrera brevet i morgon.")
    try:
        return handler(state, command, now, ctx)
    except ArgError as exc:
        return _error(exc.code, str(exc))


TICK = {"cmd": "tick"}


def step(state: DayState, command: dict, now: dt.datetime, ctx: Context) -> Decision:
    """A command as the kiosk runs it: the deadline check, the command, the deadline check again
    (a sign-in after the deadline may start the day late), as one decision whose events are
    committed together, so a crash keeps all of them or none.

    A day change is not part of it: call `rollover` first (its events belong to the old day)."""
    pre = decide(state, TICK, now, ctx)
    if command.get("cmd") == "tick":
        return pre
    state = replay(provisional(pre.events, now, ctx), state)
    main = decide(state, command, now, ctx)
    state = replay(provisional(main.events, now, ctx), state)
    post = decide(state, TICK, now, ctx)
    if not pre.events and not post.events:
        return main
    alerts = pre.effects.alerts + main.effects.alerts + post.effects.alerts
    message = " ".join(m for m in (pre.message, main.message, post.message) if m)
    return replace(main, events=pre.events + main.events + post.events, message=message,
                   effects=replace(main.effects, alerts=alerts))


def rollover(state: DayState, now: dt.datetime, ctx: Context) -> Decision | None:
    """Midnight: the local day changed while the old day's scanning was unfinished. The old day
    gets its warnings (a `day_closed` with reason "midnight" and what was unfinished) and, if a
    barcoded pile was left and no TL alert went yet, the deadline alert; the new day starts in
    sorting. Returns None when there is nothing to settle. The events belong to `state.day`."""
    today = local_day(now, ctx.tz)
    if state.day is None or state.day >= today or not state.started or state.phase == CLOSED:
        return None
    if state.phase != SCANNING and not state.unfinished_piles():
        return None
    events: list[tuple[str, dict]] = []
    alerts: tuple[Alert, ...] = ()
    if _deadline_open(state):
        text = _deadline_text(ctx)
        events.append(("alert_raised", {"kind": "deadline_missed", "text": text}))
        alerts = (Alert("deadline_missed", text),)
    events.append(("day_closed", {"reason": "midnight", "unfinished": warnings(state, closing=True)}))
    message = (f"En ny dag har börjat ({today.isoformat()}): börja med att sortera. Skanningen "
               f"{state.day.isoformat()} blev inte klar – det står i den dagens sammanställning.")
    return Decision(OK, "new_day", message, tuple(events), effects=Effects(lights=Lights(), alerts=alerts),
                    data={"day": today.isoformat(), "previous_day": state.day.isoformat()},
                    severity="warning", day=state.day)


def provisional(items, now: dt.datetime, ctx: Context, day: dt.date | None = None) -> list[dict]:
    """Events as the journal will stamp them (without id and seq), to fold before committing."""
    from .clock import utc_iso

    ts, day_text = utc_iso(now), (day or local_day(now, ctx.tz)).isoformat()
    return [{"type": kind, "data": data, "ts": ts, "day": day_text} for kind, data in items]


def _ok(code: str, message: str, events=(), **kw) -> Decision:
    return Decision(OK, code, message, events=tuple(events), **kw)


def _confirm(code_data: dict, message: str) -> Decision:
    return Decision(REJECTED, "confirm_needed", message, data=code_data, severity="warning")


def _signed_in(operator: str, c: dict) -> Decision:
    """Sign-in records whether the kiosk's clock was NTP-synchronised (the shell says so)."""
    synced = c.get("clock_synced")
    data: dict[str, object] = {"operator": operator}
    message = f"Inloggad som {operator}."
    severity = "ok"
    if synced is not None:
        data["clock_synced"] = bool(synced)
        if not synced:
            message += " Obs: klockan är inte synkroniserad – meddela TL eller tekniker."
            severity = "warning"
    return _ok("signed_in", message, [("signed_in", data)], severity=severity)


def _login(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    operator = _arg(c, "operator")
    if limits.has_personnummer(operator):
        raise ArgError("Använd din signatur, inte ett personnummer.", code="personnummer_in_text")
    if len(operator) > limits.SIGNATURE_MAX or limits.unprintable(operator) is not None:
        raise ArgError(f"Signaturen får vara högst {limits.SIGNATURE_MAX} tecken, bokstäver och siffror.")
    if ctx.operators and operator not in ctx.operators:
        return _error("unknown_operator", "Okänd signatur. Be TL lägga till dig i kioskens inställningar.")
    return _signed_in(operator, c)


def _badge(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    badge = _arg(c, "badge")
    operator = ctx.badges.get(badge)
    if operator is None:
        return _error("unknown_badge", "Taggen är inte kopplad till någon signatur. Logga in med signatur.")
    return _signed_in(operator, c)


def _logout(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    reason = _arg(c, "reason", choices=("idle", "operator"), required=False)
    data = {"reason": reason} if reason else {}
    message = "Utloggad automatiskt efter en stund utan aktivitet." if reason == "idle" else "Utloggad."
    return _ok("signed_out", message, [("signed_out", data)], effects=Effects(lights=Lights()))


def _sort(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 1: one item onto a pile; the pile lights steady (put here). A Leta Kund letter is
    counted by its type (step 5's count), so the pile's count is the sum of the types."""
    pile = _arg(c, "pile", choices=PILES)
    if s.pile_scan_started(pile) and pile != s.current_pile:
        return _error("step_order", f"{PILE_NAMES[pile]} är redan skannad. "
                                    "Ett sent brev registreras med \"Sent brev\" (sorteras och skannas på en gång).")
    count = s.counts[pile] + 1
    lights = Effects(lights=Lights.of(**{pile: STEADY}))
    if pile == s.current_pile:  # a letter found for the pile being scanned: counted, its scan follows
        return _ok("sorted", f"{PILE_NAMES[pile]}: {count} – skanna brevet nu ({s.scanned[pile]} av {count} skannade).",
                   [("sorted", {"pile": pile})], effects=Effects(lights=_scan_lights(pile)),
                   data={"pile": pile, "count": count, "scanning": True})
    if pile == "tillfalliga":
        return _sort_temporary(s, c, now, ctx)
    if pile == "leta_kund":
        if c.get("letter") is None:
            raise ArgError("Välj brevtyp för Leta Kund-brevet (A, B, C, D eller H).", code="letter_needed")
        counted = _leta_kund(s, {**c, "count": 1}, now, ctx)
        return replace(counted, code="sorted", message=f"{PILE_NAMES[pile]}: {count} (brev {c['letter']})",
                       effects=lights, data={**counted.data, "pile": pile, "count": count})
    return _ok("sorted", f"{PILE_NAMES[pile]}: {count}", [("sorted", {"pile": pile})],
               effects=lights, data={"pile": pile, "count": count})


def _sort_temporary(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """A letter onto the `tillfalliga` pile is step 9's registration: the kind of mailing (`about`)
    is asked for as Leta Kund asks for the type, so every temporary letter reaches its TL question."""
    if c.get("about") is None or (isinstance(c.get("about"), str) and not c["about"].strip()):
        raise ArgError("Skriv vilket tillfälligt utskick brevet gäller (t.ex. \"Priskompensation\"): "
                       "TL får frågan om hur det ska hanteras.", code="about_needed")
    counted = _temporary(s, c, now, ctx)
    count = max(s.piled.get("tillfalliga", 0), len(s.temporary) + 1)
    return replace(counted, code="sorted",
                   message=f"{PILE_NAMES['tillfalliga']}: {count} ({counted.data['about']}). {counted.message}",
                   effects=replace(counted.effects, lights=Lights.of(tillfalliga=STEADY)),
                   data={**counted.data, "pile": "tillfalliga", "count": count})


def _late(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """A letter for a pile whose scanning is finished, handled today (dödsbo "omgående"):
    sorted and scanned in one step, marked late in the summary."""
    pile = _arg(c, "pile", choices=PILES)
    if pile == "tillfalliga":
        return _sort_temporary(s, c, now, ctx)
    if pile not in SCAN_ORDER:
        d = _ok("sorted", f"{PILE_NAMES[pile]}: {s.counts[pile] + 1} (sent brev)",
                [("sorted", {"pile": pile, "late": True})],
                effects=Effects(lights=Lights.of(**{pile: STEADY})), data={"pile": pile, "late": True})
        if pile == "leta_kund":
            raise ArgError("Leta Kund-brev räknas per brevtyp i steg 5.", code="letter_needed")
        return d
    if not s.pile_scanned(pile):
        return _error("step_order", f"{PILE_NAMES[pile]} är inte färdigskannad – sortera och skanna brevet som vanligt.")
    raw = c.get("code")
    if not isinstance(raw, str):
        raise ArgError("Skanna brevets streckkod (code).")
    problem = check(raw, ctx.barcode, pile)
    reason, message = (problem.reason, problem.message) if problem else (None, "")
    if problem is None and raw in s.accepted_codes:
        reason, message = "duplicate", _duplicate_message(s, raw)
    if reason:
        stored = journal_code(raw)
        return Decision(REJECTED, reason, message,
                        events=(("scan_rejected", {"code": stored, "reason": reason, "pile": pile, "late": True}),),
                        effects=Effects(lights=Lights.of(**{pile: FAST_BLINK}), sound=Sound("reject")),
                        data={"code": stored, "reason": reason, "pile": pile, "late": True})
    notes = []
    if pile == "dodsbo":
        follow = "Skriv ut en personnummer-etikett för brevet (steg 3)."
    elif pile == "sekretess":
        follow = "Skriv ut ett nytt försättsblad för brevet (steg 4)."
    else:
        follow = "Lägg brevet i sekretesslådan."
        notes.append(f"Lägg {PILE_NAMES[pile]} i sekretesslådan vid skrivaren på våning 3.")
    lights = {"sekretesslada": STEADY} if pile in TO_SEKRETESSLADA_AFTER_SCAN else {pile: STEADY}
    event: dict[str, Any] = {"code": raw, "pile": pile, "late": True}
    seen = _seen_before(raw, now, ctx)
    if seen:
        event["seen_before"] = seen
    if s.scan_phase == SCANNED and s.deadline_met is None and _before_deadline(now, ctx):
        # the first barcoded letter of a day whose (empty) scanning was finished: finished in time
        event["deadline_met"] = True
    return _ok("late_accepted", f"Sent brev i {PILE_NAMES[pile]} registrerat ({raw}). {follow}"
               + (f" Skannad tidigare {seen}." if seen else ""),
               [("sorted", {"pile": pile, "late": True}), ("scan_accepted", event)],
               effects=Effects(lights=Lights(tuple(lights.items())), sound=Sound("accept"), notes=tuple(notes)),
               data=dict(event), severity="warning" if seen else "ok")


def _undo(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Take back a record. Plain `undo`: while scanning the current pile's last scan, or (no
    scans in it yet) the `next_pile` that made it current; while sorting the last sort.
    With `what`: the latest record of that kind today; `what: "scan"` with `code`: that scan."""
    what = _arg(c, "what", choices=UNDO_KINDS, required=False)
    code = _arg(c, "code", required=False)
    if what is None:
        if code is not None:
            what = "scan"
        elif s.phase == SCANNING:
            pile = s.current_pile
            if s.last_scan_rejected:
                last = next((a for a in reversed(s.accepted) if a["pile"] == pile and not a.get("late")), None)
                hint = f" Senast godkända: {last['code']} – välj den i listan för att ta bort den." if last else ""
                return Decision(OK, "rejected_not_counted",
                                "Den avvisade skanningen räknades inte – inget togs bort." + hint,
                                data={"pile": pile, "last_accepted": last["code"] if last else None},
                                severity="warning")
            if any(a["pile"] == pile and not a.get("late") for a in s.accepted):
                return _undo_scan(s, next(a for a in reversed(s.accepted) if a["pile"] == pile and not a.get("late")))
            return _undo_next_pile(s, now, ctx)
        elif s.phase == SCANNED:
            return _undo_next_pile(s, now, ctx)
        else:
            kinds = [w for w in s.recent if w in ("sort", "leta_kund", "temporary")]
            if not kinds:
                return _error("nothing_to_undo", "Det finns inget att ångra.")
            what = kinds[-1]
    if what == "sort":
        return _undo_sort(s)
    if what == "scan":
        if code is not None:
            entry = next((a for a in reversed(s.accepted) if a["code"] == code), None)
            if entry is None:
                return _error("nothing_to_undo", "Koden finns inte bland dagens godkända skanningar.")
        else:
            entry = s.accepted[-1] if s.accepted else None
            if entry is None:
                return _error("nothing_to_undo", "Det finns ingen skanning att ångra.")
        return _undo_scan(s, entry)
    if what == "next_pile":
        return _undo_next_pile(s, now, ctx)
    if what == "leta_kund":
        if not s.leta_kund_log:
            return _error("nothing_to_undo", "Det finns inget Leta Kund-brev att ångra.")
        e = s.leta_kund_log[-1]
        data = {"what": what, "letter": e["letter"], "count": e["count"], "apartments": e["apartments"]}
        return _ok("undone", f"Ångrat: {e['count']} Leta Kund-brev {e['letter']}.", [("undone", data)], data=data)
    attr = {"date_check": "decisions", "remark": "remarks", "temporary": "temporary", "incoming": "cab"}[what]
    records = getattr(s, attr)
    if not records:
        return _error("nothing_to_undo", f"Det finns inget {UNDO_NAMES[what]} att ångra i dag.")
    events: list[tuple[str, dict]] = [("undone", {"what": what})]
    link = [what, len(records) - 1]
    message = f"Ångrat: {UNDO_NAMES[what]}."
    for a in s.alerts:
        if a["link"] == link and not a["cancelled"]:
            events.append(("alert_cancelled", {"alert": a["id"], "kind": a["kind"]}))
            message += " Återkallelsen skickas till TL."
    return _ok("undone", message, events, data={"what": what}, severity="ok")


def _duplicate_message(s: DayState, code: str) -> str:
    """A duplicate names the pile it was first accepted in today."""
    first = next((a["pile"] for a in s.accepted if a["code"] == code), None)
    where = f" i {PILE_NAMES[first]}" if first in PILE_NAMES else ""
    return f"Redan skannad i dag{where} – räknas inte igen."


def _undo_sort(s: DayState) -> Decision:
    if not s.sorts:
        return _error("nothing_to_undo", "Det finns ingen sortering att ångra.")
    pile = s.sorts[-1]
    if pile == s.current_pile and s.counts[pile] <= s.scanned[pile]:
        return _error("step_order", f"Kan inte ångras: alla brev i {PILE_NAMES[pile]} är skannade – ångra skanningen först.")
    if s.pile_scan_started(pile) and pile != s.current_pile:
        return _error("step_order", f"Kan inte ångras: {PILE_NAMES[pile]} är redan skannad.")
    data = {"what": "sort", "pile": pile}
    return _ok("undone", f"Ångrat: sortering i {PILE_NAMES[pile]} (nu {s.counts[pile] - 1}).", [("undone", data)],
               effects=Effects(lights=Lights.of(**{pile: STEADY})), data=data)


def _undo_scan(s: DayState, entry: dict) -> Decision:
    pile, code = entry["pile"], entry["code"]
    data = {"what": "scan", "pile": pile, "code": code}
    left = s.scanned[pile] - 1
    return _ok("undone", f"Ångrat: skanning {code} i {PILE_NAMES[pile]} (nu {left} av "
                         f"{s.counts[pile] - (1 if entry.get('late') else 0)}).",
               [("undone", data)], effects=Effects(lights=_scan_lights(s.current_pile)),
               data={**data, "scanned": left, "sorted": s.counts[pile]})


def _undo_next_pile(s: DayState, now: dt.datetime, ctx: Context) -> Decision:
    phase = s.phase
    if phase == SCANNED:
        back = len(SCAN_ORDER) - 1
    elif phase == SCANNING and s.scan_index > 0:
        back = s.scan_index - 1
    else:
        return _error("nothing_to_undo", "Det finns inget att ångra.")
    current = s.current_pile
    if current is not None and any(a["pile"] == current and not a.get("late") for a in s.accepted):
        return _error("step_order", f"Ångra först skanningarna i {PILE_NAMES[current]}.")
    pile = SCAN_ORDER[back]
    data: dict[str, Any] = {"what": "next_pile", "pile": pile}
    if phase == SCANNED and not _before_deadline(now, ctx):
        data["after_deadline"] = True  # the day's verdict stands (DESIGN §8)
    return _ok("undone", f"Ångrat: {PILE_NAMES[pile]} är aktuell hög igen ({s.scanned[pile]} av {s.counts[pile]}).",
               [("undone", data)], effects=Effects(lights=_scan_lights(pile)), data={**data, "current": pile})


def _scan_lights(pile: str | None) -> Lights:
    return Lights.of(**{pile: SLOW_BLINK}) if pile else Lights()


def _scan_phase(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 2 begins: scan the piles in the fixed order, the current pile blinks."""
    if s.phase != SORTING:
        return _error("step_order", "Skanningen är redan påbörjad.")
    first = SCAN_ORDER[0]
    return _ok(
        "scan_phase_started",
        f"Skanna {PILE_NAMES[first]} ({s.counts[first]} st).",
        [("scan_phase_started", {})],
        effects=Effects(lights=_scan_lights(first)),
        data={"pile": first},
    )


def _scan(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 2: one barcode, tagged with the current pile."""
    raw = c.get("code")
    if not isinstance(raw, str):
        raise ArgError("Uppgift saknas: code.")
    stored = journal_code(raw)  # printable, at most MAX_CODE_IN_JOURNAL (the event schema)
    pile = s.current_pile

    def reject(reason: str, message: str) -> Decision:
        return Decision(
            REJECTED,
            reason,
            message,
            events=(("scan_rejected", {"code": stored, "reason": reason, "pile": pile}),),
            effects=Effects(lights=Lights.of(**{pile: FAST_BLINK}) if pile else None, sound=Sound("reject")),
            data={"code": stored, "reason": reason, "pile": pile},
        )

    if pile is None:
        return reject("not_scan_phase", "Starta skanningen först (steg 2) – brevet registrerades inte.")
    problem = check(raw, ctx.barcode, pile)
    if problem is not None:
        return reject(problem.reason, problem.message)
    if raw in s.accepted_codes:
        return reject("duplicate", _duplicate_message(s, raw))
    scanned = s.scanned[pile] + 1
    extra = scanned > s.counts[pile]
    event: dict[str, Any] = {"code": raw, "pile": pile}
    seen = _seen_before(raw, now, ctx)
    if seen:  # accepted (billing decides), and flagged: billing's list marks it
        event["seen_before"] = seen
    return _ok(
        "accepted",
        f"{PILE_NAMES[pile]}: {scanned} av {s.counts[pile]}." + (" Fler än sorterat – kontrollera antalet." if extra else "")
        + (f" Skannad tidigare {seen}." if seen else ""),
        [("scan_accepted", event)],
        effects=Effects(lights=_scan_lights(pile), sound=Sound("accept")),
        data={**event, "scanned": scanned, "sorted": s.counts[pile]},
        severity="warning" if extra or seen else "ok",
    )


def _deadline_open(s: DayState) -> bool:
    """A barcoded pile with letters is unfinished and no verdict stands: neither an alert already
    raised nor a deadline met (a correction after a met deadline does not reopen it)."""
    return s.deadline_met is not True and not s.deadline_alerted() and bool(s.unfinished_piles())


def _deadline_text(ctx: Context) -> str:
    return f"Skanningen av returpost var inte klar kl. {ctx.deadline_text}."


def _before_deadline(now: dt.datetime, ctx: Context) -> bool:
    return now < deadline_for(local_day(now, ctx.tz), ctx.deadline, ctx.tz)


def _next_pile(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 2: the current pile is done; with missing scans only after a confirming second tap;
    after the last pile, whether the deadline was met."""
    pile = s.current_pile
    if pile is None:
        return _error("step_order", "Ingen hög skannas just nu.")
    sorted_, scanned = s.counts[pile], s.scanned[pile]
    if scanned < sorted_ and not _bool_arg(c, "confirm"):
        missing = sorted_ - scanned
        return _confirm({"missing": missing, "pile": pile, "sorted": sorted_, "scanned": scanned},
                        f"{PILE_NAMES[pile]}: {missing} av {sorted_} är inte skannade. "
                        "Tryck igen för att ändå gå vidare till nästa hög.")
    events: list[tuple[str, dict]] = [("pile_done", {"pile": pile, "sorted": sorted_, "scanned": scanned})]
    parts = []
    severity = "ok"
    if scanned < sorted_:
        parts.append(f"Varning: {PILE_NAMES[pile]} – {sorted_ - scanned} av {sorted_} är inte skannade.")
        severity = "warning"
    elif scanned > sorted_:
        parts.append(f"Varning: {PILE_NAMES[pile]} – fler skannade ({scanned}) än sorterade ({sorted_}).")
        severity = "warning"
    notes: list[str] = []
    lights: dict[str, str] = {}
    if pile in TO_SEKRETESSLADA_AFTER_SCAN:
        lights["sekretesslada"] = STEADY
        notes.append(f"Lägg {PILE_NAMES[pile]} i sekretesslådan vid skrivaren på våning 3.")
    elif pile == "dodsbo":
        notes.append("Dödsbofakturorna hanteras omgående: skriv ut personnummer-etiketter (steg 3).")
    elif pile == "sekretess":
        notes.append("Sekretessfakturorna hanteras omgående: skriv ut försättsblad (steg 4).")
    following = s.scan_index + 1
    data: dict[str, Any] = {"pile": pile, "sorted": sorted_, "scanned": scanned}
    if following < len(SCAN_ORDER):
        nxt = SCAN_ORDER[following]
        lights[nxt] = SLOW_BLINK
        parts.append(f"Skanna nu {PILE_NAMES[nxt]} ({s.counts[nxt]} st).")
        data["next"] = nxt
    else:
        before = _before_deadline(now, ctx)
        met: bool | None
        if s.deadline_alerted():
            met = False
            parts.append(f"Skanningen är klar – efter {ctx.deadline_text}.")
        elif s.deadline_met is True:  # finished before the deadline, corrected after it
            met = True
            parts.append(f"Skanningen är klar igen (den var klar före {ctx.deadline_text}).")
        elif not s.has_barcoded_mail():
            met = None
            parts.append("Skanningen är klar (inga streckkodsbrev i dag).")
        else:
            # after the deadline without an alert: no barcoded letter was waiting at the deadline
            met = True
            parts.append(f"Skanningen är klar före {ctx.deadline_text}." if before else
                         f"Skanningen är klar (inga streckkodsbrev väntade kl. {ctx.deadline_text}).")
        events.append(("scanning_done", {"deadline_met": met}))
        data["deadline_met"] = met
    return _ok("pile_done", " ".join(parts), events, effects=Effects(lights=Lights(tuple(lights.items())), notes=tuple(notes)),
               data=data, severity=severity)


DODSBO_ATTACH = ("Etiketten skrivs ut på kvittopapper. Tejpa fast den med en tejpbit upptill på fakturans "
                 "framsida, bredvid adressfältet – täck inte streckkoden – och lägg fakturan i översta facket.")


def _dodsbo_label(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 3: validate the personnummer from CAB and print it on a label; then the top compartment.

    The number goes into the print effect only (persist=False), never into an event. Ten digits
    without `+` need the century chosen (`century`); more labels than the day's dödsbo invoices
    need `confirm` and count as reprints."""
    if not s.pile_scanned("dodsbo"):
        return _error("step_order", "Skanna dödsbofakturorna först (steg 2).")
    century = _arg(c, "century", choices=CENTURIES, required=False)
    today = local_day(now, ctx.tz)
    try:
        pnr = parse_personnummer(_arg(c, "personnummer"), today, century)
    except CenturyNeeded as exc:
        return Decision(REJECTED, "century_needed",
                        "Välj födelseår som i CAB: " + " eller ".join(r["date"] for r in exc.readings) + ".",
                        data={"readings": exc.readings}, severity="warning")
    except PersonnummerError as exc:
        return _error("invalid_personnummer", f"Ogiltigt personnummer: {exc}")
    invoices = s.scanned["dodsbo"]
    labels = s.labels_printed_or_coming()  # a label that failed to print is not a label
    reprint = labels >= invoices
    if reprint and not _bool_arg(c, "confirm"):
        return _confirm({"labels": labels, "invoices": invoices},
                        f"Redan {labels} etikett(er) för {invoices} dödsbofaktur(or) i dag. "
                        "Tryck igen för att skriva ut en extra etikett (räknas som omutskrift).")
    layout = printouts.dodsbo_label(pnr.formatted(), today)
    job = print_job_id(s, "dodsbo_label")
    data: dict[str, Any] = {"samordningsnummer": pnr.samordning, "job": job}
    if reprint:
        data["reprint"] = True
    return _ok(
        "label_printed",
        DODSBO_ATTACH,
        [("dodsbo_label_printed", data)],
        effects=Effects(lights=Lights.of(oversta_facket=STEADY),
                        prints=(Print("dodsbo_label", layout, persist=False, job=job),)),
        data={"reprint": reprint, "job": job},
    )


def _cover_slip(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 4: the cover slip for the envelope to billing; no customer data on it. It covers the
    invoices not yet covered (a late letter gets its own slip); with none left, a reprint."""
    if not s.pile_scanned("sekretess"):
        return _error("step_order", "Skanna sekretessfakturorna först (steg 2).")
    total = s.scanned["sekretess"]
    if total == 0:
        return _error("nothing_to_send", "Inga sekretessfakturor skannades i dag – inget försättsblad behövs.")
    uncovered = total - s.covered_or_coming()  # a slip that failed to print covers nothing
    reprint = uncovered <= 0
    count = total if reprint else uncovered
    layout = printouts.cover_slip(local_day(now, ctx.tz), count, ctx.site, ctx.kiosk, s.operator or "", ctx.envelope)
    job = print_job_id(s, "cover_slip")
    data: dict[str, Any] = {"count": count, "job": job}
    if reprint:
        data["reprint"] = True
    return _ok(
        "cover_slip_printed",
        f"Försättsblad och adressetikett för {count} sekretessfakturor skrivs ut. "
        + printouts.COVER_SLIP_PLACEMENT.format(envelope=ctx.envelope),
        [("cover_slip_printed", data)],
        effects=Effects(
            lights=Lights.of(sekretess=SLOW_BLINK),
            prints=(Print("address_label", printouts.address_label()), Print("cover_slip", layout, job=job)),
            notes=("Använd aldrig fönsterkuvert: remsan täcker inte fönstret, och kundens adress skulle synas.",),
        ),
        data={"count": count, "reprint": reprint, "job": job},
    )


def _leta_kund(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 5: count Leta Kund letters of one type (`count`, default 1); for A also how many of
    them carry an apartment number. The types are the count: the pile's count is their sum."""
    letter = _arg(c, "letter", choices=LETA_KUND_TYPES)
    count = _int_arg(c, "count", 1, 1, LETTERS_PER_COMMAND_MAX)
    apartments = _int_arg(c, "apartments", 0, 0, LETTERS_PER_COMMAND_MAX)
    if apartments and letter != "A":
        raise ArgError("Lägenhetsnummer räknas bara för brev A.")
    if apartments > count:
        raise ArgError(f"apartments ska vara mellan 0 och antalet brev A ({count}).")
    wms = LETA_KUND_WMS[letter]
    return _ok(
        "leta_kund_counted",
        f"{count} brev {letter} räknat. Bocka i \"{wms} retur\" i Leta Kund-ärendet i WMS och spara (inget görs om ärendet är avslutat).",
        [("leta_kund_counted", {"letter": letter, "count": count, "apartments": apartments})],
        data={"letter": letter, "wms": wms, "count": count, "apartments": apartments},
    )


def date_decision(letter_date: dt.date, today: dt.date) -> str:
    """Steps 6-7: discard when the date has passed or falls within 3 days, else re-send."""
    return "kasta" if letter_date <= today + dt.timedelta(days=DISCARD_WITHIN_DAYS) else "skicka_om"


SLOT_FOR_DECISION = {"kasta": "sekretesslada", "skicka_om": "skicka_om"}


def _date_check(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    kind = _arg(c, "kind", choices=DATE_CHECK_KINDS)
    today = local_day(now, ctx.tz)
    notes = []
    if c.get("date") is None:
        if kind == "planerat_stromavbrott":
            raise ArgError("Ett planerat strömavbrott har alltid ett datum: skriv det ÅÅÅÅ-MM-DD.")
        decision, letter_date = "skicka_om", None
        message = "Brevet saknar datum: sök ny adress och skicka om brevet. Uppdatera kundbilden om kunden är aktiv."
        notes.append("Lägg brevet i facket Skicka om tills ny adress är hittad.")
    else:
        letter_date = _date_arg(c, "date", today)
        decision = date_decision(letter_date, today)
        if decision == "kasta":
            message = f"Kasta brevet i {DESTINATION_NAMES['sekretesslada'].lower()}: datumet har passerat eller är inom 3 dagar."
        else:
            message = "Sök ny adress och skicka om brevet. Uppdatera kundbilden om kunden är aktiv."
            notes.append("Lägg brevet i facket Skicka om tills ny adress är hittad.")
    slot = SLOT_FOR_DECISION[decision]
    if kind == "planerat_stromavbrott":
        notes.append("Kolla i WMS om det finns en aviseringsadress – ta bort den.")
    entry = {"kind": kind, "date": letter_date.isoformat() if letter_date else None, "decision": decision, "slot": slot}
    return _ok("date_checked", message, [("date_checked", entry)],
               effects=Effects(lights=Lights.of(**{slot: STEADY}), notes=tuple(notes)), data=entry)


def _stromavbrott_atgard(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 6: "Åtgärder till följd av återkommande strömavbrott" is always re-sent."""
    entry = {"kind": "stromavbrott_atgard", "date": None, "decision": "skicka_om", "slot": "skicka_om"}
    return _ok(
        "date_checked",
        "Sök ny adress, uppdatera kundbilden och skicka om brevet.",
        [("date_checked", entry)],
        effects=Effects(lights=Lights.of(skicka_om=STEADY),
                        notes=("Kolla i WMS om det finns en aviseringsadress – ta bort den.",)),
        data=entry,
    )


def cab_case(kind: str, segment: str | None, about: str | None) -> dict:
    """Step 8: the CAB case the operator must create for an incoming letter."""
    group = SEGMENTS.get(segment or "", SEGMENTS["privat"])
    if kind == "fullmakt":
        return {"type": "DOKIN", "subject": "Scannat brev – Fullmakt", "status": "Avslutat", "group": group,
                "action": "Ladda upp fullmakten på kundbilden och avsluta ärendet."}
    if kind == "autogiro":
        return {"type": "DOKIN", "subject": "Scannat brev – Autogiroblankett", "status": "Upprättad",
                "group": "Reskontra", "action": "Ladda upp blanketten på kundbilden; status Upprättad till Reskontra."}
    if kind == "bestridan":
        return {"type": "DOKIN", "subject": "Inscannat brev: Bestridan", "status": "Upprättat", "group": group,
                "action": "Ladda upp dokumentet som DOKIN på kundbilden och meddela TL omgående."}
    return {"type": "DOKIN", "subject": f"Scannat brev – {about}", "status": "Upprättat", "group": group,
            "action": "Skapa DOKIN-ärende och ladda upp dokumentet i CAB."}


def _incoming(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    kind = _arg(c, "kind", choices=INCOMING_KINDS)
    needs_segment = kind in ("ovrigt", "fullmakt_med_brev", "bestridan")
    segment = _arg(c, "segment", choices=SEGMENTS, required=needs_segment)
    about = _text_arg(c, "about", required=kind in ("ovrigt", "fullmakt_med_brev"))
    case = cab_case(kind, segment, about)
    events: list[tuple[str, dict]] = [("incoming_registered", {"kind": kind, "segment": segment, "about": about, "cab": case})]
    alerts: tuple[Alert, ...] = ()
    message = f"Skapa i CAB: {case['type']} \"{case['subject']}\", status {case['status']}, grupp {case['group']}."
    if kind == "bestridan":
        text = "Bestridan av faktura har kommit in och kräver omgående hantering."
        events.append(("alert_raised", {"kind": "bestridan", "text": text}))
        alerts = (Alert("bestridan", text),)
        message += " Larmet skickas till TL."
    return _ok("cab_case", message, events, effects=Effects(alerts=alerts), data={"cab": case})


def _mailing_kind(about: str) -> str:
    return about.casefold()


def _temporary(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 9: count; the first letter of a kind of mailing today asks the TL how to handle it,
    later letters of that kind are counted (the count is in the summary the TL sees)."""
    about = _text_arg(c, "about")
    assert about is not None  # required: _text_arg refuses an empty one
    key = _mailing_kind(about)
    same = sum(1 for t in s.temporary if _mailing_kind(t["about"]) == key) + 1
    asked = any(a["kind"] == "tillfalliga" and not a["cancelled"] and a["link"][1] < len(s.temporary)
                and _mailing_kind(s.temporary[a["link"][1]]["about"]) == key for a in s.alerts)
    events: list[tuple[str, dict]] = [("temporary_counted", {"about": about})]
    if asked:
        return _ok("temporary_counted",
                   f"Registrerat: {same} brev \"{about}\" i dag. Frågan om utskicket är redan registrerad för TL.",
                   events, data={"about": about, "count": same, "alerted": False})
    text = f"Tillfälligt utskick i retur: {about}. Hur ska det hanteras?"
    events.append(("alert_raised", {"kind": "tillfalliga", "text": text}))
    return _ok("temporary_counted", "Registrerat. Frågan om hur utskicket ska hanteras skickas till TL.", events,
               effects=Effects(alerts=(Alert("tillfalliga", text),)), data={"about": about, "count": same, "alerted": True})


def _remark(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 10: an envelope remark becomes a customer-log note; Poste Restante adds a checklist."""
    code = _arg(c, "code", choices=REMARK_CODES)
    barcode = _arg(c, "barcode", required=False)
    note = f"Kundlogg: {REMARK_CODES[code]}"
    checklist = POSTE_RESTANTE_CHECKLIST if code == "poste_restante" else ()
    entry = {"code": code, "note": note, "checklist": list(checklist)}
    if barcode:
        entry["barcode"] = journal_code(barcode)
    return _ok("remark_logged", f"Skriv i kundloggen: \"{REMARK_CODES[code]}\".", [("remark_logged", entry)],
               effects=Effects(notes=checklist), data=entry)


def _checklist(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """A ticked checklist item (envelope sent, WMS ticked, done in CAB): the kiosk records it."""
    item = _arg(c, "item", choices=CHECKLIST_ITEMS)
    done = _bool_arg(c, "done", True)
    message = f"{CHECKLIST_ITEMS[item]}: {'bockat' if done else 'avbockat'}."
    return _ok("checklist_ticked", message, [("checklist_ticked", {"item": item, "done": done})],
               data={"item": item, "done": done})


def _close_day(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Close the day; with anything unfinished only after a confirming second tap, and what was
    unfinished is recorded. A day closed with a barcoded pile's letters unscanned is a missed
    deadline: the alert is raised at the close (before the deadline too: the kiosk may be off at
    the deadline, and the close is when it is known), once; after the deadline the tick has already
    raised it, and a verdict already met stands."""
    unfinished = warnings(s, closing=True)
    if unfinished and not _bool_arg(c, "confirm"):
        return _confirm({"unfinished": unfinished},
                        "Inte klart: " + " ".join(w["text"] for w in unfinished) + " Tryck igen för att avsluta dagen ändå.")
    events: list[tuple[str, dict]] = []
    alerts: tuple[Alert, ...] = ()
    if _deadline_open(s):
        text = _deadline_text(ctx) if not _before_deadline(now, ctx) else (
            f"Dagen avslutades kl. {now.astimezone(ctx.tz).strftime('%H:%M')} med streckkodsbrev som inte "
            f"skannats: skanningen blir inte klar före {ctx.deadline_text}.")
        events.append(("alert_raised", {"kind": "deadline_missed", "text": text}))
        alerts = (Alert("deadline_missed", text),)
    events.append(("day_closed", {"unfinished": unfinished} if unfinished else {}))
    closed = replay(provisional(events, now, ctx), s)
    layout = printouts.day_summary(summary(closed), ctx.site, ctx.kiosk, ctx.deadline_text)
    message = "Dagen är avslutad. Dagssammanställningen skrivs ut."
    if unfinished:
        message += f" {len(unfinished)} varning(ar) finns med i sammanställningen."
    if alerts:
        message += " Streckkodsbrev blev inte skannade: larmet om missad skanning skickas till TL."
    return _ok("day_closed", message, events,
               effects=Effects(lights=Lights(), prints=(Print("day_summary", layout),), alerts=alerts),
               data={"unfinished": unfinished}, severity="warning" if unfinished else "ok")


def _reopen_day(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    if s.phase != CLOSED:
        return _error("step_order", "Dagen är inte avslutad.")
    data = {} if _before_deadline(now, ctx) else {"after_deadline": True}
    return _ok("day_reopened", f"Dagen är öppnad igen av {s.operator}. Avsluta den igen när allt är klart.",
               [("day_reopened", data)], data={"phase": s.phase_before_close or SORTING})


PRINT_FAILURES = ("offline", "no_paper", "error", "lost")  # why a job did not print ("lost": a restart)


def _print_outcome(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """The printer took (`ok`) or did not take a label or cover slip job asked for today: recorded,
    so the day's counts say only what was printed, after a restart too. Nothing to record (an
    unknown job, another day's, or no change): no event."""
    job = _arg(c, "job")
    ok = _bool_arg(c, "ok")
    reason = None if ok else _arg(c, "reason", choices=PRINT_FAILURES)
    entry = next((p for p in s.prints if p["job"] == job), None)
    state = PRINTED if ok else FAILED
    if entry is None or entry["state"] == state or entry["state"] == PRINTED:
        return _ok("idle", "")
    data = {"job": job, "kind": entry["kind"], **({"reason": reason} if reason else {})}
    return _ok("print_recorded", "", [("print_done" if ok else "print_failed", data)], data=data)


def _alert_delivered(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Central reports that the TL got an alert of today (its inbox document): recorded once, so
    the day summary and a restarted kiosk know it without central."""
    alert_id, at = _arg(c, "alert"), _arg(c, "at")
    try:
        when = utc_iso(parse_iso(at))
    except (TypeError, ValueError):
        raise ArgError("at ska vara en tid i ISO 8601 med tidszon.") from None
    entry = next((a for a in s.alerts if a["id"] == alert_id), None)
    if entry is None or entry["delivered_at"]:
        return _ok("idle", "")
    data = {"alert": alert_id, "kind": entry["kind"], "at": when}
    return _ok("alert_delivered", "", [("alert_delivered", data)], data=data)


def _tick(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """The deadline: once it has passed with a barcoded pile sorted and its scanning not finished,
    alert the TL (once a day). Never on a day without barcoded letters, never on a closed day."""
    late = not _before_deadline(now, ctx)
    if late and s.phase != CLOSED and _deadline_open(s):
        text = _deadline_text(ctx)
        return _ok("deadline_missed",
                   f"Klockan har passerat {ctx.deadline_text} och skanningen är inte klar. Larmet skickas till TL.",
                   [("alert_raised", {"kind": "deadline_missed", "text": text})],
                   effects=Effects(alerts=(Alert("deadline_missed", text),)))
    return _ok("idle", "")


def _camera_sort(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Camera mode: one envelope the camera read and the person let stand (taken away or the next
    one laid): sorted; its barcode recorded with its sort (so sorting and scanning are one pass,
    and the fixed scan order later only walks piles already scanned); its carrier's return reason
    as the step-10 remark. Plain sort, scan and remark events, committed together: replay, simulate
    and central see the same day as if the person had tapped, scanned and picked the reason."""
    pile = _arg(c, "pile", choices=PILES)
    code = _arg(c, "code", required=False)
    remark = _arg(c, "remark", choices=REMARK_CODES, required=False)
    if code is not None and pile not in SCAN_ORDER:
        raise ArgError(f"{PILE_NAMES[pile]} har ingen streckkod – sortera utan kod.", code="bad_arg")
    if code is not None and code in s.accepted_codes:
        return _error("duplicate", "Brevet är redan registrerat i dag (samma streckkod) – det räknas inte igen. "
                                   "Lägg det i samma hög som förra gången.")
    if code is not None and s.pile_scanned(pile):  # a late letter: sorted and scanned at once
        first = _late(s, {"pile": pile, "code": code}, now, ctx)
    else:
        first = _sort(s, {"pile": pile, "letter": c.get("letter")}, now, ctx)
        if first.ok and code is not None:
            problem = check(code, ctx.barcode, pile)
            if problem is not None:  # sorted; the handheld scanner reads this one in step 2
                first = replace(first, message=f"{first.message}. Koden godtogs inte ({problem.message}) – "
                                                "skanna brevet med handskannern.", severity="warning")
            else:
                scanned = s.scanned[pile] + 1
                first = replace(first, events=first.events + (("scan_accepted", {"code": code, "pile": pile}),),
                                message=f"{first.message} – streckkod {code} registrerad",
                                data={**first.data, "code": code, "scanned": scanned})
    if not first.ok:
        return first
    notes = list(first.effects.notes)
    if pile == "dodsbo":
        notes.append("Dödsbofakturan hanteras omgående: skriv ut personnummer-etiketten (steg 3).")
    elif pile == "sekretess":
        notes.append("Sekretessfakturan hanteras omgående: skriv ut försättsblad (steg 4).")
    events = first.events
    message = first.message
    if remark is not None:
        logged = _remark(s, {"code": remark, "barcode": code}, now, ctx)
        events += logged.events
        notes += list(logged.effects.notes)
        message += f". {logged.message}"
    return replace(first, code="camera_sorted", events=events, message=message,
                   effects=replace(first.effects, notes=tuple(notes)),
                   data={**first.data, "pile": pile, "remark": remark})


_DECIDE: dict[str, Callable[[DayState, dict, dt.datetime, Context], Decision]] = {
    "login": _login,
    "badge": _badge,
    "logout": _logout,
    "sort": _sort,
    "late": _late,
    "undo": _undo,
    "scan_phase": _scan_phase,
    "scan": _scan,
    "next_pile": _next_pile,
    "dodsbo_label": _dodsbo_label,
    "cover_slip": _cover_slip,
    "leta_kund": _leta_kund,
    "date_check": _date_check,
    "stromavbrott_atgard": _stromavbrott_atgard,
    "incoming": _incoming,
    "temporary": _temporary,
    "remark": _remark,
    "checklist": _checklist,
    "close_day": _close_day,
    "reopen_day": _reopen_day,
    "tick": _tick,
    "print_outcome": _print_outcome,
    "alert_delivered": _alert_delivered,
    "camera_sort": _camera_sort,
}

COMMANDS: frozenset[str] = frozenset(_DECIDE)


# ---------------------------------------------------------------------------------------------
# The day's follow-up row
# ---------------------------------------------------------------------------------------------


def summary(s: DayState) -> dict:
    """The day summary (the follow-up row) as plain JSON-able data."""
    kinds: dict[str, dict] = {}
    for t in s.temporary:
        kinds.setdefault(_mailing_kind(t["about"]), {"about": t["about"], "count": 0})["count"] += 1
    return {
        "day": s.day.isoformat() if s.day else None,
        "phase": s.phase,
        "counts": {p: s.counts.get(p, 0) for p in PILES},
        "leta_kund": dict(s.leta_kund),
        "scans": {
            "accepted": [{"code": a["code"], "pile": a["pile"], "at": a["at"], **({"late": True} if a.get("late") else {}),
                          **({"seen_before": a["seen_before"]} if a.get("seen_before") else {})}
                         for a in s.accepted],
            "rejected": [{"code": r["code"], "reason": r["reason"], "pile": r.get("pile"), "at": r["at"]} for r in s.rejected],
        },
        "scanned": dict(s.scanned),
        "late": [{"code": a["code"], "pile": a["pile"], "at": a["at"]} for a in s.accepted if a.get("late")],
        "warnings": warnings(s),
        "scan_done_at": s.scan_done_at,
        "deadline_met": s.deadline_met,
        "barcoded_mail": s.has_barcoded_mail(),
        "decisions": [dict(d) for d in s.decisions],
        "cab": [dict(c) for c in s.cab],
        "alerts": [{"kind": a["kind"], "text": a["text"], "id": a["id"], "cancelled": a["cancelled"],
                    "at": a["at"], "delivered_at": a.get("delivered_at")} for a in s.alerts],
        "print_jobs": [{k: p[k] for k in ("job", "kind", "state", "reprint", "count", "reason")} for p in s.prints],
        "temporary": [dict(t) for t in s.temporary],
        "temporary_kinds": list(kinds.values()),
        "remarks": [dict(r) for r in s.remarks],
        "checklist": dict(s.checklist),
        "labels_printed": s.labels_printed,
        "label_reprints": s.label_reprints,
        "cover_slips_printed": s.cover_slips_printed,
        "closed_by": s.closed_by,
        "reopened": s.reopened,
    }


def earlier_codes(events: Iterable[dict]) -> dict[str, str]:
    """Each code accepted on a day (and not undone that day) -> the first such day, from the
    `scan_accepted` and `undone` events of earlier days, in journal order."""
    by_day: dict[str, dict[str, int]] = {}
    for e in events:
        data = e.get("data") or {}
        codes = by_day.setdefault(e["day"], {})
        if e["type"] == "scan_accepted":
            codes[data["code"]] = codes.get(data["code"], 0) + 1
        elif e["type"] == "undone" and data.get("what") == "scan" and codes.get(str(data.get("code")), 0) > 0:
            codes[data["code"]] -= 1
    first: dict[str, str] = {}
    for day in sorted(by_day):
        for code, n in by_day[day].items():
            if n > 0:
                first.setdefault(code, day)
    return first


def _seen_before(raw: str, now: dt.datetime, ctx: Context) -> str | None:
    day = ctx.earlier_codes.get(raw)
    return day if day is not None and day < local_day(now, ctx.tz).isoformat() else None


def at_local(iso: str) -> str:
    """An event's UTC time as local wall-clock text (for screens)."""
    return parse_iso(iso).astimezone(TZ).strftime("%H:%M")
