"""Step 8: incoming letters: which CAB case to create."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

from ....core.domain import INCOMING_KINDS
from ..keyboard import shared as text_keyboard
from ..widgets import (BLUE, GREEN, GREY, MUTED, PANEL, RED, Btn, Page, Scale, TLNote, Txt, column, grid, mm, paint,
                       raised_alert, row, set_bg)


class IncomingPage(Page):
    """Two steps in one place: first the kind of letter, then (when needed) private/business and
    what it is about; then the exact CAB case is shown."""

    title = "8. Inkomna brev – vilket CAB-ärende?"

    HINT = "Välj vad det är för brev. Kioskens svar är ärendet du ska skapa i CAB."
    ABOUT = ("Handskrivet brev", "Adressändring", "Fråga om faktura", "Avtal", "Övrigt")
    OWN = "Annat … (skriv själv)"

    def build(self):
        self.kind = None
        self.segment = None
        self.about = None
        portrait = Scale.portrait
        main = BoxLayout(orientation="vertical" if portrait else "horizontal", spacing=mm(2))
        self.choices = column(spacing_mm=1.2)
        self.kind_grid = grid(2, spacing_mm=1.2)
        self.kind_grid.add_widget(Txt("Vad är det för brev?", font_mm=3.6, color=MUTED, fixed=True))
        for kind, name in INCOMING_KINDS.items():
            self.kind_grid.add_widget(Btn(name, lambda k=kind: self._set("kind", k), font_mm=3.3))
        self.detail = column(spacing_mm=1.2)
        # The chosen kind, and "Byt typ" in the header (a row of its own left too little room).
        self.kind_name = Txt("", font_mm=3.4, fixed=True, bold=True, size_hint_y=None, height=mm(6), min_ratio=0.6)
        if portrait:  # room enough: the kind and "Byt typ" in a row of their own
            self.change_kind = Btn("Byt typ", lambda: self._set("kind", None), color=GREY, size_hint_x=0.35,
                                   font_mm=3.2)
            self.kind_name.size_hint_y = 1
            self.kind_row = row(10, self.change_kind, self.kind_name)
        else:
            self.kind_row = self.kind_name
            self.change_kind = self.header_button("Byt typ", lambda: self._set("kind", None), width_mm=22,
                                                  guard=False)
        self.seg_row = row(9.5)
        self.seg_btns = {}
        for seg, name in (("privat", "Privatkund"), ("foretag", "Företagskund")):
            b = Btn(name, lambda s=seg: self._set("segment", s), font_mm=3.2)
            self.seg_btns[seg] = b
            self.seg_row.add_widget(b)
        self.about_grid = grid(3, spacing_mm=1.2, size_hint_y=None, height=mm(2 * 9.5 + 1.2))
        self.about_btns = {}
        for about in self.ABOUT:
            b = Btn(about, lambda a=about: self._set("about", a), font_mm=3.0)
            self.about_btns[about] = b
            self.about_grid.add_widget(b)
        self.own_btn = Btn(self.OWN, self._type_about, font_mm=3.0)
        self.about_grid.add_widget(self.own_btn)
        self.register = Btn("Registrera och visa ärendet", self._register, color=GREEN, size_hint_y=None,
                            height=mm(10), font_mm=3.4, guard=True)
        self.case = Txt(self.HINT, font_mm=3.4, valign="top", fixed=True, padding=(mm(1.5), mm(1)), min_ratio=0.55)
        paint(self.case, PANEL)
        self.case_shown = False
        self.case_count = 0  # len(state.cab) when the case was shown: an undo below it takes it away
        self.cab_done = False
        self.cab_btn = Btn("", self._cab_tick, color=GREY, size_hint_y=None, height=mm(11), font_mm=3.3, guard=True)
        self.case_box = column(self.case, self.cab_btn, spacing_mm=1.2)
        if portrait:
            self.case_box.size_hint_y = 0.6
        self.undo = self.header_button("Ångra senaste ärende", lambda: self.app.do({"cmd": "undo", "what": "incoming"}))
        main.add_widget(self.choices)
        main.add_widget(self.case_box)
        self.body.add_widget(main)
        # a bestridan: where the TL alert is (central's inbox), beside the case it belongs to
        self.tl_note = TLNote(self.app, home=self.case_box)

    def _set(self, field, value):
        setattr(self, field, value)
        if field == "kind":
            self.segment = self.about = None
            if value is not None:
                self._clear_case()  # the next letter: the last letter's CAB case box goes
        self.refresh()

    def _clear_case(self):
        self.case.text = self.HINT
        set_bg(self.case, PANEL)
        self.case_shown = False
        self.cab_done = False

    def _cab_tick(self):
        if self.record_tick("cab_case_created", not self.cab_done):
            self.cab_done = not self.cab_done
        self.refresh()

    def on_leave(self, *args):
        super().on_leave(*args)
        self.kind = self.segment = self.about = None
        self._clear_case()

    def _type_about(self):
        own = self.about if self.about and self.about not in self.ABOUT else ""
        text_keyboard(self.app).open_for("Vad handlar brevet om? (blir ärenderubriken i CAB)",
                                         lambda text: self._set("about", text), own)

    def needs(self):
        k = self.kind
        return (k in ("ovrigt", "fullmakt_med_brev", "bestridan"), k in ("ovrigt", "fullmakt_med_brev"))

    def _register(self):
        if self.kind is None:
            return
        need_seg, need_about = self.needs()
        cmd = {"cmd": "incoming", "kind": self.kind}
        if need_seg:
            cmd["segment"] = self.segment
        if need_about:
            cmd["about"] = self.about
        result = self.app.do(cmd)
        if result.ok:
            case = result.data["cab"]
            # few lines, so the whole case stays readable under every strip
            text = (f"[b]Skapa i CAB:[/b] typ [b]{case['type']}[/b], status [b]{case['status']}[/b], "
                    f"grupp [b]{case['group']}[/b]\nÄrenderubrik: [b]{case['subject']}[/b]\n{case['action']}")
            # a bestridan: the strip below says where the alert to the TL is (kiosk/core/truth.py)
            self.case.text = text
            set_bg(self.case, RED if self.kind == "bestridan" else PANEL)
            self.case_shown = True
            self.case_count = len(self.state.cab)
            self.cab_done = False
            self.tl_note.track(raised_alert(result))
            self.kind = self.segment = self.about = None
            Btn.hush()  # the choices are replaced by the kind grid under the finger
            self.refresh()

    def refresh(self):
        cases = self.state.cab
        if self.case_shown and len(cases) < self.case_count:  # the case shown was undone: it is gone
            self._clear_case()
            # its alert stays in the strip, now saying where the withdrawal is (until the next case)
        self.undo.disabled = not cases
        # named by its subject's own part: "Scannat brev – Autogiroblankett" -> "Autogiroblankett"
        what = cases[-1].get("subject", "").split("– ")[-1].split(": ")[-1] if cases else ""
        self.undo.text = escape_markup(f"Ångra ärende: {what}" if cases else "Ångra ärende")
        self.cab_btn.disabled = not self.case_shown
        self.cab_btn.opacity = 1 if self.case_shown else 0
        self.cab_btn.text = "☑  Klart i CAB" if self.cab_done else "☐  Klart i CAB (tryck när ärendet är skapat)"
        self.cab_btn.set_color(GREEN if self.cab_done else GREY)
        self.change_kind.opacity = 0 if self.kind is None else 1
        self.change_kind.disabled = self.kind is None
        self.choices.clear_widgets()
        if self.seg_row.parent is not None:
            self.seg_row.parent.remove_widget(self.seg_row)
        if self.kind is None:
            self.choices.add_widget(self.kind_grid)
            return
        need_seg, need_about = self.needs()
        self.kind_name.text = INCOMING_KINDS[self.kind]
        self.choices.add_widget(self.kind_row)
        # Landscape: the private/business choice heads the right column (the left one has no
        # room for it under every strip); portrait: in the choices.
        seg_home = self.choices if Scale.portrait else self.case_box
        if need_seg:
            seg_home.add_widget(self.seg_row, index=0 if Scale.portrait else len(seg_home.children))
        if need_about:
            self.choices.add_widget(self.about_grid)
        self.choices.add_widget(self.register)
        self.choices.add_widget(Widget())
        for s, b in self.seg_btns.items():
            b.set_color(BLUE if s == self.segment else GREY)
        for a, b in self.about_btns.items():
            b.set_color(BLUE if a == self.about else GREY)
        own = self.about is not None and self.about not in self.ABOUT
        short = self.about if own and len(self.about) <= 28 else f"{(self.about or '')[:26]}…"
        self.own_btn.text = f"Annat: {escape_markup(short)}" if own else self.OWN
        self.own_btn.set_color(BLUE if own else GREY)
        ready = (not need_seg or self.segment) and (not need_about or self.about)
        self.register.disabled = not ready
