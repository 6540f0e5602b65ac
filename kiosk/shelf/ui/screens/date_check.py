"""Steps 6-7: the date check (discard or re-send). Each new letter starts at today's date; a
letter without an activity date is re-sent after a new address search."""

from __future__ import annotations

import datetime as dt

from kivy.uix.boxlayout import BoxLayout

from ....core import routine
from ....core.clock import TZ
from ....core.domain import DATE_CHECK_KINDS, DECISION_NAMES, STROMAVBROTT_ATGARD_TITLE
from ..widgets import MONTHS, BLUE, GREEN, GREY, PANEL, Btn, Page, Scale, Txt, column, in_words, mm, paint, row, set_bg


def undo_decision_text(last: dict | None) -> str:
    """The undo button names the decision it takes back: "Ångra: Kasta, 20 nov"."""
    if last is None:
        return "Ångra beslut"
    what = DECISION_NAMES.get(last.get("decision", ""), last.get("decision", ""))
    date = last.get("date")
    if date:
        day = dt.date.fromisoformat(date)
        what += f", {day.day} {MONTHS[day.month - 1][:3]}"
    else:
        what += ", utan datum"
    return f"Ångra beslut: {what}"


class DateCheckPage(Page):
    title = "6–7. Datumkoll: kasta eller skicka om"

    def build(self):
        self.kind = "planerat_stromavbrott"
        self.registered = False  # a decision was just recorded: the box waits for the next letter
        self.date = self.today()
        self.undo = self.header_button("Ångra senaste beslut", lambda: self.app.do({"cmd": "undo", "what": "date_check"}))
        self.kind_btns = {}
        kinds = row(10)
        for kind, name in DATE_CHECK_KINDS.items():
            b = Btn(name, lambda k=kind: self._kind(k), font_mm=3.4)
            self.kind_btns[kind] = b
            kinds.add_widget(b)
        self.always = Btn(f"\"{STROMAVBROTT_ATGARD_TITLE}\": skicka alltid om",
                          lambda: self.app.do({"cmd": "stromavbrott_atgard"}), color=GREY, font_mm=2.8, guard=True)
        kinds.add_widget(self.always)
        self.body.add_widget(kinds)
        self.date_label = Txt("", font_mm=4.4, bold=True, halign="center", fixed=True, size_hint_y=None, height=mm(7),
                              min_ratio=0.6)
        self.body.add_widget(self.date_label)
        steps = row(10)
        for label, delta in (("−1 mån", -30), ("−1 dag", -1), ("I dag", 0), ("+1 dag", 1), ("+1 mån", 30)):
            steps.add_widget(Btn(label, lambda d=delta: self._step(d), color=GREY, font_mm=3.6))
        self.body.add_widget(steps)
        self.no_date = Btn("Inget datum på brevet", self._no_date, color=GREY, font_mm=3.0, guard=True)
        if not Scale.portrait:  # landscape: the last choice of the date row, so the buttons stay >= 9 mm
            self.no_date.text = "Inget datum"
            steps.add_widget(self.no_date)
        self.decision = Txt("", font_mm=3.4, halign="center", fixed=True, padding=(mm(1), mm(0.5)), min_ratio=0.55)
        paint(self.decision, PANEL)
        register = Btn("Registrera beslutet", self._register, color=GREEN, font_mm=3.6, guard=True)
        if Scale.portrait:
            self.body.add_widget(self.decision)
            self.body.add_widget(row(12, register, self.no_date))
        else:  # landscape: the decision beside its buttons, so nothing is squeezed
            bottom = BoxLayout(orientation="horizontal", spacing=mm(1.5))
            bottom.add_widget(self.decision)
            bottom.add_widget(column(register, spacing_mm=1.2, size_hint_x=0.42))
            self.body.add_widget(bottom)

    def today(self) -> dt.date:
        return self.app.now().astimezone(TZ).date()

    def on_pre_enter(self, *args):
        self.registered = False
        self.date = self.today()  # a new letter starts at today, never at the last letter's date
        super().on_pre_enter(*args)

    def _kind(self, kind):
        self.kind = kind
        self.registered = False
        self.refresh()

    def _step(self, delta):
        self.registered = False
        if delta == 0:
            self.date = self.today()
        else:
            self.date += dt.timedelta(days=delta)
        self.refresh()

    def _register(self):
        self._record({"cmd": "date_check", "kind": self.kind, "date": self.date.isoformat()})

    def _no_date(self):
        self._record({"cmd": "date_check", "kind": self.kind})

    def _record(self, command: dict) -> None:
        result = self.app.do(command)
        if result.ok:
            self.date = self.today()
            self.registered = True  # the box waits for the next letter's date: no verdict on it yet
        self.refresh()

    def refresh(self):
        s = self.state
        for kind, b in self.kind_btns.items():
            b.set_color(BLUE if kind == self.kind else GREY)
        # Outage notices always carry a date; only another letter can lack one.
        self.no_date.disabled = self.kind == "planerat_stromavbrott"
        self.undo.disabled = not s.decisions
        self.undo.text = undo_decision_text(s.decisions[-1] if s.decisions else None)
        self.date_label.text = f"Datum på brevet: {in_words(self.date)}"
        decision = routine.date_decision(self.date, self.today())
        if decision == "kasta":
            text = (f"[b]{DECISION_NAMES['kasta'].upper()}[/b] – datumet har passerat eller är inom 3 dagar.\n"
                    "Lägg brevet i sekretesslådan.")
        else:
            text = (f"[b]{DECISION_NAMES['skicka_om'].upper()}[/b] – sök ny adress och skicka om.\n"
                    "Lägg brevet i facket Skicka om tills adressen är hittad.")
        if self.kind == "planerat_stromavbrott":
            text += "\nTa bort aviseringsadressen i WMS om den finns."
        if getattr(self, "registered", False):
            # just recorded (the banner says what): the box says nothing about a letter not yet read
            self.decision.text = "Registrerat. Nästa brev: ställ in datumet som står på brevet."
            set_bg(self.decision, PANEL)
            return
        self.decision.text = text
        # Both verdicts are the routine's normal outcome (a discard is not an error): the same
        # calm colour, the words tell them apart; red is kept for what the operator must act on.
        set_bg(self.decision, BLUE)
