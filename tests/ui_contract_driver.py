"""Child process of tests/test_ui_contract.py: the screens for the contract's commands, through
the real app on the Xvfb display in $DISPLAY with real X input: confirming second taps, undo of
a "Klar", late letters, the century buttons and `+` on the dödsbo keypad, reprints, checklist
ticks, a letter without a date, undo per step with the TL alert cancelled, reopening the day.

    python tests/ui_contract_driver.py DATA_DIR OUT.json SIZE
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ui_child import OffsetClock, run_script, scanning_started, simulator_config  # noqa: E402  (a child process: ROOT first)


def main(data_dir: str, out_path: str, size: str) -> int:
    from kiosk.shelf.ui import kivyenv

    w, h = (int(v) for v in size.split("x"))
    kivyenv.prepare(w, h)
    kivyenv.register_fonts()

    from kiosk.core import routine
    from kiosk.core.clock import TZ
    from kiosk.shelf.runtime import Kiosk
    from kiosk_dev.ui_driver import Driver, find_button, has_button, tap, type_keys
    from kiosk.shelf.ui.widgets import Scale, mm

    cfg = simulator_config(data_dir)
    kiosk = Kiosk(cfg, clock=OffsetClock(dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)), simulator=True, sync=False)
    seen: dict = {}

    def script(d: Driver):
        app = d.app
        ctl = app.controller
        s = lambda: ctl.state  # noqa: E731

        def press(text, exact=False):
            tap(find_button(text, exact))

        def shown(code):
            return lambda: app.last_shown is not None and app.last_shown.code == code

        def go(step_button, screen):
            press("Hem", exact=True)
            yield lambda: app.sm.current == "home"
            press(step_button)
            yield lambda: app.sm.current == screen
            yield 2

        def close_preview():
            yield lambda: app.preview_view is not None
            press("Stäng", exact=True)
            yield lambda: app.preview_view is None

        yield 3
        press("ANNA")
        yield lambda: app.sm.current == "home"
        press("1. Sortera")
        yield lambda: app.sm.current == "sort"
        for name, n in (("Dödsbofakturor", 2), ("Sekretessfakturor", 1), ("Faktura/påminnelse", 1)):
            for _ in range(n):
                press(name)
                yield 2
        yield from scanning_started(app)
        type_keys("7350010000011")
        yield lambda: s().scanned["dodsbo"] == 1

        # Klar with one of two missing: the controller asks; the button says so; nothing closed.
        press("Klar – ")
        yield shown("confirm_needed")
        yield 2
        page = app.pages["scan"]
        seen["klar_confirm"] = {"button": page.next.text, "banner": app.banner.text,
                                "index": s().scan_index, "missing": app.last_shown.data.get("missing")}
        press("Tryck igen")
        yield lambda: s().scan_index == 1
        # Plain undo with no scan in the new pile takes the Klar back.
        yield 2
        seen["undo_label_after_klar"] = page.undo.text
        press("Ångra")
        yield lambda: s().scan_index == 0
        type_keys("7350010000012")
        yield lambda: s().scanned["dodsbo"] == 2
        for code in (None, "7350020000011", "7350030000011", None):
            if code:
                n = sum(s().scanned.values())
                type_keys(code)
                yield lambda n=n: sum(s().scanned.values()) == n + 1
            i = s().scan_index
            press("Klar – ")
            yield lambda i=i: s().scan_index == i + 1 or s().phase == routine.SCANNED
        yield lambda: s().phase == routine.SCANNED

        # A late dödsbo letter: tap the finished pile on the sorting screen, then scan it.
        yield from go("1. Sortera", "sort")
        press("Dödsbofakturor")
        yield 2
        seen["late_armed"] = {"button": app.pages["sort"].buttons["dodsbo"].text, "banner": app.banner.text}
        type_keys("7350010000013")
        yield lambda: s().scanned["dodsbo"] == 3
        yield 2
        seen["late_banner"] = app.banner.text

        # Dödsbo: ten digits with "-" need the century; two buttons show both readings. The labels
        # go to a printer that keeps nothing (a file printer refuses a personnummer, and a label
        # counts only when printed).
        from kiosk.shelf.hw.printer import DummyTransport

        paper_printer, kiosk.devices.printer.transport = kiosk.devices.printer.transport, DummyTransport()
        yield from go("3. Dödsbo", "dodsbo")
        dodsbo = app.pages["dodsbo"]
        for ch in "121212-1212":
            n = len(dodsbo.digits)
            press(ch, exact=True)
            yield lambda n=n: len(dodsbo.digits) == n + 1
        press("Skriv ut etikett")
        yield shown("century_needed")
        yield 2
        seen["century_buttons"] = [b.text for b in dodsbo.century_btns if b.parent is not None]
        press("Född 1912-12-12")
        yield lambda: s().labels_printed == 1
        yield from close_preview()
        # "+" on the keypad: 100 years or older, no question asked.
        for ch in "121212+1212":
            n = len(dodsbo.digits)
            press(ch, exact=True)
            yield lambda n=n: len(dodsbo.digits) == n + 1
        press("Skriv ut etikett")
        yield lambda: s().labels_printed == 2
        yield from close_preview()
        kiosk.devices.scanner.inject("191212121212")  # the scanner into the field
        yield lambda: dodsbo.digits == "191212121212"
        press("Skriv ut etikett")
        yield lambda: s().labels_printed == 3
        yield from close_preview()
        # A fourth label for three invoices: a confirming tap, counted as a reprint.
        kiosk.devices.scanner.inject("191212121212")
        yield lambda: dodsbo.digits == "191212121212"
        press("Skriv ut etikett")
        yield shown("confirm_needed")
        yield 2
        seen["reprint_button"] = dodsbo.print_btn.text
        press("Tryck igen")
        yield lambda: s().label_reprints == 1
        yield from close_preview()
        kiosk.devices.printer.transport = paper_printer

        # Sekretess: the envelope tick is recorded.
        yield from go("4. Sekretess", "sekretess")
        press("Skriv ut försättsblad")
        yield from close_preview()
        # ... with every strip up (a printer that does not answer, a two-line status bar, the TL
        # strip): the whole billing address still shows and the tick, tapped by real X input
        # where it now lies, is recorded.
        from kiosk_dev.screenshots import strip_snapshot

        kiosk.poller.stop()
        if kiosk.poller._thread is not None:
            kiosk.poller._thread.join(5)
        ids = [a["id"] for a in s().alerts]
        kiosk.poller.snapshot = strip_snapshot(kiosk.poller.snapshot, "all", ids, app.now())
        app._status()
        yield 4
        sek = app.pages["sekretess"]
        seen["strips_up"] = {"problem": app.problem.height > 0, "status_lines_2": app.status.height > mm(7),
                             "address": sek.address.text, "address_cut": sek.address.text_overflow,
                             "tick_mm": min(min(b.size) for b in sek.check_btns) / Scale.ppm}
        press("Kuvertet lämnat")
        yield lambda: s().checklist.get("envelope_sent")

        # Leta Kund: the WMS tick, and undo of the last letter.
        yield from go("5. Leta Kund", "letakund")
        press("B · ")
        yield lambda: s().leta_kund["B"] == 1
        press("Bockat i WMS")
        yield lambda: s().checklist.get("wms_ticked")
        press("Ångra: ")  # names the letter: "Ångra: B · Brev 1"
        yield lambda: s().leta_kund["B"] == 0

        # A letter without a date: re-send after a new address search.
        yield from go("6–7. Datumkoll", "datecheck")
        press("Övrigt brev med datum")
        yield 2
        press("Inget datum")
        yield lambda: len(s().decisions) == 1
        seen["no_date_decision"] = dict(s().decisions[0])
        press("Ångra beslut:")
        yield lambda: len(s().decisions) == 0

        # Incoming: "klart i CAB" is recorded; undo the case.
        yield from go("8. Inkomna brev", "incoming")
        press("Autogiroblankett")
        yield 2
        press("Registrera och visa ärendet")
        yield lambda: len(s().cab) == 1
        press("Klart i CAB")
        yield lambda: s().checklist.get("cab_case_created")
        seen["incoming_undo_label"] = find_button("Ångra ärende:").text
        press("Ångra ärende:")
        yield lambda: len(s().cab) == 0
        yield 2
        # After the undo the panel shows the state after it: no case, and a tap where "Klart i
        # CAB" was records nothing.
        inc = app.pages["incoming"]
        ticks = s().checklist.get("cab_case_created", 0)
        tap(inc.cab_btn)
        yield 3
        seen["incoming_after_undo"] = {"case": inc.case.text, "cab_enabled": not inc.cab_btn.disabled,
                                       "cab_opacity": inc.cab_btn.opacity,
                                       "ticks_added": s().checklist.get("cab_case_created", 0) - ticks}

        # A temporary mailing alerts the TL; undoing it cancels the alert.
        yield from go("9–10. Övrigt", "other")
        press("Priskompensation")
        yield lambda: len(s().temporary) == 1
        press("Ångra utskick:")
        yield lambda: len(s().temporary) == 0
        yield 2
        seen["undo_temporary_banner"] = app.banner.text
        press("Brevlådan full")
        yield lambda: len(s().remarks) == 1
        press("Ångra anmärkning:")
        yield lambda: len(s().remarks) == 0
        # Poste Restante: its checklist as two big ticks, recorded; "Klar" brings the remarks back.
        press("Poste Restante")
        yield lambda: len(s().remarks) == 1 and has_button("Upplysning.se")
        yield 2
        other = app.pages["other"]
        seen["pr_tick_mm"] = min(min(b.size) for b in other.pr_ticks.values()) / Scale.ppm
        press("Upplysning.se")
        yield lambda: s().checklist.get("poste_restante_checked")
        press("Om borttagen")
        yield lambda: s().checklist.get("poste_restante_removed")
        yield 2
        seen["pr_ticks"] = [b.text for b in other.pr_ticks.values()]
        press("Klar – fler anmärkningar")
        yield lambda: has_button("Brevlådan full")

        # Close the day, then reopen it (each with a confirming tap).
        yield from go("Dagens summering", "summary")
        def close_day(key):
            press("Avsluta dagen")
            yield 2
            seen[f"{key}_confirm"] = app.pages["summary"].close_btn.text
            press("Tryck igen")
            yield lambda: s().phase == routine.CLOSED or (app.last_shown and app.last_shown.code == "confirm_needed")
            yield 2
            if s().phase != routine.CLOSED:
                press("avsluta ändå")
                yield lambda: s().phase == routine.CLOSED
            yield 2
            seen[f"{key}_banner"] = app.banner.text
            yield from close_preview()

        yield from close_day("first_close")
        seen["closed_button"] = app.pages["summary"].close_btn.text
        press("öppna igen")
        yield 2
        assert s().phase == routine.CLOSED, "one tap must not reopen the day"
        press("Tryck igen för att öppna")
        yield lambda: s().phase != routine.CLOSED
        seen["reopened_phase"] = s().phase
        seen["summary"] = ctl.summary()
        # Closing again prints a second summary today: the button and the banner say so.
        yield from close_day("second_close")

    return run_script(kiosk, script, seen, out_path)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
