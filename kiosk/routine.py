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
  step 8 `_incoming`, step 9 `_temporary`, step 10 `_remark`; the 14:00 deadline `_tick`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from . import printouts
from .barcode import BarcodeRules, check
from .clock import DEADLINE, TZ, deadline_for, local_day, parse_iso
from .domain import (
    DATE_CHECK_KINDS,
    DECISION_NAMES,
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
from .personnummer import PersonnummerError
from .personnummer import parse as parse_personnummer
from .schema import journal_code

SORTING, SCANNING, SCANNED, CLOSED = "sorting", "scanning", "scanned", "closed"
MAX_CODE_IN_JOURNAL = 128

# Outcome statuses of a decision.
OK = "ok"  # done, events to commit
REJECTED = "rejected"  # a domain rejection that is itself recorded (e.g. a duplicate scan)
ERROR = "error"  # refused: nothing is recorded


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


@dataclass(frozen=True)
class DayState:
    day: dt.date | None = None
    operator: str | None = None
    phase: str = SORTING
    counts: dict[str, int] = field(default_factory=lambda: {p: 0 for p in PILES})
    scan_index: int = 0  # index into SCAN_ORDER while scanning
    scanned: dict[str, int] = field(default_factory=lambda: {p: 0 for p in SCAN_ORDER})
    accepted: tuple[dict, ...] = ()
    rejected: tuple[dict, ...] = ()
    undoable: tuple[tuple[str, str, str | None], ...] = ()  # (what, pile, code)
    warnings: tuple[dict, ...] = ()
    scan_done_at: str | None = None
    deadline_met: bool = False
    leta_kund: dict[str, int] = field(default_factory=lambda: {**{t: 0 for t in LETA_KUND_TYPES}, "apartments": 0})
    decisions: tuple[dict, ...] = ()
    cab: tuple[dict, ...] = ()
    alerts: tuple[dict, ...] = ()
    temporary: tuple[dict, ...] = ()
    remarks: tuple[dict, ...] = ()
    labels_printed: int = 0
    cover_slips_printed: int = 0
    summary_printed: int = 0
    started: bool = False  # anything happened this day
    accepted_codes: frozenset[str] = frozenset()  # derived from `accepted`, kept for speed

    @property
    def current_pile(self) -> str | None:
        if self.phase == SCANNING and self.scan_index < len(SCAN_ORDER):
            return SCAN_ORDER[self.scan_index]
        return None

    def pile_scan_started(self, pile: str) -> bool:
        """Has scanning reached this pile (it is current or finished)?"""
        if pile not in SCAN_ORDER or self.phase == SORTING:
            return False
        if self.phase in (SCANNED, CLOSED):
            return True
        return SCAN_ORDER.index(pile) <= self.scan_index

    def pile_scanned(self, pile: str) -> bool:
        if self.phase in (SCANNED, CLOSED):
            return True
        return self.phase == SCANNING and SCAN_ORDER.index(pile) < self.scan_index


@dataclass(frozen=True)
class Decision:
    status: str  # OK | REJECTED | ERROR
    code: str  # machine-readable outcome: accepted, duplicate, invalid, step_order, ...
    message: str  # Swedish, for the screen
    events: tuple[tuple[str, dict], ...] = ()
    effects: Effects = field(default_factory=Effects)
    data: dict = field(default_factory=dict)  # extra result for the caller (CAB case, decision, ...)

    @property
    def ok(self) -> bool:
        return self.status == OK


def _error(code: str, message: str) -> Decision:
    return Decision(ERROR, code, message, effects=Effects(sound=Sound("error")))


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
    handler = _APPLY.get(kind)
    return handler(state, data, at) if handler else state


def replay(events, state: DayState | None = None) -> DayState:
    state = state or DayState()
    for event in events:
        state = apply(state, event)
    return state


def _bump(mapping: dict[str, int], key: str, by: int = 1) -> dict[str, int]:
    return {**mapping, key: mapping.get(key, 0) + by}


def _a_signed_in(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, operator=d["operator"])


def _a_signed_out(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, operator=None)


def _a_sorted(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, counts=_bump(s.counts, d["pile"]), undoable=s.undoable + (("sort", d["pile"], None),))


def _a_undone(s: DayState, d: dict, at: str) -> DayState:
    s = replace(s, undoable=s.undoable[:-1])
    if d["what"] == "sort":
        return replace(s, counts=_bump(s.counts, d["pile"], -1))
    accepted = list(s.accepted)
    for i in range(len(accepted) - 1, -1, -1):
        if accepted[i]["code"] == d["code"]:
            del accepted[i]
            break
    return replace(s, accepted=tuple(accepted), accepted_codes=s.accepted_codes - {d["code"]},
                   scanned=_bump(s.scanned, d["pile"], -1))


def _a_scan_phase_started(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, phase=SCANNING, scan_index=0)


def _a_scan_accepted(s: DayState, d: dict, at: str) -> DayState:
    return replace(
        s,
        accepted=s.accepted + ({"code": d["code"], "pile": d["pile"], "at": at},),
        accepted_codes=s.accepted_codes | {d["code"]},
        scanned=_bump(s.scanned, d["pile"]),
        undoable=s.undoable + (("scan", d["pile"], d["code"]),),
    )


def _a_scan_rejected(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, rejected=s.rejected + ({"code": d["code"], "reason": d["reason"], "pile": d.get("pile"), "at": at},))


def _a_pile_done(s: DayState, d: dict, at: str) -> DayState:
    warnings = s.warnings
    if d["scanned"] < d["sorted"]:
        warnings += ({"kind": "missing_scans", "pile": d["pile"], "sorted": d["sorted"], "scanned": d["scanned"]},)
    return replace(s, scan_index=s.scan_index + 1, warnings=warnings)


def _a_scanning_done(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, phase=SCANNED, scan_done_at=at, deadline_met=bool(d["deadline_met"]))


def _a_dodsbo_label_printed(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, labels_printed=s.labels_printed + 1)


def _a_cover_slip_printed(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, cover_slips_printed=s.cover_slips_printed + 1)


def _a_leta_kund_counted(s: DayState, d: dict, at: str) -> DayState:
    lk = _bump(s.leta_kund, d["letter"])
    lk = _bump(lk, "apartments", int(d.get("apartments", 0)))
    return replace(s, leta_kund=lk)


def _a_date_checked(s: DayState, d: dict, at: str) -> DayState:
    entry = {"kind": d["kind"], "date": d.get("date"), "decision": d["decision"], "slot": d["slot"]}
    return replace(s, decisions=s.decisions + (entry,))


def _a_incoming_registered(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, cab=s.cab + (dict(d["cab"]),))


def _a_temporary_counted(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, temporary=s.temporary + ({"about": d["about"], "at": at},))


def _a_alert_raised(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, alerts=s.alerts + ({"kind": d["kind"], "text": d["text"], "at": at},))


def _a_remark_logged(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, remarks=s.remarks + (dict(d),))


def _a_day_closed(s: DayState, d: dict, at: str) -> DayState:
    return replace(s, phase=CLOSED, summary_printed=s.summary_printed + 1)


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
    "remark_logged": _a_remark_logged,
    "day_closed": _a_day_closed,
}

