"""Step 4: the sekretess cover slip and the envelope checklist."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from ....core import truth
from ....core.domain import BILLING_ADDRESS
from ..widgets import GREEN, GREY, MUTED, Btn, Page, Scale, Txt, column, grid, mm, paint

RECORDED = 3  # the tick that is recorded: "Kuvertet lämnat i internposten" (checklist envelope_sent)


class SekretessPage(Page):
    title = "4. Sekretess – försättsblad"

    CHECKS = (
        "Försättsbladet ligger först i kuvertet",
        "Inget kundnamn syns i kuvertets fönster",
        "Kuvertet går till Fakturering (adressen intill)",
        "Kuvertet lämnat i internposten",
    )

    def build(self):
        portrait = Scale.portrait
        main = BoxLayout(orientation="vertical" if portrait else "horizontal", spacing=mm(2))
        left = column(spacing_mm=1.5)
        self.count = Txt("", font_mm=3.8, halign="center", fixed=True, size_hint_y=None, height=mm(11),
                         min_ratio=0.55)
        left.add_widget(self.count)
        self.print_btn = Btn("Skriv ut försättsblad", lambda: self.app.do({"cmd": "cover_slip"}), color=GREEN,
                             size_hint_y=None, height=mm(11), font_mm=4.0, guard=True)
        left.add_widget(self.print_btn)
        # The whole billing address, however little room the strips above leave: its lines
        # shrink together (never below half size) and none is cut.
        addr = Txt("\n".join(BILLING_ADDRESS), font_mm=3.8, color=(0, 0, 0, 1), halign="center", fixed=True,
                   min_ratio=0.5, padding=(mm(1), mm(0.5)))
        paint(addr, (0.96, 0.96, 0.92, 1))
        left.add_widget(addr)
        self.address = addr
        right = column(spacing_mm=1.2)
        right.add_widget(Txt("[b]Kuvertet[/b] – tryck när det är gjort:", font_mm=3.4, color=MUTED))
        self.ticks: dict[int, bool] = {}
        self.check_btns = []
        checks = grid(1 if portrait else 2, spacing_mm=1.2)  # landscape: two by two, each >= 9 mm high
        for i, text in enumerate(self.CHECKS):
            b = Btn("", lambda i=i: self._tick(i), color=GREY, font_mm=3.2, guard=True)
            self.check_btns.append(b)
            checks.add_widget(b)
        right.add_widget(checks)
        main.add_widget(left)
        main.add_widget(right)
        self.body.add_widget(main)

    def _tick(self, i):
        on = not self.ticks.get(i)
        # the envelope has gone: recorded as an event (the day summary shows it)
        if i == RECORDED and not self.record_tick("envelope_sent", on):
            self.refresh()
            return
        self.ticks[i] = on
        self.refresh()

    def refresh(self):
        s = self.state
        n = s.scanned["sekretess"]
        unprinted = truth.unprinted_note(s.prints, "cover_slip")
        done = f"\nUtskrivna försättsblad i dag: {s.cover_slips_printed}{unprinted}" if s.prints else ""
        can_print = s.pile_scanned("sekretess") and n > 0
        why = "" if can_print else ("\nSkanna sekretessfakturorna först (steg 2)." if not s.pile_scanned("sekretess")
                                    else "\nInga sekretessfakturor i dag: inget försättsblad behövs.")
        self.count.text = f"[b]{n}[/b] sekretessfakturor skannade i dag{done}{why}"
        self.print_btn.disabled = not can_print
        recorded = getattr(s, "checklist", None)
        if isinstance(recorded, dict) and "envelope_sent" in recorded:  # the journal's word wins
            self.ticks[RECORDED] = bool(recorded["envelope_sent"])
        for i, b in enumerate(self.check_btns):
            on = self.ticks.get(i, False)
            b.text = ("☑  " if on else "☐  ") + self.CHECKS[i]
            b.set_color(GREEN if on else GREY)
