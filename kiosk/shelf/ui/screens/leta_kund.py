"""Step 5: count the Leta Kund letters by type."""

from __future__ import annotations

from ..present import lk_key, lk_name
from ..widgets import GREEN, GREY, PANEL, Btn, Page, Scale, Txt, font_px, grid, mm, paint, row


LK_KEYS = ("A", "A+", "B", "C", "D", "H")


class LetaKundPage(Page):
    title = "5. Leta Kund-brev – räkna per typ"

    def build(self):
        cols = 2 if Scale.portrait else 3
        g = grid(cols)
        self.buttons = {}
        for key in LK_KEYS:
            letter = key[0]
            cmd = {"cmd": "leta_kund", "letter": letter, "count": 1, "apartments": 1 if key == "A+" else 0}
            b = Btn("", lambda c=cmd: self.app.do(dict(c)), font_mm=3.6, guard="bounce")
            self.buttons[key] = b
            g.add_widget(b)
        self.body.add_widget(g)
        self.reminder = Txt("", font_mm=3.1, fixed=True, valign="middle", min_ratio=0.6, padding=(mm(1), mm(0.5)))
        paint(self.reminder, PANEL)
        self.wms = Btn("", self._wms, color=GREY, font_mm=3.1, guard=True, size_hint_x=0.6)
        self.undo = Btn("Ångra senaste Leta Kund-brev", lambda: self.app.do({"cmd": "undo", "what": "leta_kund"}),
                        color=GREY, font_mm=3.1, guard=True, size_hint_x=0.6)
        if Scale.portrait:
            self.body.add_widget(row(16, self.reminder))
            self.body.add_widget(row(12, self.wms, self.undo))
        else:
            self.body.add_widget(row(16, self.reminder, self.wms, self.undo))
        self.wms_ticked = False

    def refresh(self):
        lk = self.state.leta_kund
        big = font_px(6)
        a_total, apartments = lk["A"], lk["apartments"]
        counts = {"A": a_total - apartments, "A+": apartments, **{t: lk[t] for t in LK_KEYS[2:]}}
        for key in LK_KEYS:
            self.buttons[key].text = f"{lk_name(key)}\n[b][size={big}]{counts[key]}[/size][/b]"
        log = self.state.leta_kund_log
        self.undo.text = f"Ångra: {lk_name(lk_key(log[-1]))}" if log else "Ångra Leta Kund-brev"
        self.undo.disabled = not log
        self.reminder.text = ("Bocka i \"Brev N retur\" i Leta Kund-ärendet i WMS och spara "
                              "(inget görs om ärendet är avslutat).")
        recorded = getattr(self.state, "checklist", None)
        if isinstance(recorded, dict) and "wms_ticked" in recorded:  # the journal's word wins
            self.wms_ticked = bool(recorded["wms_ticked"])
        self.wms.text = ("☑  Bockat i WMS" if self.wms_ticked else "☐  Bockat i WMS")
        self.wms.set_color(GREEN if self.wms_ticked else GREY)

    def _wms(self):
        if self.record_tick("wms_ticked", not self.wms_ticked):
            self.wms_ticked = not self.wms_ticked
        self.refresh()

    def on_result(self, result):
        if result.code == "leta_kund_counted":
            self.reminder.text = f"[b]{result.message}[/b]"
