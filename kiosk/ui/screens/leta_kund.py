"""Step 5: count the Leta Kund letters by type."""

from __future__ import annotations

from ...domain import LETA_KUND_WMS
from ..widgets import PANEL, Btn, Page, Scale, Txt, grid, mm, paint


class LetaKundPage(Page):
    title = "5. Leta Kund-brev – räkna per typ"

    def build(self):
        cols = 2 if Scale.portrait else 3
        g = grid(cols)
        self.buttons = {}
        for key in ("A", "A+", "B", "C", "D", "H"):
            letter = key[0]
            cmd = {"cmd": "leta_kund", "letter": letter}
            if key == "A+":
                cmd["apartments"] = 1
            b = Btn("", lambda c=cmd: self.app.do(dict(c)), font_mm=3.6)
            self.buttons[key] = b
            g.add_widget(b)
        self.body.add_widget(g)
        self.reminder = Txt("", font_mm=3.3, fixed=True, size_hint_y=None, height=mm(16), valign="top")
        paint(self.reminder, PANEL)
        self.body.add_widget(self.reminder)

    def refresh(self):
        lk = self.state.leta_kund
        big = int(mm(6))
        a_total, apartments = lk["A"], lk["apartments"]
        self.buttons["A"].text = f"A utan lgh-nr · {LETA_KUND_WMS['A']}\n[b][size={big}]{a_total - apartments}[/size][/b]"
        self.buttons["A+"].text = f"A med lgh-nr · {LETA_KUND_WMS['A']}\n[b][size={big}]{apartments}[/size][/b]"
        for t in ("B", "C", "D", "H"):
            self.buttons[t].text = f"{t} · {LETA_KUND_WMS[t]}\n[b][size={big}]{lk[t]}[/size][/b]"
        self.reminder.text = ("Påminnelse: bocka i \"Brev N retur\" i Leta Kund-ärendet i WMS och spara "
                              "(inget görs om ärendet är avslutat).")

    def on_result(self, result):
        if result.code == "leta_kund_counted":
            self.reminder.text = f"[b]{result.message}[/b]"