EVENT_TYPES: frozenset[str] = frozenset(_APPLY)


# ---------------------------------------------------------------------------------------------
# Deciding commands
# ---------------------------------------------------------------------------------------------

COMMANDS_WITHOUT_LOGIN = frozenset({"login", "badge", "tick"})


class ArgError(ValueError):
    """A command lacks an argument or carries a malformed one (message in Swedish)."""


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
    if kind is str:
        value = value.strip() if name != "code" else value
        if required and value == "" and name != "code":
            raise ArgError(f"Uppgift saknas: {name}.")
    if choices is not None and value not in choices:
        raise ArgError(f"Okänt värde för {name}.")
    return value


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
    if state.phase == CLOSED and name not in ("login", "badge", "logout", "tick"):
        return _error("day_closed", "Dagen är avslutad. Nya brev registreras i morgon.")
    try:
        return handler(state, command, now, ctx)
    except ArgError as exc:
        return _error("bad_argument", str(exc))


TICK = {"cmd": "tick"}


def step(state: DayState, command: dict, now: dt.datetime, ctx: Context) -> Decision:
    """A command as the kiosk runs it: the 14:00 check, the command, the 14:00 check again (a
    sign-in after 14:00 may start the day late), as one decision whose events are committed
    together, so a crash keeps all of them or none."""
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
    return replace(main, events=pre.events + main.events + post.events,
                   effects=replace(main.effects, alerts=alerts))


