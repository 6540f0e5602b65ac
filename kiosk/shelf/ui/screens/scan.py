"""Step 2: scan the barcoded piles in the fixed order before the deadline."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.utils import escape_markup

from ....core import routine
from ....core.domain import PILE_NAMES, SCAN_ORDER
from ..present import STYLE, scans_in, severity, short_code, undo_action
from ..widgets import GREEN, GREY, PANEL, RED, SEVERITY_COLOURS, Btn, Page, Scale, Txt, column, mm, paint, row, set_bg

LIST_LEN = 3  # the current pile's latest scans, each a button that removes that scan


class ScanPage(Page):
    title = "2. Skanna i ordning"

    def build(self):
        self.last = None  # the result the big box shows (a scan, or an undo of one)
        portrait = Scale.portrait
        main = BoxLayout(orientation="vertical" if portrait else "horizontal", spacing=mm(1.5))
        left = column(spacing_mm=1.2)
        self.current = Txt("", font_mm=4.8, bold=True, halign="center", fixed=True, size_hint_y=None,
                           height=mm(10), min_ratio=0.5)
        self.count = Txt("", font_mm=9, bold=True, halign="center", fixed=True, size_hint_y=None, height=mm(11))
        self.feedback = Txt("", font_mm=4.0, halign="center", fixed=True, min_ratio=0.5)
        paint(self.feedback, PANEL)
        left.add_widget(self.current)
        left.add_widget(self.count)
        left.add_widget(self.feedback)
        self.list_label = Txt("Ta bort:", font_mm=3.0, fixed=True, size_hint_x=None, width=mm(15), min_ratio=0.7)
        self.list_btns = [Btn("", lambda i=i: self._remove(i), color=GREY, font_mm=3.0, guard=True)
                          for i in range(LIST_LEN)]
        self.list_row = row(10, self.list_label, *self.list_btns, spacing_mm=1.2)
        left.add_widget(self.list_row)
        right = column(spacing_mm=1.2, size_hint_x=None if not portrait else 1, width=mm(58))
        if portrait:
            right.size_hint_y = None
            right.height = mm(62)
        self.order = Txt("", font_mm=3.2, valign="top", fixed=True, min_ratio=0.6)
        right.add_widget(self.order)
        self.undo = Btn("", self._undo, color=GREY, size_hint_y=None, height=mm(11), font_mm=3.2, guard=True)
        self.next = Btn("", None, color=GREEN, size_hint_y=None, height=mm(16), font_mm=3.8, guard=True)
        self.next._on_tap = self.confirmable(self.next, self._primary)
        right.add_widget(self.undo)
        right.add_widget(self.next)
        main.add_widget(left)
        main.add_widget(right)
        self.body.add_widget(main)
        self.shown_codes: list[str | None] = [None] * LIST_LEN

    def _primary(self):
        s = self.state
        if s.phase == routine.SORTING:
            return {"cmd": "scan_phase"}
        if s.phase == routine.SCANNING:
            return {"cmd": "next_pile"}
        self.app.go("dodsbo")
        return None

    def _undo(self) -> None:
        command = undo_action(self.state)[1]  # what the button says it takes back, by name
        if command is not None:
            self.app.do(command)

    def _remove(self, i: int) -> None:
        code = self.shown_codes[i]
        if code is not None:
            self.app.do({"cmd": "undo", "what": "scan", "code": code})

    def on_pre_enter(self, *args):
        self.last = None  # a box from an earlier visit is not today's truth any more
        super().on_pre_enter(*args)

    def on_result(self, result):
        types = [e["type"] for e in result.events]
        if types and types[-1] in ("scan_accepted", "scan_rejected"):
            self.last = result
        elif result.code in ("undone",) or "undone" in types:
            self.last = result  # the box follows undo: it says what was removed
        elif result.code in ("pile_done", "scan_phase_started") or "pile_done" in types:
            self.last = None

    def refresh(self):
        s = self.state
        lines = []
        for i, pile in enumerate(SCAN_ORDER):
            if s.pile_scanned(pile):
                mark = "✓"
            elif s.current_pile == pile:
                mark = "▶"
            else:
                mark = f"{i + 1}."
            lines.append(f"{mark} {PILE_NAMES[pile]}: {s.scanned[pile]} av {s.counts[pile]}")
        self.order.text = "[b]Ordning[/b]\n" + "\n".join(lines)
        pile = s.current_pile
        label, command = undo_action(s)
        self.undo.disabled = command is None
        self.undo.text = escape_markup(label)
        scans = scans_in(s, pile, LIST_LEN)
        for i, b in enumerate(self.list_btns):
            code = scans[i]["code"] if i < len(scans) else None
            self.shown_codes[i] = code
            b.text = f"✕ {escape_markup(short_code(code))}" if code else ""
            b.disabled = code is None
            b.opacity = 1 if code else 0
        self.list_label.opacity = 1 if scans else 0
        if s.phase == routine.SORTING:
            self.current.text = "Skanningen är inte startad"
            self.count.text = f"{sum(s.counts[p] for p in SCAN_ORDER)} brev"
            self.confirm_look(self.next, "Starta skanningen", GREEN, "Starta skanningen")
            self._feedback("Skanna högarna i ordning: dödsbo, sekretess, faktura, övriga med streckkod. "
                           "Högen som skannas blinkar på hyllan.", PANEL)
        elif pile is not None:
            self.current.text = f"Skanna nu: {PILE_NAMES[pile]}"
            self.count.text = f"{s.scanned[pile]} av {s.counts[pile]}"
            following = s.scan_index + 1
            label = (f"Klar – nästa hög:\n{PILE_NAMES[SCAN_ORDER[following]]}"
                     if following < len(SCAN_ORDER) else "Klar – avsluta skanningen")
            missing = s.counts[pile] - s.scanned[pile]
            self.confirm_look(self.next, label, GREEN,
                              f"Tryck igen: stäng högen\nmed {missing} oskannade" if missing > 0
                              else "Tryck igen för att stänga högen")
            if self.last is None:
                hint = "Skanna streckkoden." + (" (Simulator: skriv koden och tryck Enter.)"
                                                 if self.app.simulator else "")
                self._feedback(hint, PANEL)
            else:
                self._show_last()
        else:
            when = routine.at_local(s.scan_done_at) if s.scan_done_at else ""
            hhmm = self.app.controller.ctx.deadline.strftime("%H:%M")
            self.current.text = "Skanningen är klar"
            self.count.text = f"kl. {when}"
            self.confirm_look(self.next, "Vidare: dödsbo-etiketter", GREEN, "Vidare: dödsbo-etiketter")
            if s.deadline_met is None:  # no barcoded mail today: neither met nor missed
                self._feedback("Inga streckkodsbrev i dag.", GREEN)
            else:
                self._feedback(f"✓ I tid före {hhmm}." if s.deadline_met else f"✗ Klar efter {hhmm}.{self._deadline_alert()}",
                               GREEN if s.deadline_met else RED)

    def _deadline_alert(self) -> str:
        """Where the deadline alert to the TL is now (kiosk/core/truth.py), as a second sentence."""
        alert = next((a for a in reversed(self.state.alerts) if a["kind"] == "deadline_missed"), None)
        line = self.app.alert_line(alert["id"]) if alert else None
        return f" {escape_markup(line[0])}." if line else ""

    def tick(self) -> None:
        """Once a second: the deadline alert's line stays true."""
        if self.state.phase == routine.SCANNED and self.state.deadline_met is False:
            self.refresh()

    def _show_last(self):
        r = self.last
        code = r.data.get("code", "")
        shown = escape_markup(code if len(code) <= 32 else code[:30] + "…")
        message = escape_markup(r.message)
        colour = SEVERITY_COLOURS[severity(r)]
        if r.code == "undone" or any(e["type"] == "undone" for e in r.events):
            self._feedback(f"[b]↶ ÅNGRAD[/b]  {shown}\n{message}", GREY)
        elif r.code == "accepted":
            self._feedback(f"[b]✓ GODKÄND[/b]  {shown}\n{message}", colour)
        else:  # rejected, never counted; colour and icon follow the banner's severity
            word = "DUBBLETT" if r.code == "duplicate" else "OGILTIG"
            counted = "" if r.code == "duplicate" else " Räknades inte."  # a duplicate's message says so
            self._feedback(f"[b]{STYLE[severity(r)][0]} {word}[/b]  {shown}\n{message}{counted}", colour)

    def _feedback(self, text, color):
        self.feedback.text = text
        set_bg(self.feedback, color)
