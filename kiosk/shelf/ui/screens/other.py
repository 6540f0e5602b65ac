"""Steps 9-10: temporary mailings and envelope remarks."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

from ....core import truth
from ....core.domain import REMARK_CODES
from ..keyboard import shared as text_keyboard
from ..widgets import GREEN, GREY, MUTED, PANEL, Btn, Page, Scale, TLNote, Txt, column, grid, mm, paint, raised_alert, row


# The Poste Restante checklist as ticks (short forms of domain.POSTE_RESTANTE_CHECKLIST).
PR_ITEMS = {"poste_restante_checked": "Upplysning.se: kollat om adressen är borttagen",
            "poste_restante_removed": "Om borttagen: särskild postadress raderad i CAB"}


class OtherPage(Page):
    title = "9–10. Tillfälliga utskick och kuvertanmärkningar"

    TEMPORARY = ("Bristfällig anläggning", "Priskompensation", "Annat tillfälligt utskick")
    OWN = "Annat … (skriv själv)"

    def build(self):
        portrait = Scale.portrait
        main = BoxLayout(orientation="vertical" if portrait else "horizontal", spacing=mm(2))
        left = column(spacing_mm=1.2)
        self.temp_label = Txt("", font_mm=3.4, color=MUTED)
        left.add_widget(self.temp_label)
        # Two rows of three: every target >= 9 mm under every strip, with room for the TL's word.
        temp = grid(3, spacing_mm=1.2, size_hint_y=None, height=mm(2 * 10 + 1.2))
        for about in self.TEMPORARY:
            temp.add_widget(Btn(about, lambda a=about: self.app.do({"cmd": "temporary", "about": a}), font_mm=3.2,
                                guard=True))
        self.undo_temporary = Btn("Ångra utskick", lambda: self.app.do({"cmd": "undo", "what": "temporary"}),
                                  font_mm=3.0, color=GREY, guard=True)
        temp.add_widget(Btn(self.OWN, self._type_temporary, font_mm=3.2, color=GREY))
        temp.add_widget(self.undo_temporary)
        left.add_widget(temp)
        # the TL alert and the TLs' answers (central's inbox), under the mailings they answer
        self.tl_note = TLNote(self.app, answers=True, home=left)
        left.add_widget(Widget())
        right = column(spacing_mm=1.2)
        right.add_widget(Txt("[b]Anmärkning på kuvertet[/b] → kundloggen:", font_mm=3.4, color=MUTED))
        g = grid(3, spacing_mm=1.2, size_hint_y=None, height=mm(2 * 10 + 1.2))
        for code, name in REMARK_CODES.items():
            g.add_widget(Btn(name, lambda c=code: self.app.do({"cmd": "remark", "code": c}), font_mm=3.0, color=GREY,
                             guard=True))
        self.undo_remark = Btn("Ångra anmärkning", lambda: self.app.do({"cmd": "undo", "what": "remark"}),
                               font_mm=3.0, color=GREY, guard=True)
        g.add_widget(self.undo_remark)
        self.remark_grid = g
        right.add_widget(g)
        # Poste Restante: its checklist in the grid's place, each item a big tick (recorded like
        # the other checklist items), until "Klar" brings the remarks back.
        self.pr_ticks: dict[str, Btn] = {}
        ticks = row(11, spacing_mm=1.2)
        for item in PR_ITEMS:
            b = Btn("", lambda i=item: self._pr_tick(i), color=GREY, font_mm=3.0, guard=True)
            self.pr_ticks[item] = b
            ticks.add_widget(b)
        self.pr_done: dict[str, bool] = {}
        self.pr_box = column(ticks, row(9.5, Btn("Klar – fler anmärkningar", self._pr_close, color=GREEN, font_mm=3.0)),
                             spacing_mm=1.2, size_hint_y=None, height=mm(11 + 1.2 + 9.5))
        self.remark_col = right
        self.note = Txt("", font_mm=3.1, valign="top", fixed=True, padding=(mm(1), mm(0.5)), min_ratio=0.5)
        paint(self.note, PANEL)
        right.add_widget(self.note)
        main.add_widget(left)
        main.add_widget(right)
        self.body.add_widget(main)

    def _pr_open(self) -> None:
        self.pr_done = {}
        if self.remark_grid.parent is self.remark_col:
            index = self.remark_col.children.index(self.remark_grid)
            self.remark_col.remove_widget(self.remark_grid)
            self.remark_col.add_widget(self.pr_box, index=index)
            Btn.hush()  # the checklist now lies where the remark buttons were

    def _pr_close(self) -> None:
        if self.pr_box.parent is self.remark_col:
            index = self.remark_col.children.index(self.pr_box)
            self.remark_col.remove_widget(self.pr_box)
            self.remark_col.add_widget(self.remark_grid, index=index)
            Btn.hush()

    def _pr_tick(self, item: str) -> None:
        if self.record_tick(item, not self.pr_done.get(item)):
            self.pr_done[item] = not self.pr_done.get(item)
        self.refresh()

    def on_leave(self, *args):
        super().on_leave(*args)
        self._pr_close()

    def _type_temporary(self):
        text_keyboard(self.app).open_for("Vilket tillfälligt utskick? (kiosken frågar TL om hanteringen)",
                                         lambda text: self.app.do({"cmd": "temporary", "about": text}))

    def refresh(self):
        s = self.state
        self.undo_temporary.disabled = not s.temporary
        self.undo_remark.disabled = not s.remarks
        self.undo_temporary.text = escape_markup(f"Ångra utskick: {s.temporary[-1]['about']}" if s.temporary
                                                 else "Ångra utskick")
        self.undo_remark.text = escape_markup(f"Ångra anmärkning: {REMARK_CODES[s.remarks[-1]['code']]}" if s.remarks
                                              else "Ångra anmärkning")
        self.temp_label.text = f"[b]Tillfälliga utskick[/b] i dag: {len(s.temporary)} – ett tryck per brev, kiosken frågar TL om hanteringen"
        if not self.note.text:
            self.note.text = f"Anmärkningar i dag: {len(s.remarks)}"
        if self.pr_box.parent is not None and not (s.remarks and s.remarks[-1].get("code") == "poste_restante"):
            self._pr_close()  # the Poste Restante remark was undone: its checklist goes with it
        for item, b in self.pr_ticks.items():
            done = bool(self.pr_done.get(item))
            b.text = ("☑  " if done else "☐  ") + PR_ITEMS[item]
            b.set_color(GREEN if done else GREY)

    def on_result(self, result):
        if result.code == "remark_logged":
            self.note.text = f"[b]{result.message}[/b]"
            if result.data.get("checklist"):
                self.note.text = "[b]Poste Restante – gör också:[/b] bocka av båda ovan. " + self.note.text
                self._pr_open()
        elif result.code == "temporary_counted":
            self.note.text = f"[b]{escape_markup(truth.without_claims(result.message))}[/b]"
            self.tl_note.track(raised_alert(result) or self.tl_note.alert_id)
        self.refresh()