def provisional(items, now: dt.datetime, ctx: Context) -> list[dict]:
    """Events as the journal will stamp them (without id and seq), to fold before committing."""
    from .clock import utc_iso

    ts, day = utc_iso(now), local_day(now, ctx.tz).isoformat()
    return [{"type": kind, "data": data, "ts": ts, "day": day} for kind, data in items]


def _ok(code: str, message: str, events=(), **kw) -> Decision:
    return Decision(OK, code, message, events=tuple(events), **kw)


def _signed_in(operator: str, c: dict) -> Decision:
    """Sign-in records whether the kiosk's clock was NTP-synchronised (the shell says so)."""
    synced = c.get("clock_synced")
    data = {"operator": operator}
    message = f"Inloggad som {operator}."
    if synced is not None:
        data["clock_synced"] = bool(synced)
        if not synced:
            message += " Obs: klockan är inte synkroniserad – meddela TL eller tekniker."
    return _ok("signed_in", message, [("signed_in", data)])


def _login(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    operator = _arg(c, "operator")
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
    return _ok("signed_out", "Utloggad.", [("signed_out", {})], effects=Effects(lights=Lights()))


def _sort(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 1: one item onto a pile; the pile lights steady (put here)."""
    pile = _arg(c, "pile", choices=PILES)
    if s.pile_scan_started(pile):
        return _error("step_order", f"{PILE_NAMES[pile]} skannas redan eller är klar. Lägg brevet i nästa dags hög.")
    count = s.counts[pile] + 1
    return _ok(
        "sorted",
        f"{PILE_NAMES[pile]}: {count}",
        [("sorted", {"pile": pile})],
        effects=Effects(lights=Lights.of(**{pile: STEADY})),
        data={"pile": pile, "count": count},
    )


def _undo(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    if not s.undoable:
        return _error("nothing_to_undo", "Det finns inget att ångra.")
    what, pile, code = s.undoable[-1]
    if what == "sort" and s.pile_scan_started(pile):
        return _error("step_order", "Kan inte ångras: högen skannas redan.")
    if what == "scan" and s.current_pile != pile:
        return _error("step_order", "Kan inte ångras: högen är redan klar.")
    data = {"what": what, "pile": pile}
    if code is not None:
        data["code"] = code
    text = f"Ångrat: {'sortering' if what == 'sort' else 'skanning'} i {PILE_NAMES[pile]}."
    lights = Lights.of(**{pile: SLOW_BLINK if what == "scan" else STEADY})
    return _ok("undone", text, [("undone", data)], effects=Effects(lights=lights), data=data)


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
        return reject("duplicate", "Redan skannad i dag – räknas inte igen.")
    scanned = s.scanned[pile] + 1
    extra = " Fler än sorterat – kontrollera antalet." if scanned > s.counts[pile] else ""
    return _ok(
        "accepted",
        f"{PILE_NAMES[pile]}: {scanned} av {s.counts[pile]}.{extra}",
        [("scan_accepted", {"code": raw, "pile": pile})],
        effects=Effects(lights=_scan_lights(pile), sound=Sound("accept")),
        data={"code": raw, "pile": pile, "scanned": scanned, "sorted": s.counts[pile]},
    )


def _next_pile(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 2: the current pile is done; warn on missing scans; after the last, the deadline."""
    pile = s.current_pile
    if pile is None:
        return _error("step_order", "Ingen hög skannas just nu.")
    sorted_, scanned = s.counts[pile], s.scanned[pile]
    events: list[tuple[str, dict]] = [("pile_done", {"pile": pile, "sorted": sorted_, "scanned": scanned})]
    parts = []
    if scanned < sorted_:
        parts.append(f"Varning: {PILE_NAMES[pile]} – {sorted_ - scanned} av {sorted_} är inte skannade.")
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
        met = now < deadline_for(local_day(now, ctx.tz), ctx.deadline, ctx.tz)
        events.append(("scanning_done", {"deadline_met": met}))
        parts.append("Skanningen är klar" + (" före 14:00." if met else " – efter 14:00."))
        data["deadline_met"] = met
    return _ok("pile_done", " ".join(parts), events, effects=Effects(lights=Lights(tuple(lights.items())), notes=tuple(notes)), data=data)


def _dodsbo_label(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 3: validate the personnummer from CAB and print it on a label; then the top compartment.

    The number goes into the print effect only (persist=False), never into an event.
    """
    if not s.pile_scanned("dodsbo"):
        return _error("step_order", "Skanna dödsbofakturorna först (steg 2).")
    try:
        pnr = parse_personnummer(_arg(c, "personnummer"), local_day(now, ctx.tz))
    except PersonnummerError as exc:
        return _error("invalid_personnummer", f"Ogiltigt personnummer: {exc}")
    layout = printouts.dodsbo_label(pnr.formatted(), local_day(now, ctx.tz))
    return _ok(
        "label_printed",
        "Etiketten skrivs ut. Sätt den på fakturan och lägg fakturan i översta facket.",
        [("dodsbo_label_printed", {"samordningsnummer": pnr.samordning})],
        effects=Effects(lights=Lights.of(oversta_facket=STEADY), prints=(Print("dodsbo_label", layout, persist=False),)),
    )


def _cover_slip(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 4: the cover slip for the envelope to billing; no customer data on it."""
    if not s.pile_scanned("sekretess"):
        return _error("step_order", "Skanna sekretessfakturorna först (steg 2).")
    count = s.scanned["sekretess"]
    if count == 0:
        return _error("nothing_to_send", "Inga sekretessfakturor skannades i dag – inget försättsblad behövs.")
    layout = printouts.cover_slip(local_day(now, ctx.tz), count, ctx.site, ctx.kiosk, s.operator or "")
    return _ok(
        "cover_slip_printed",
        f"Försättsblad för {count} sekretessfakturor skrivs ut. Lägg bladet först i kuvertet och skicka till Faktureringen.",
        [("cover_slip_printed", {"count": count})],
        effects=Effects(
            lights=Lights.of(sekretess=SLOW_BLINK),
            prints=(Print("cover_slip", layout),),
            notes=("Kontrollera att inget kundnamn syns i kuvertets fönster.",),
        ),
        data={"count": count},
    )


def _leta_kund(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 5: count a Leta Kund letter by type; for A also its apartment numbers."""
    letter = _arg(c, "letter", choices=LETA_KUND_TYPES)
    apartments = _arg(c, "apartments", int, required=False, default=0)
    if apartments < 0:
        raise ArgError("apartments kan inte vara negativt.")
    if apartments and letter != "A":
        raise ArgError("Lägenhetsnummer räknas bara för brev A.")
    wms = LETA_KUND_WMS[letter]
    return _ok(
        "leta_kund_counted",
        f"Brev {letter} räknat. Bocka i \"{wms} retur\" i Leta Kund-ärendet i WMS och spara (inget görs om ärendet är avslutat).",
        [("leta_kund_counted", {"letter": letter, "apartments": apartments})],
        data={"letter": letter, "wms": wms, "apartments": apartments},
    )


def date_decision(letter_date: dt.date, today: dt.date) -> str:
    """Steps 6-7: discard when the date has passed or falls within 3 days, else re-send."""
    return "kasta" if letter_date <= today + dt.timedelta(days=DISCARD_WITHIN_DAYS) else "skicka_om"


SLOT_FOR_DECISION = {"kasta": "sekretesslada", "skicka_om": "skicka_om"}


def _date_check(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    kind = _arg(c, "kind", choices=DATE_CHECK_KINDS)
    try:
        letter_date = dt.date.fromisoformat(_arg(c, "date"))
    except ValueError:
        raise ArgError("Datumet ska skrivas ÅÅÅÅ-MM-DD.") from None
    decision = date_decision(letter_date, local_day(now, ctx.tz))
    slot = SLOT_FOR_DECISION[decision]
    notes = []
    if decision == "kasta":
        message = f"Kasta brevet i {DESTINATION_NAMES[slot].lower()}: datumet har passerat eller är inom 3 dagar."
    else:
        message = "Sök ny adress och skicka om brevet. Uppdatera kundbilden om kunden är aktiv."
        notes.append("Lägg brevet i facket Skicka om tills ny adress är hittad.")
    if kind == "planerat_stromavbrott":
        notes.append("Kolla i WMS om det finns en aviseringsadress – ta bort den.")
    entry = {"kind": kind, "date": letter_date.isoformat(), "decision": decision, "slot": slot}
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
    about = _arg(c, "about", required=kind in ("ovrigt", "fullmakt_med_brev"))
    case = cab_case(kind, segment, about)
    events: list[tuple[str, dict]] = [("incoming_registered", {"kind": kind, "segment": segment, "about": about, "cab": case})]
    alerts: tuple[Alert, ...] = ()
    message = f"Skapa i CAB: {case['type']} \"{case['subject']}\", status {case['status']}, grupp {case['group']}."
    if kind == "bestridan":
        text = "Bestridan av faktura har kommit in och kräver omgående hantering."
        events.append(("alert_raised", {"kind": "bestridan", "text": text}))
        alerts = (Alert("bestridan", text),)
        message += " TL har larmats."
    return _ok("cab_case", message, events, effects=Effects(alerts=alerts), data={"cab": case})


def _temporary(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """Step 9: count and ask the TL how to handle."""
    about = _arg(c, "about")
    text = f"Tillfälligt utskick i retur: {about}. Hur ska det hanteras?"
    return _ok(
        "temporary_counted",
        "Registrerat. TL har fått en fråga om hur utskicket ska hanteras.",
        [("temporary_counted", {"about": about}), ("alert_raised", {"kind": "tillfalliga", "text": text})],
        effects=Effects(alerts=(Alert("tillfalliga", text),)),
    )


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


def _close_day(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    events: list[tuple[str, dict]] = []
    alerts: tuple[Alert, ...] = ()
    if s.phase != SCANNED and not _deadline_alerted(s):
        text = "Dagen avslutades utan att skanningen blev klar."
        events.append(("alert_raised", {"kind": "deadline_missed", "text": text}))
        alerts = (Alert("deadline_missed", text),)
    events.append(("day_closed", {}))
    closed = replay(provisional(events, now, ctx), s)
    layout = printouts.day_summary(summary(closed), ctx.site, ctx.kiosk, ctx.deadline.strftime("%H:%M"))
    return _ok("day_closed", "Dagen är avslutad. Dagssammanställningen skrivs ut.", events,
               effects=Effects(lights=Lights(), prints=(Print("day_summary", layout),), alerts=alerts))


def _deadline_alerted(s: DayState) -> bool:
    return any(a["kind"] == "deadline_missed" for a in s.alerts)


def _tick(s: DayState, c: dict, now: dt.datetime, ctx: Context) -> Decision:
    """The 14:00 deadline: once it has passed on a day with activity and scanning is not done,
    alert the TL (once a day)."""
    late = now >= deadline_for(local_day(now, ctx.tz), ctx.deadline, ctx.tz)
    if s.started and late and s.phase not in (SCANNED, CLOSED) and not _deadline_alerted(s):
        text = f"Skanningen av returpost var inte klar kl. {ctx.deadline.strftime('%H:%M')}."
        return _ok("deadline_missed", "Klockan har passerat 14:00 och skanningen är inte klar. TL har larmats.",
                   [("alert_raised", {"kind": "deadline_missed", "text": text})],
                   effects=Effects(alerts=(Alert("deadline_missed", text),)))
    return _ok("idle", "")


_DECIDE: dict[str, Callable[[DayState, dict, dt.datetime, Context], Decision]] = {
    "login": _login,
    "badge": _badge,
    "logout": _logout,
    "sort": _sort,
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
    "close_day": _close_day,
    "tick": _tick,
}

COMMANDS: frozenset[str] = frozenset(_DECIDE)


# ---------------------------------------------------------------------------------------------
# The day's follow-up row
# ---------------------------------------------------------------------------------------------


def summary(s: DayState) -> dict:
    """The day summary (the follow-up row) as plain JSON-able data."""
    return {
        "day": s.day.isoformat() if s.day else None,
        "phase": s.phase,
        "counts": {p: s.counts.get(p, 0) for p in PILES},
        "leta_kund": dict(s.leta_kund),
        "scans": {
            "accepted": [{"code": a["code"], "pile": a["pile"], "at": a["at"]} for a in s.accepted],
            "rejected": [{"code": r["code"], "reason": r["reason"], "pile": r.get("pile"), "at": r["at"]} for r in s.rejected],
        },
        "scanned": dict(s.scanned),
        "warnings": [dict(w) for w in s.warnings],
        "scan_done_at": s.scan_done_at,
        "deadline_met": s.deadline_met,
        "decisions": [dict(d) for d in s.decisions],
        "cab": [dict(c) for c in s.cab],
        "alerts": [{"kind": a["kind"], "text": a["text"]} for a in s.alerts],
        "temporary": [dict(t) for t in s.temporary],
        "remarks": [dict(r) for r in s.remarks],
        "labels_printed": s.labels_printed,
        "cover_slips_printed": s.cover_slips_printed,
    }


def at_local(iso: str) -> str:
    """An event's UTC time as local wall-clock text (for screens)."""
    return parse_iso(iso).astimezone(TZ).strftime("%H:%M")
