"""Steps 9-10: temporary mailings and envelope remarks."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from kivy.utils import escape_markup

from ... import truth
from ...domain import REMARK_CODES
from ..keyboard import shared as text_keyboard
from ..widgets import GREY, MUTED, PANEL, Btn, Page, Scale, TLNote, Txt, column, grid, mm, paint, raised_alert


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
        for about in self.TEMPORARY:
            left.add_widget(Btn(about, lambda a=about: self.app.do({"cmd": "temporary", "about": a}), font_mm=3.3,
                                guard=True))
        self.undo_temporary = Btn("Ångra senaste utskick", lambda: self.app.do({"cmd": "undo", "what": "temporary"}),
                                  font_mm=3.0, color=GREY, guard=True)
        pair = BoxLayout(orientation="horizontal", spacing=mm(1.2))
        pair.add_widget(Btn(self.OWN, self._type_temporary, font_mm=3.3, color=GREY))
        pair.add_widget(self.undo_temporary)
        left.add_widget(pair)
        right = column(spacing_mm=1.2)
        right.add_widget(Txt("[b]Anmärkning på kuvertet[/b] → kundloggen:", font_mm=3.4, color=MUTED))
        g = grid(2, spacing_mm=1.2, size_hint_y=None, height=mm(3 * 9.5 + 2 * 1.2), row_force_default=True,
                 row_default_height=mm(9.5))
        for code, name in REMARK_CODES.items():
            g.add_widget(Btn(name, lambda c=code: self.app.do({"cmd": "remark", "code": c}), font_mm=3.0, color=GREY,
                             guard=True))
        self.undo_remark = Btn("Ångra senaste anmärkning", lambda: self.app.do({"cmd": "undo", "what": "remark"}),
                               font_mm=3.0, color=GREY, guard=True)
        g.add_widget(self.undo_remark)
        right.add_widget(g)
        self.note = Txt("", font_mm=3.1, valign="top", fixed=True, padding=(mm(1), mm(0.5)), min_ratio=0.5)
        paint(self.note, PANEL)
        right.add_widget(self.note)
        main.add_widget(left)
        main.add_widget(right)
        self.body.add_widget(main)
        self.tl_note = TLNote(self.app, answers=True, home=self.body)  # the TL alert, the TLs' answers (inbox)

    def _type_temporary(self):
        text_keyboard(self.app).open_for("Vilket tillfälligt utskick? (kiosken frågar TL om hanteringen)",
                                         lambda text: self.app.do({"cmd": "temporary", "about": text}))

    def refresh(self):
        s = self.state
        self.undo_temporary.disabled = not s.temporary
        self.undo_remark.disabled = not s.remarks
        self.temp_label.text = (f"[b]Tillfälliga utskick[/b] i dag: {len(s.temporary)}. "
                                "Tryck per brev – kiosken frågar TL om hanteringen.")
        if not self.note.text:
            self.note.text = f"Anmärkningar i dag: {len(s.remarks)}"

    def on_result(self, result):
        if result.code == "remark_logged":
            if result.data.get("checklist"):  # the banner above already says what to log
                # short forms: the banner above shows the whole checklist in full
                self.note.text = ("[b]Poste Restante – gör också:[/b]\n"
                                  "☐ Upplysning.se: är adressen borttagen?\n"
                                  "☐ Om ja: radera särskild postadress i CAB.")
            else:
                self.note.text = f"[b]{result.message}[/b]"
        elif result.code == "temporary_counted":
            self.note.text = f"[b]{escape_markup(truth.without_claims(result.message))}[/b]"
            self.tl_note.track(raised_alert(result) or self.tl_note.alert_id)
        self.refresh()
