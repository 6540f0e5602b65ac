"""The day summary (the follow-up row) and closing the day."""

from __future__ import annotations

from ... import routine
from ...domain import LETA_KUND_TYPES, LETA_KUND_WMS, PILE_NAMES, PILES
from ...report import COLUMNS, follow_up_row
from ..widgets import AMBER, GREEN, GREY, MUTED, Btn, Page, Scale, Txt, grid, mm, row, scroll

COLUMN_NAMES = {
    "day": "Dag", "site": "Kontor", "kiosk": "Kiosk",
    **{f"count_{p}": PILE_NAMES[p] for p in PILES},
    **{f"leta_kund_{t}": f"Leta Kund {t} ({LETA_KUND_WMS[t]})" for t in LETA_KUND_TYPES},
    "leta_kund_apartments": "Leta Kund A med lgh-nr", "scans_accepted": "Godkända skanningar",
    "scans_rejected": "Avvisade skanningar", "missing_scans": "Saknade skanningar",
    "scan_done_at": "Skanning klar", "deadline_met": "Klar före 14:00", "alerts": "Larm till TL",
    "alerts_bestridan": "– varav bestridan", "alerts_tillfalliga": "– varav tillfälliga utskick",
    "alerts_deadline_missed": "– varav missad 14:00",
}


class SummaryPage(Page):
    title = "Dagssammanställning – uppföljningsraden"

    def build(self):
        self.table = grid(4 if not Scale.portrait else 2, spacing_mm=0.5, row_default_height=mm(7.5),
                          row_force_default=True)
        self.body.add_widget(scroll(self.table))
        self.values: dict[str, Txt] = {}
        self.confirming = False
        self.print_btn = Btn("Skriv ut sammanställning", self.app.print_summary, color=GREY, font_mm=3.6)
        self.close_btn = Btn("Avsluta dagen", self._close, color=GREEN, font_mm=3.6)
        self.body.add_widget(row(13, self.print_btn, self.close_btn))

    def _close(self):
        if not self.confirming:
            self.confirming = True
            self.refresh()
            return
        self.confirming = False
        self.app.do({"cmd": "close_day"})
        self.refresh()

    def on_leave(self, *args):
        self.confirming = False

    def refresh(self):
        s = self.state
        cfg = self.app.config
        row_ = follow_up_row(self.app.controller.summary(), cfg.kiosk.site, cfg.kiosk.id)
        if not self.values:  # the labels are built once; a refresh only changes their text
            for key in COLUMNS:
                self.table.add_widget(Txt(COLUMN_NAMES.get(key, key), font_mm=2.9, color=MUTED, fixed=True,
                                          min_ratio=0.7))
                self.values[key] = Txt("", font_mm=3.1, fixed=True, min_ratio=0.7)
                self.table.add_widget(self.values[key])
        for key in COLUMNS:
            value = row_[key]
            if key == "deadline_met":
                value = "Ja" if value else "Nej"
            elif key == "scan_done_at":
                value = routine.at_local(value) if value else "–"
            elif value is None:
                value = "–"
            self.values[key].text = f"[b]{value}[/b]"
        closed = s.phase == routine.CLOSED
        self.close_btn.disabled = closed
        self.close_btn.text = ("Dagen är avslutad" if closed else
                               "Tryck igen för att avsluta dagen" if self.confirming else "Avsluta dagen")
        self.close_btn.set_color(AMBER if self.confirming else GREEN)
