"""Step 2: scan the barcoded piles in the fixed order before the deadline."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from ... import routine
from ...domain import PILE_NAMES, SCAN_ORDER
from ..widgets import AMBER, GREEN, GREY, PANEL, RED, Btn, Page, Scale, Txt, column, mm, paint, set_bg


class ScanPage(Page):
    title = "2. Skanna i ordning"

    def build(self):
        self.last = None
        portrait = Scale.portrait
        main = BoxLayout(orientation="vertical" if portrait else "horizontal", spacing=mm(1.5))
        left = column(spacing_mm=1.5)
        self.current = Txt("", font_mm=5.2, bold=True, halign="center", fixed=True, size_hint_y=None, height=mm(13))
        self.count = Txt("", font_mm=11, bold=True, halign="center", fixed=True, size_hint_y=None, height=mm(15))
        self.feedback = Txt("", font_mm=4.2, halign="center", fixed=True)
        paint(self.feedback, PANEL)
        left.add_widget(self.current)
        left.add_widget(self.count)
        left.add_widget(self.feedback)
        right = column(spacing_mm=1.2, size_hint_x=None if not portrait else 1, width=mm(58))
        if portrait:
            right.size_hint_y = None
            right.height = mm(62)
        self.order = Txt("", font_mm=3.3, valign="top", fixed=True)
        right.add_widget(self.order)
        self.undo = Btn("Ångra senaste skanning", lambda: self.app.do({"cmd": "undo"}), color=GREY,
                        size_hint_y=None, height=mm(11), font_mm=3.4)
        self.next = Btn("", self._primary, color=GREEN, size_hint_y=None, height=mm(16), font_mm=3.8)
        right.add_widget(self.undo)
        right.add_widget(self.next)
        main.add_widget(left)
        main.add_widget(right)
        self.body.add_widget(main)

    def _primary(self):
        s = self.state
        if s.phase == routine.SORTING:
            self.app.do({"cmd": "scan_phase"})
        elif s.phase == routine.SCANNING:
            self.app.do({"cmd": "next_pile"})
        else:
            self.app.go("dodsbo")

    def on_result(self, result):
        if result.events and result.events[-1]["type"] in ("scan_accepted", "scan_rejected"):
            self.last = result
        elif result.code in ("pile_done", "scan_phase_started"):
            self.last = None
        self.refresh()

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
        self.undo.disabled = s.phase != routine.SCANNING
        if s.phase == routine.SORTING:
            self.current.text = "Skanningen är inte startad"
            self.count.text = f"{sum(s.counts[p] for p in SCAN_ORDER)} brev"
            self.next.text = "Starta skanningen"
            self._feedback("Skanna högarna i ordning: dödsbo, sekretess, faktura, övriga med streckkod. "
                           "Högen som skannas blinkar på hyllan.", PANEL)
        elif pile is not None:
            self.current.text = f"Skanna nu: {PILE_NAMES[pile]}"
            self.count.text = f"{s.scanned[pile]} av {s.counts[pile]}"
            following = s.scan_index + 1
            self.next.text = (f"Klar – nästa hög:\n{PILE_NAMES[SCAN_ORDER[following]]}"
                              if following < len(SCAN_ORDER) else "Klar – avsluta skanningen")
            if self.last is None:
                hint = "Skanna streckkoden." + (" (Simulator: skriv koden och tryck Enter.)"
                                                 if self.app.simulator else "")
                self._feedback(hint, PANEL)
            else:
                self._show_last()
        else:
            when = routine.at_local(s.scan_done_at) if s.scan_done_at else ""
            self.current.text = "Skanningen är klar"
            self.count.text = f"kl. {when}"
            self.next.text = "Vidare: dödsbo-etiketter"
            self._feedback("I tid före 14:00." if s.deadline_met else "Klar efter 14:00 – TL har larmats.",
                           GREEN if s.deadline_met else RED)

    def _show_last(self):
        r = self.last
        code = r.data.get("code", "")
        shown = code if len(code) <= 32 else code[:30] + "…"
        if r.code == "accepted":
            self._feedback(f"[b]✓ GODKÄND[/b]  {shown}\n{r.message}", GREEN)
        elif r.code == "duplicate":
            self._feedback(f"[b]DUBBLETT[/b]  {shown}\n{r.message}", AMBER)
        else:
            self._feedback(f"[b]✗ OGILTIG[/b]  {shown}\n{r.message}", RED)

    def _feedback(self, text, color):
        self.feedback.text = text
        set_bg(self.feedback, color)
