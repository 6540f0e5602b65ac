"""Home: the day's steps with their progress, and the deadline countdown."""

from __future__ import annotations

import datetime as dt

from ....core import routine
from ....core.clock import TZ, deadline_for
from ....core.domain import LETA_KUND_TYPES, SCAN_ORDER
from ..widgets import AMBER, BLUE, GREEN, GREY, RED, Btn, Page, Scale, Txt, font_px, grid, in_words, mm, paint, set_bg


class HomePage(Page):
    title = "Dagens returpost"
    home_button = False
    keep_textures = True  # shown between every step

    STEPS = (
        ("sort", "1. Sortera"),
        ("scan", "2. Skanna före 14:00"),
        ("dodsbo", "3. Dödsbo-etiketter"),
        ("sekretess", "4. Sekretess"),
        ("letakund", "5. Leta Kund"),
        ("datecheck", "6–7. Datumkoll"),
        ("incoming", "8. Inkomna brev"),
        ("other", "9–10. Övrigt"),
        ("summary", "Dagens summering"),
    )

    def build(self):
        self.head.add_widget(Btn("Logga ut", lambda: self.app.do({"cmd": "logout"}), color=GREY,
                                 size_hint_x=None, width=mm(28), font_mm=3.8))
        self.countdown = Txt("", font_mm=4.2, halign="center", fixed=True, size_hint_y=None,
                             height=mm(12 if Scale.portrait else 9), bold=True)
        paint(self.countdown, GREY)
        self.body.add_widget(self.countdown)
        cols = 2 if Scale.portrait else 3  # portrait: two columns, so every tile stays >= 9 mm under the strips
        g = grid(cols, spacing_mm=1.0)  # the rows share the body: every step visible without scrolling
        self.buttons: dict[str, Btn] = {}
        for name, label in self.STEPS:
            b = Btn(label, lambda n=name: self.app.go(n), font_mm=3.5, halign="left")
            b.halign = "left"
            self.buttons[name] = b
            g.add_widget(b)
        self.body.add_widget(g)

    def refresh(self):
        s = self.state
        now = self.app.now()
        day = now.astimezone(TZ).date()
        sep = "\n" if Scale.portrait else " – "
        self.title_label.text = f"[b]Dagens returpost[/b]{sep}{in_words(day)}"
        text, color = countdown(s, now, self.app.controller.ctx.deadline)
        self.countdown.text = text
        set_bg(self.countdown, color)
        for name, label in self.STEPS:
            progress, status = step_progress(name, s)
            b = self.buttons[name]
            b.text = f"[b]{label}[/b]\n[size={font_px(3.0)}]{progress}[/size]"
            b.set_color({"done": GREEN, "active": BLUE, "todo": GREY}[status])


def countdown(s: routine.DayState, now: dt.datetime, deadline: dt.time) -> tuple[str, tuple]:
    """The 14:00 line: green when done in time, amber from 30 min before, red when missed."""
    at = deadline_for(now.astimezone(TZ).date(), deadline)
    hhmm = deadline.strftime("%H:%M")
    if s.phase in (routine.SCANNED, routine.CLOSED) and s.day == now.astimezone(TZ).date():
        when = routine.at_local(s.scan_done_at) if s.scan_done_at else ""
        if s.deadline_met is None:  # no barcoded mail today: neither met nor missed
            return "Inga streckkodsbrev i dag.", GREEN
        if s.deadline_met:
            return f"Skanningen klar kl. {when} – i tid före {hhmm}.", GREEN
        return f"Skanningen klar kl. {when} – efter {hhmm}.", RED
    left = at - now
    if left.total_seconds() <= 0:
        return f"{hhmm} har passerat – skanningen är inte klar.", RED  # the alert's state: the status bar
    minutes = int(left.total_seconds() // 60)
    hours, mins = divmod(minutes, 60)
    text = f"Skanningen ska vara klar {hhmm}: " + (f"{hours} h {mins} min kvar" if hours else f"{mins} min kvar")
    return text, AMBER if left <= dt.timedelta(minutes=30) else BLUE


def handled(done: int, sorted_: int, what: str) -> tuple[str, str]:
    """A step for one pile (6–7, 8, 9): done once it has handled as many letters as were sorted
    into its pile (and at least one); "x av y" while fewer."""
    if sorted_ > done:
        return f"{done} av {sorted_} {what}", "active" if done else "todo"
    return f"{done} {what}" + (" – klart" if done else ""), "done" if done else "todo"


def step_progress(name: str, s: routine.DayState) -> tuple[str, str]:
    total_sorted = sum(s.counts.values())
    if name == "sort":
        if s.phase != routine.SORTING:
            return f"{total_sorted} brev sorterade – klart", "done"
        return f"{total_sorted} brev sorterade", "active" if total_sorted else "todo"
    if name == "scan":
        scanned = sum(s.scanned.values())
        to_scan = sum(s.counts[p] for p in SCAN_ORDER)
        if s.phase in (routine.SCANNED, routine.CLOSED):
            return f"Alla fyra högar klara · {scanned} av {to_scan} skannade", "done"
        if s.phase == routine.SCANNING:
            return f"Hög {s.scan_index + 1} av 4 · {scanned} av {to_scan} skannade", "active"
        return f"Ej påbörjad · {to_scan} brev att skanna", "todo"
    if name == "dodsbo":
        n = s.scanned["dodsbo"]
        done = s.pile_scanned("dodsbo") and s.labels_printed >= n
        return f"{s.labels_printed} av {n} etiketter", "done" if done and n else ("active" if s.pile_scanned("dodsbo") and n else "todo")
    if name == "sekretess":
        if s.cover_slips_printed:
            return "Försättsblad utskrivet", "done"
        return f"{s.scanned['sekretess']} skannade · inget försättsblad", "active" if s.pile_scanned("sekretess") and s.scanned["sekretess"] else "todo"
    if name == "letakund":
        n = sum(s.leta_kund[t] for t in LETA_KUND_TYPES)
        if n and s.checklist.get("wms_ticked", 0) > 0:
            return f"{n} brev räknade · bockat i WMS", "done"
        return f"{n} brev räknade", "active" if n else "todo"
    if name == "datecheck":
        return handled(len(s.decisions), s.counts["ovriga_brev"], "brev bedömda")
    if name == "incoming":
        cases = len(s.cab)
        if cases and s.checklist.get("cab_case_created", 0) < cases:  # a case not yet ticked as made in CAB
            return f"{cases} CAB-ärenden · {max(0, s.checklist.get('cab_case_created', 0))} klara i CAB", "active"
        return handled(cases, s.counts["inkomna_brev"], "CAB-ärenden")
    if name == "other":
        n, m = len(s.temporary), len(s.remarks)
        text, status = handled(n, s.counts["tillfalliga"], "utskick")
        if not n and m:
            status = "done"
        return f"{text} · {m} anmärkn.", status if n or m else "todo"
    if name == "summary":
        return ("Dagen är avslutad", "done") if s.phase == routine.CLOSED else ("Skriv ut, avsluta dagen", "todo")
    return "", "todo"
