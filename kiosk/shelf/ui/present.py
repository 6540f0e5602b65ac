"""What the screen says and shows, decided without Kivy (pure functions, tested on their own):
the severity a result is coloured by, the banner's icon and words, the shelf's standing picture,
what a plain undo would remove, and the idle sign-out clock."""

from __future__ import annotations

from ...core import routine
from ...core.domain import LETA_KUND_WMS, PILE_NAMES, SCAN_ORDER
from ...core.effects import SLOW_BLINK, Lights

OK, WARNING, ERROR, ALERT = "ok", "warning", "error", "alert"

# Severity -> (icon, leading word): colour is never the only signal.
STYLE = {
    OK: ("✓", ""),
    WARNING: ("⚠", "Obs"),
    ERROR: ("✗", "Stopp"),
    ALERT: ("⚠", "Larm till TL"),
}


def severity(result) -> str:
    """Result.severity when the controller gives it; until then derived from the status (a
    recorded rejection is a warning, a refusal an error, an alert to the TL an alert)."""
    given = getattr(result, "severity", None)
    if given in STYLE:
        return given
    effects = getattr(result, "effects", None)
    if result.status == routine.OK:
        if effects is not None and effects.alerts:
            return ALERT
        return WARNING if "Varning" in (result.message or "") else OK
    if result.status == routine.REJECTED:
        return WARNING
    return ERROR


def banner_text(result) -> str:
    """The banner line: icon, word, the controller's Swedish message, and what else to do."""
    sev = severity(result)
    icon, word = STYLE[sev]
    text = result.message or ""
    if word and not text.startswith(word) and not (sev == WARNING and text.startswith("Varning")):
        text = f"{word}: {text}"
    text = f"{icon} {text}".strip()
    effects = getattr(result, "effects", None)
    if effects is not None:
        # what became of the alert to the TL is the shell's to say (kiosk/core/truth.py): it changes
        if effects.notes:
            text += "  " + " ".join(effects.notes)
    return text


def standing_lights(state: routine.DayState) -> Lights:
    """The shelf picture a screen starts from (on start, after a restart, and whenever a step is
    left): while scanning, the current pile blinks; otherwise every slot is off. A step's own
    lights (the pile just sorted, the top compartment after a label, ...) come from its results
    and go off when the step is left."""
    pile = state.current_pile
    return Lights.of(**{pile: SLOW_BLINK}) if pile else Lights()


def last_scan_in(state: routine.DayState, pile: str | None) -> dict | None:
    """The pile's latest accepted scan of its scanning (late letters are not part of it)."""
    if pile is None:
        return None
    for entry in reversed(state.accepted):
        if entry.get("pile") == pile and not entry.get("late"):
            return entry
    return None


def scans_in(state: routine.DayState, pile: str | None, limit: int) -> list[dict]:
    """The pile's accepted scans today, latest first."""
    out = [e for e in reversed(state.accepted) if e.get("pile") == pile] if pile else []
    return out[:limit]


def short_code(code: str, keep: int = 8) -> str:
    return code if len(code) <= keep + 1 else "…" + code[-keep:]


def last_sort(state: routine.DayState) -> str | None:
    sorts = getattr(state, "sorts", None)
    if sorts is not None:
        return sorts[-1] if sorts else None
    return next((p for what, p, _ in reversed(getattr(state, "undoable", ())) if what == "sort"), None)


def lk_name(key: str) -> str:
    """A Leta Kund chooser key ("A", "A+", "B" …) in words, with the letter's name in WMS."""
    if key == "A":
        return f"A utan lgh-nr · {LETA_KUND_WMS['A']}"
    if key == "A+":
        return f"A med lgh-nr · {LETA_KUND_WMS['A']}"
    return f"{key} · {LETA_KUND_WMS[key]}"


def lk_key(entry: dict) -> str:
    """The Leta Kund chooser's key of a counted letter: "A+" for an A letter with an apartment."""
    return "A+" if entry.get("letter") == "A" and entry.get("apartments") else str(entry.get("letter"))


