"""Child process of tests/test_ui_truth.py: the real kiosk app on the Xvfb display in $DISPLAY,
driven by real X input, probing what a review found: double taps, stale screens, colours, the
shelf after a restart, the scanner on screens that must not record a scan, idle sign-out.

    python tests/ui_truth_driver.py DATA_DIR OUT.json SIZE

The journal is first filled through one Kiosk (a morning up to scanning) and closed; the app
then starts on a second Kiosk over the same journal, as after a restart. Writes OUT.json with
what it saw. Exit 0 when the script ran to the end.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ui_child import OffsetClock, run_script, simulator_config  # noqa: E402  (a child process: ROOT first)

PNR = "19121212-1212"


def main(data_dir: str, out_path: str, size: str) -> int:
    from kiosk.shelf.ui import kivyenv

    w, h = (int(v) for v in size.split("x"))
    kivyenv.prepare(w, h)
    kivyenv.register_fonts()

    from kiosk.core import routine
    from kiosk.core.clock import TZ
    from kiosk.shelf.runtime import Kiosk
    from kiosk.shelf.ui.widgets import AMBER, GREEN, RED, Btn
    from kiosk_dev.ui_driver import Driver, double_tap, find_button, has_button, tap, wait

    # bounce_ms wider than the default: xdotool's 40 ms gap between two clicks stretches on a loaded
    # machine, and the guard measures the gap as the app sees it
    cfg = simulator_config(data_dir, "[ui]\nidle_logout_minutes = 15\nbounce_ms = 300\n")
    clock = OffsetClock(dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ))

    # The morning before the restart: signed in, sorted, scanning started, one dödsbo scanned.
    first = Kiosk(cfg, clock=clock, simulator=True, sync=False)
    for cmd in ({"cmd": "login", "operator": "ANNA"}, {"cmd": "sort", "pile": "dodsbo"},
                {"cmd": "sort", "pile": "dodsbo"}, {"cmd": "sort", "pile": "sekretess"},
                {"cmd": "sort", "pile": "faktura"}, {"cmd": "sort", "pile": "tillfalliga", "about": "Priskompensation"},
                {"cmd": "scan_phase"}, {"cmd": "scan", "code": "7350010000011"}):
        first.controller.handle(cmd)
    first.devices.close()
    first.journal.close()

    kiosk = Kiosk(cfg, clock=clock, simulator=True, sync=False)
    seen: dict = {}

    def script(d: Driver):
        app = d.app
        ctl = app.controller
        s = lambda: ctl.state  # noqa: E731

        def shelf():
            return {slot: kiosk.devices.shelf.pattern(slot) for slot in app.shelf.cells}

        def lit():
            return {slot: p for slot, p in shelf().items() if p != "off"}

        def press(text, exact=False):
            tap(find_button(text, exact))

        def banner():
            return {"text": app.banner.text, "rgba": list(app.banner._bg[0].rgba)}

        def events():
            return [e["type"] for e in kiosk.journal.events()]

        def doubles(text, interval, exact=False):
            """A real double tap `interval` s apart; then the double-tap window passes."""
            proc = double_tap(find_button(text, exact), interval)
            yield lambda: proc.poll() is not None
            yield wait(0.6)

        yield 3
        # -- after the restart: the current pile blinks at once, before any command --------
        seen["screen_at_start"] = app.sm.current
        seen["lit_at_start"] = lit()

        # -- the scan screen (the step in progress: open at the start): the box follows undo;
        # the scan list names and removes ---------------------------------------------------
        if app.sm.current != "scan":
            press("2. Skanna")
        yield lambda: app.sm.current == "scan"
        yield 2
        page = app.pages["scan"]
        seen["undo_label_one_scan"] = page.undo.text
        kiosk.devices.scanner.inject("7350010000012")
        yield lambda: s().scanned["dodsbo"] == 2
        yield 2
        seen["box_after_scan"] = page.feedback.text
        seen["banner_accepted"] = banner()
        seen["list_after_scan"] = [b.text for b in page.list_btns if not b.disabled]
        kiosk.devices.scanner.inject("7350010000012")  # a duplicate
        yield lambda: len(s().rejected) == 1
        yield 2
        seen["banner_duplicate"] = banner()
        seen["after_duplicate"] = {"undo": page.undo.text, "box": page.feedback.text,
                                   "box_rgba": list(page.feedback._bg[0].rgba)}
        press("Ångra")
        yield wait(0.5)
        seen["after_undo"] = {"scanned": s().scanned["dodsbo"], "box": page.feedback.text,
                              "count": page.count.text, "banner": banner()}
        # Remove a named scan: tap it in the list.
        kiosk.devices.scanner.inject("7350010000013")
        yield lambda: "7350010000013" in {a["code"] for a in s().accepted}
        yield 2
        seen["list_before_remove"] = [b.text for b in page.list_btns if not b.disabled]
        target = page.shown_codes[1]
        seen["removed_code"] = target
        n = s().scanned["dodsbo"]
        tap(page.list_btns[1])
        yield lambda n=n: s().scanned["dodsbo"] == n - 1
        yield 2
        seen["codes_after_remove"] = [a["code"] for a in s().accepted]
        seen["box_after_remove"] = page.feedback.text
        fresh = iter(range(20, 99))

        def fill(pile):
            prefix = {"dodsbo": "7350010000", "sekretess": "7350020000", "faktura": "7350030000",
                      "ovriga_streckkod": "7350040000"}[pile]
            while s().scanned[pile] < s().counts[pile]:
                k = s().scanned[pile]
                kiosk.devices.scanner.inject(f"{prefix}{next(fresh)}1")
                yield lambda p=pile, k=k: s().scanned[p] == k + 1

        yield from fill("dodsbo")
        # A double tap on "Klar – nästa hög" with the pile complete closes one pile, not two.
        for interval in (0.05, 0.15, 0.30):
            index = s().scan_index
            yield from doubles("Klar – ", interval)
            seen.setdefault("klar_double", []).append({"interval": interval, "moved": s().scan_index - index,
                                                       "phase": s().phase})
            if s().current_pile is None:
                break
            yield from fill(s().current_pile)
        seen["phase_after_klar"] = s().phase
        while s().phase == routine.SCANNING:  # the rest, one deliberate tap each
            i = s().scan_index
            press("Klar – ")
            yield lambda i=i: s().scan_index > i or s().phase != routine.SCANNING or app.sm.current != "scan"
            yield 2
            if s().scan_index == i and s().phase == routine.SCANNING:
                press("Tryck igen")  # a confirmation asked by the controller
                yield lambda i=i: s().scan_index > i or s().phase != routine.SCANNING
        seen["banner_before_leaving"] = app.banner.text

        # -- leaving a step clears its banner; the sorting screen: one tap per letter ----------
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        yield 2
        seen["banner_on_home"] = app.banner.text
        seen["lit_on_home"] = lit()
        press("1. Sortera")
        yield lambda: app.sm.current == "sort"
        yield 2
        # a 40 ms bounce is one letter (within ui.bounce_ms = 300 here); two taps a second apart are two
        # letters (the rest after a tap counts from the frame after its command: on a loaded machine
        # that frame can come some hundred ms late, and 600 ms apart was once one letter in a full run)
        for interval in (0.04, 1.0):
            before = s().counts["ovriga_brev"]
            yield from doubles("Övriga brev utan", interval)
            seen[f"sort_double_{int(interval * 1000)}"] = s().counts["ovriga_brev"] - before
        # the Leta Kund chooser: the same; and its undo takes back the last letter counted there
        press("Leta Kund-brev")
        yield lambda: has_button("D · ")
        yield 2
        for interval in (0.04, 1.0):
            before = s().leta_kund["D"]
            yield from doubles("D · ", interval)
            seen[f"lk_double_{int(interval * 1000)}"] = s().leta_kund["D"] - before
        seen["lk_undo_label"] = find_button("Ångra: ").text
        before = s().leta_kund["D"]
        press("Ångra: ")
        yield lambda: s().leta_kund["D"] == before - 1
        press("Klar", exact=True)
        yield 2
        seen["sort_undo_label"] = app.pages["sort"].undo.text

        # -- step 6-7: double taps record one decision; each new letter starts at today -------
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        press("6–7. Datumkoll")
        yield lambda: app.sm.current == "datecheck"
        dc = app.pages["datecheck"]
        today = clock.now().astimezone(TZ).date()
        for interval in (0.05, 0.15, 0.30):
            press("+1 mån")
            yield 2
            n = len(s().decisions)
            yield from doubles("Registrera beslutet", interval)
            seen.setdefault("decision_double", []).append(len(s().decisions) - n)
        seen["date_after_register"] = dc.date.isoformat() == today.isoformat()
        seen["lit_after_decision"] = lit()
        press("+1 mån")
        yield 2
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        yield 2
        seen["lit_after_leaving_datecheck"] = lit()
        press("6–7. Datumkoll")
        yield lambda: app.sm.current == "datecheck"
        seen["date_on_return"] = dc.date.isoformat() == today.isoformat()

        # -- step 9: double taps on a temporary mailing count one letter ---------------------
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        press("9–10. Övrigt")
        yield lambda: app.sm.current == "other"
        for interval in (0.05, 0.15, 0.30):
            n = len(s().temporary)
            yield from doubles("Priskompensation", interval, exact=True)
            seen.setdefault("temporary_double", []).append(len(s().temporary) - n)

        # -- step 8: the CAB box of a bestridan clears for the next letter --------------------
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        press("8. Inkomna brev")
        yield lambda: app.sm.current == "incoming"
        inc = app.pages["incoming"]
        press("Bestridan av faktura")
        yield 2
        press("Privatkund")
        yield 2
        n = len(s().cab)
        yield from doubles("Registrera och visa ärendet", 0.15)
        seen["incoming_double_150"] = len(s().cab) - n
        seen["case_red"] = list(inc.case._bg[0].rgba) == list(RED)
        seen["banner_alert"] = banner()
        press("Autogiroblankett")
        yield 2
        seen["case_after_next_kind"] = inc.case.text
        seen["case_bg_after_next_kind_red"] = list(inc.case._bg[0].rgba) == list(RED)

        # -- the dödsbo screen: a scanned personnummer goes into the field only --------------
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        press("3. Dödsbo")
        yield lambda: app.sm.current == "dodsbo"
        before = events()
        kiosk.devices.scanner.inject(PNR)
        yield lambda: app.pages["dodsbo"].digits == PNR
        yield 2
        seen["dodsbo_scan_events"] = events()[len(before):]
        seen["dodsbo_field"] = app.pages["dodsbo"].digits
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        seen["dodsbo_field_after_leave"] = app.pages["dodsbo"].digits

        # -- idle: a warning the last minute, a touch keeps the session, then sign-out -------
        clock.skip(14 * 60 + 5)
        yield wait(1.3)
        seen["idle_warning"] = banner()
        tap(app.pages["home"].title_label)  # a touch anywhere
        yield 3
        seen["after_touch"] = {"operator": ctl.operator, "banner": app.banner.text}
        clock.skip(15 * 60 + 5)
        yield lambda: ctl.operator is None and app.sm.current == "signin"
        seen["idle_signed_out"] = [e["data"] for e in kiosk.journal.events() if e["type"] == "signed_out"]

        # -- the sign-in screen: a scanner code signs no one in and records nothing ----------
        before = events()
        kiosk.devices.scanner.inject("7350030000099")
        yield 5
        seen["signin_scan_banner"] = banner()
        seen["signin_scan_events"] = events()[len(before):]
        seen["lit_at_end"] = lit()
        seen["ignored_taps"] = sum(w.ignored for page in app.pages.values() for w in page.walk()
                                   if isinstance(w, Btn))

    seen["colours"] = {"green": list(GREEN), "amber": list(AMBER), "red": list(RED)}
    return run_script(kiosk, script, seen, out_path)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
