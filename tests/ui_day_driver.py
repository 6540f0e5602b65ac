"""Child process of tests/test_ui.py: the real kiosk app in a real window (on the Xvfb display in
$DISPLAY), driven by real X input events (xdotool) through a whole day, sign-in to day summary.

    python tests/ui_day_driver.py DATA_DIR OUT.json SIZE

Writes OUT.json with what it saw (controller state, shelf, on-screen shelf, widget texts that
must not hold a personnummer). Exit 0 when the script ran to the end.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ui_child import OffsetClock, run_script, scanning_started, simulator_config  # noqa: E402  (a child process: ROOT first)

PNR = "191212121212"  # a valid test personnummer (Skatteverket's example number)
OWN_ABOUT = "Fråga om kö på väg 12"  # typed on the on-screen keyboard (step 8)
OWN_TEMPORARY = "Återbäring för ö-post"  # typed on the on-screen keyboard (step 9)


def main(data_dir: str, out_path: str, size: str) -> int:
    from kiosk.shelf.ui import kivyenv

    w, h = (int(v) for v in size.split("x"))
    kivyenv.prepare(w, h)
    kivyenv.register_fonts()
    from kivy.uix.label import Label

    from kiosk.core import routine
    from kiosk.core.clock import TZ
    from kiosk.shelf.runtime import Kiosk
    from kiosk_dev.ui_driver import Driver, find_button, has_button, tap, type_keys

    cfg = simulator_config(data_dir)
    clock = OffsetClock(dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ))
    kiosk = Kiosk(cfg, clock=clock, simulator=True, sync=False)
    seen: dict = {"checks": []}

    def shown_colour(widget) -> list[int]:
        """The colour the X server shows just inside the widget's top-left corner (its
        background, clear of its centred text)."""
        from kivy.core.window import Window

        from kiosk_dev.ui_tap_bench import Screen

        x, y = widget.to_window(widget.x + 3, widget.top - 3)
        return list(Screen().colour_at(int(Window.left + x), int(Window.top + Window.height - y)))

    def script(d: Driver):
        app = d.app
        ctl = app.controller
        s = lambda: ctl.state  # noqa: E731

        def press(text, exact=False):
            tap(find_button(text, exact))

        def kb_open():
            kb = getattr(app, "text_keyboard", None)
            return kb is not None and kb.parent is not None

        def kb_type(text):
            """Type `text` on the on-screen keyboard by tapping its keys (Aa for a capital that
            is not the first letter), one tap at a time."""
            kb = app.text_keyboard
            d.settle_frames = 0  # the keys do not move while typing: no layout to wait for
            for ch in text:
                n = len(kb.text)
                if ch == " ":
                    press("Mellanslag", exact=True)
                else:
                    if ch.isupper() and not kb.shift:
                        press("Aa", exact=True)
                        yield lambda: kb.shift
                    press(ch, exact=True)
                yield lambda n=n: len(kb.text) == n + 1
            yield lambda: kb.text.endswith(text)
            d.settle_frames = 2

        def kb_geometry():
            """Every key of the open keyboard: its smallest side in mm, and whether it lies
            wholly inside the window (nothing cut off)."""
            from kivy.core.window import Window
            from kivy.uix.behaviors import ButtonBehavior

            from kiosk.shelf.ui.widgets import Scale

            sides, inside = [], True
            for w in app.text_keyboard.walk(restrict=True):
                if isinstance(w, ButtonBehavior):
                    sides.append(min(w.width, w.height) / Scale.ppm)
                    x0, y0 = w.to_window(w.x, w.y)
                    inside &= x0 >= 0 and y0 >= 0 and x0 + w.width <= Window.width + 0.5 \
                        and y0 + w.height <= Window.height + 0.5
            return {"keys": len(sides), "min_mm": min(sides), "inside": inside}

        def shelf():
            return {slot: kiosk.devices.shelf.pattern(slot) for slot in app.shelf.cells}

        def pins():
            """The mock GPIO pins' levels (gpiozero MockFactory)."""
            sh = kiosk.devices.shelf
            return {slot: sh.factory.pin(num).state for slot, num in sh.slot_pins.items()}

        yield 3
        # Sign in by tapping the signature.
        press("ANNA")
        yield lambda: ctl.operator == "ANNA" and app.sm.current == "home"

        # Step 1: one tap per item. Leta Kund on the sorting screen asks the letter type: one tap
        # per letter in the chooser, whose undo takes back the last one.
        press("1. Sortera")
        yield lambda: app.sm.current == "sort"
        press("Leta Kund-brev")
        yield lambda: has_button("C · ") and has_button("Klar", exact=True)
        yield 2
        for _ in range(3):
            n = s().leta_kund["C"]
            press("C · ")
            yield lambda n=n: s().leta_kund["C"] == n + 1
        seen["undo_label_chooser"] = find_button("Ångra: ").text
        press("Ångra: ")
        yield lambda: s().leta_kund["C"] == 2
        press("Klar", exact=True)
        yield 2
        plan = [("dodsbo", "Dödsbofakturor", 2), ("sekretess", "Sekretessfakturor", 2),
                ("faktura", "Faktura/påminnelse", 3), ("ovriga_streckkod", "Övriga brev med streckkod", 1),
                ("inkomna_brev", "Inkomna brev", 2)]
        for pile, name, n in plan:
            for i in range(n):
                before = s().counts[pile]
                press(name)
                yield lambda p=pile, b=before: s().counts[p] == b + 1
                yield 2  # a duplicated touch would show up as an extra count here
                assert s().counts[pile] == before + 1, f"one tap gave {s().counts[pile] - before} items"
        seen["shelf_after_sort"] = shelf()
        seen["pins_after_sort"] = pins()
        seen["undo_label_sort"] = find_button("Ångra sortering").text
        press("Ångra sortering")
        yield lambda: s().counts["inkomna_brev"] == 1

        # Step 2: scan in the fixed order; the keyboard is the scanner.
        yield from scanning_started(app)
        yield 3
        seen["shelf_scan_dodsbo"] = shelf()
        seen["onscreen_scan_dodsbo"] = dict(app.shelf.patterns)
        codes = {"dodsbo": ["7350010000011", "7350010000012"], "sekretess": ["7350020000011", "7350020000012"],
                 "faktura": ["7350030000011", "7350030000012", "7350030000013"], "ovriga_streckkod": ["7350040000011"]}
        for pile in routine.SCAN_ORDER:
            for code in codes[pile]:
                n = s().scanned[pile]
                type_keys(code)
                yield lambda p=pile, n=n: s().scanned[p] == n + 1
            if pile == "sekretess":
                rejected = len(s().rejected)
                type_keys(codes["sekretess"][0])  # a duplicate
                yield lambda r=rejected: len(s().rejected) == r + 1
                seen["duplicate_feedback"] = app.pages["scan"].feedback.text
                type_keys("12ab")  # too short: invalid
                yield lambda r=rejected: len(s().rejected) == r + 2
                seen["invalid_feedback"] = app.pages["scan"].feedback.text
            index = s().scan_index
            press("Klar – ")
            yield lambda i=index: s().scan_index == i + 1 or s().phase == routine.SCANNED
        yield lambda: s().phase == routine.SCANNED

        # Step 3: the personnummer on the keypad, print, then the top compartment.
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        press("3. Dödsbo")
        yield lambda: app.sm.current == "dodsbo"
        page = app.pages["dodsbo"]
        for ch in PNR:
            n = len(page.digits)
            press(ch, exact=True)
            yield lambda n=n: len(page.digits) == n + 1
        yield 2
        seen["validation"] = page.validation.text
        press("Skriv ut etikett")
        # the simulator's printer is a file, which never gets a personnummer: the label is refused,
        # and so not counted (the preview shows it)
        yield lambda: bool(s().prints) and s().prints[-1]["state"] == "failed" and s().labels_printed == 0
        yield lambda: app.preview_view is not None
        yield 2
        seen["shelf_after_label"] = shelf()
        seen["pins_after_label"] = pins()
        seen["dodsbo_digits_after"] = page.digits
        seen["texts_after_label"] = [w.text for r in list(app.root_window.children) for w in r.walk()
                                     if isinstance(w, Label)]
        press("Stäng", exact=True)
        yield lambda: app.preview_view is None

        # Step 4: cover slip.
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        press("4. Sekretess")
        yield lambda: app.sm.current == "sekretess"
        press("Skriv ut försättsblad")
        yield lambda: s().cover_slips_printed == 1 and app.preview_view is not None
        seen["preview_kind"] = app.preview_view.kind
        press("Stäng", exact=True)
        yield lambda: app.preview_view is None

        # Step 5: Leta Kund.
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        press("5. Leta Kund")
        yield lambda: app.sm.current == "letakund"
        press("A med lgh-nr")
        yield lambda: s().leta_kund["A"] == 1 and s().leta_kund["apartments"] == 1
        press("B · ")
        yield lambda: s().leta_kund["B"] == 1

        # Steps 6-7: a date within 3 days: discard.
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        press("6–7. Datumkoll")
        yield lambda: app.sm.current == "datecheck"
        press("+1 dag")
        yield 2
        seen["decision_preview"] = app.pages["datecheck"].decision.text
        seen["decision_preview_pixel"] = shown_colour(app.pages["datecheck"].decision)
        from kiosk.shelf.ui.widgets import BLUE, RED

        seen["rgb"] = {"blue": [round(c * 255) for c in BLUE[:3]], "red": [round(c * 255) for c in RED[:3]]}
        press("Registrera beslutet")
        yield lambda: len(s().decisions) == 1
        yield 2
        seen["shelf_after_date"] = shelf()
        seen["decision_after_register"] = {"text": app.pages["datecheck"].decision.text, "banner": app.banner.text}

        # Step 8: an invoice dispute alerts the TL.
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        press("8. Inkomna brev")
        yield lambda: app.sm.current == "incoming"
        press("Bestridan av faktura")
        yield 2
        press("Privatkund")
        yield 2
        press("Registrera och visa ärendet")
        yield lambda: len(s().cab) == 1
        seen["case_text"] = app.pages["incoming"].case.text
        seen["tl_note_text"] = app.pages["incoming"].tl_note.text
        # ... and an "other" letter whose subject is typed on the on-screen keyboard.
        press("Övrigt inkommet brev")
        yield 2
        press("Företagskund")
        yield 2
        press("Annat …")
        yield kb_open
        yield 3
        seen["kb_geometry"] = kb_geometry()
        yield from kb_type(OWN_ABOUT[:4] + "x")
        press("← Radera", exact=True)  # the stray x goes again
        yield lambda: app.text_keyboard.text == OWN_ABOUT[:4]
        yield from kb_type(OWN_ABOUT[4:])
        seen["kb_field"] = app.text_keyboard.field.text
        press("Klar", exact=True)
        yield lambda: app.text_keyboard.parent is None and app.pages["incoming"].about == OWN_ABOUT
        yield 2
        seen["own_about_button"] = find_button("Annat: ").text
        press("Registrera och visa ärendet")
        yield lambda: len(s().cab) == 2
        seen["own_case_text"] = app.pages["incoming"].case.text

        # Steps 9-10.
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        press("9–10. Övrigt")
        yield lambda: app.sm.current == "other"
        press("Priskompensation")
        yield lambda: len(s().temporary) == 1
        press("Annat …")
        yield kb_open
        yield from kb_type(OWN_TEMPORARY)
        press("Klar", exact=True)
        yield lambda: len(s().temporary) == 2 and app.text_keyboard.parent is None
        # Cancelled text sends nothing; the length is capped; a personnummer is refused.
        press("Annat …")
        yield kb_open
        kb = app.text_keyboard
        for _ in range(70):
            kb.press("a")
        seen["kb_capped_len"] = len(kb.text)
        seen["kb_capped_hint"] = kb.hint.text
        press("Avbryt", exact=True)
        yield lambda: kb.parent is None
        press("Annat …")
        yield lambda: kb.parent is not None
        for ch in "Nr 19121212-1212":
            kb.press(ch)
        yield 2
        seen["kb_pnr_done_enabled"] = not kb.done_btn.disabled
        seen["kb_pnr_hint"] = kb.hint.text
        kb.finish()  # refused: stays open, sends nothing
        yield 2
        seen["kb_pnr_still_open"] = kb.parent is not None
        press("Avbryt", exact=True)
        yield lambda: kb.parent is None and kb.text == ""
        yield 2
        # Back to the sign-in screen (as a sign-out does): a half-typed text is dropped.
        press("Annat …")
        yield kb_open
        type_keys("halv 12", enter=False)  # the physical keyboard (the simulator's scanner) types here
        yield lambda: kb.text == "halv 12"
        seen["kb_physical"] = {"text": kb.text, "scan_buffer": app.scan_buffer}
        app.go("signin")
        yield 2
        seen["kb_after_signin"] = {"open": kb.parent is not None, "text": kb.text}
        app.go("other")
        yield lambda: app.sm.current == "other"
        seen["temporary_after_cancel"] = len(s().temporary)
        press("Poste Restante")
        yield lambda: len(s().remarks) == 1
        other = app.pages["other"]
        seen["remark_note"] = "\n".join([other.note.text, *(b.text for b in other.pr_ticks.values())])

        # Day summary: close the day (two taps to confirm).
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        press("Dagens summering")
        yield lambda: app.sm.current == "summary"
        press("Avsluta dagen")
        yield 2
        assert s().phase != routine.CLOSED, "one tap must not close the day"
        press("Tryck igen")
        yield lambda: app.last_shown is not None and app.last_shown.code in ("confirm_needed", "day_closed")
        yield 2
        seen["close_answer"] = {"code": app.last_shown.code, "data": app.last_shown.data,
                                "button": app.pages["summary"].close_btn.text, "banner": app.banner.text}
        if s().phase != routine.CLOSED:  # something is unfinished: the controller asks once more
            press("avsluta ändå")
        yield lambda: s().phase == routine.CLOSED and app.preview_view is not None
        seen["summary_kind"] = app.preview_view.kind
        seen["summary"] = ctl.summary()
        seen["shelf_end"] = shelf()
        seen["pins_end"] = pins()
        press("Stäng", exact=True)
        yield 2

    return run_script(kiosk, script, seen, out_path)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