def last_count(state: routine.DayState) -> tuple[str, str] | None:
    """The sorting screen's latest count, sort or Leta Kund letter: ("sort", pile) or
    ("leta_kund", chooser key); None when there is none."""
    recent = [w for w in getattr(state, "recent", ()) if w in ("sort", "leta_kund")]
    if recent and recent[-1] == "leta_kund" and state.leta_kund_log:
        return "leta_kund", lk_key(state.leta_kund_log[-1])
    pile = last_sort(state)
    return ("sort", pile) if pile else None


def undo_action(state: routine.DayState) -> tuple[str, dict | None]:
    """The scan screen's undo button: its text, naming what it takes back, and the command it
    sends (None: nothing to take back). While scanning: the current pile's last accepted scan,
    also right after a rejected scan (which was never counted, so there is nothing of it to
    take back: the feedback box says so, the button is no explanation), else the "Klar" that
    made the pile current; while sorting the last sort."""
    if state.phase == routine.SORTING:
        pile = last_sort(state)
        return (f"Ångra sortering: {PILE_NAMES[pile]}", {"cmd": "undo", "what": "sort"}) if pile \
            else ("Inget att ångra", None)
    if state.phase == routine.SCANNING and state.current_pile is not None:
        scan = last_scan_in(state, state.current_pile)
        if scan is not None:
            return f"Ångra skanning {short_code(scan['code'])}", {"cmd": "undo", "what": "scan", "code": scan["code"]}
        if state.scan_index > 0:
            return (f"Ångra \"Klar\" för {PILE_NAMES[SCAN_ORDER[state.scan_index - 1]]}",
                    {"cmd": "undo", "what": "next_pile"})
        return "Inget att ångra", None
    if state.phase == routine.SCANNED:
        return f"Ångra \"Klar\" för {PILE_NAMES[SCAN_ORDER[-1]]}", {"cmd": "undo", "what": "next_pile"}
    return "Inget att ångra", None


def undo_label(state: routine.DayState) -> str:
    """The undo button's text (see `undo_action`)."""
    return undo_action(state)[0]


# The screen of each undoable record kind (routine.DayState.recent): where that step is done.
RECORD_SCREENS = {"leta_kund": "letakund", "date_check": "datecheck", "incoming": "incoming",
                  "temporary": "other", "remark": "other"}


def resume_screen(state: routine.DayState) -> str:
    """The screen of the step in progress, from the day's records alone (after a restart the
    kiosk opens it, not Home): the screen of the latest record; after the scanning, the dödsbo
    labels or the sekretess cover slip while they are due (not printed nor waiting to); Home when nothing is recorded yet or
    nothing is due; the summary on a closed day."""
    if state.phase == routine.CLOSED:
        return "summary"
    last = state.recent[-1] if state.recent else None
    if last is None:
        return "home"
    if state.phase == routine.SORTING:
        return "sort" if last in ("sort", "leta_kund") else RECORD_SCREENS.get(last, "home")
    if state.phase == routine.SCANNING:  # the scanning goes on unless a later step was recorded last
        return RECORD_SCREENS[last] if last in RECORD_SCREENS and last != "leta_kund" else "scan"
    if last in RECORD_SCREENS:
        return RECORD_SCREENS[last]
    if last == "sort":
        return "sort"
    # a label or slip that printed or still waits in the printer's queue is done here (its print
    # state shows on the status bar); one that failed leaves its step due
    if state.labels_printed_or_coming() < state.scanned["dodsbo"]:
        return "dodsbo"
    if state.scanned["sekretess"] and state.covered_or_coming() < state.scanned["sekretess"]:
        return "sekretess"
    return "home"


class IdleClock:
    """Automatic sign-out after `minutes` without a touch, a key or a scan, with a warning the
    last `warn_s` seconds. Pure: the caller passes the time (monotonic seconds)."""

    def __init__(self, minutes: float, warn_s: float = 60.0):
        self.limit = max(0.0, float(minutes)) * 60.0
        self.warn_s = warn_s
        self.last = 0.0

    def touch(self, now: float) -> None:
        self.last = now

    def state(self, now: float) -> tuple[str, float]:
        """("off"|"active"|"warn"|"logout", seconds left)."""
        if self.limit <= 0:
            return "off", float("inf")
        left = self.limit - (now - self.last)
        if left <= 0:
            return "logout", 0.0
        if left <= self.warn_s:
            return "warn", left
        return "active", left
