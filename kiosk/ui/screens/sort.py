"""Step 1: sort the day's mail into piles, one tap per letter."""

from __future__ import annotations

from ...domain import PILE_NAMES, PILES
from ..widgets import BLUE, GREEN, GREY, Btn, Page, Scale, grid, mm, row


class SortPage(Page):
    title = "1. Sortera – ett tryck per brev"

    def build(self):
        cols = 2 if Scale.portrait else 4
        g = grid(cols)
        self.buttons: dict[str, Btn] = {}
        for pile in PILES:
            b = Btn("", lambda p=pile: self.app.do({"cmd": "sort", "pile": p}), font_mm=3.6)
            self.buttons[pile] = b
            g.add_widget(b)
        self.body.add_widget(g)
        self.body.add_widget(row(12, Btn("Ångra senaste", lambda: self.app.do({"cmd": "undo"}), color=GREY),
                                 Btn("Klar – till skanning", lambda: self.app.go("scan"), color=GREEN)))

    def refresh(self):
        s = self.state
        big = int(mm(7))
        for pile, b in self.buttons.items():
            b.text = f"{PILE_NAMES[pile]}\n[b][size={big}]{s.counts[pile]}[/size][/b]"
            b.set_color(GREY if s.pile_scan_started(pile) else BLUE)
