"""Child process of tests/test_ui_sort_chooser.py: the sorting screen's "Tillfälliga utskick"
tile asks which mailing (as Leta Kund asks for the type), through the real app on the Xvfb
display in $DISPLAY with real X input: one tap per letter, the first of a kind asks the TL, a
mailing typed on the keyboard, undo in the chooser, and a letter sorted into the pile being scanned.

    python tests/ui_sort_chooser_driver.py DATA_DIR OUT.json SIZE
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ui_child import press, run_script, scanning_started, simulator_kiosk  # noqa: E402  (a child process: ROOT first)


def main(data_dir: str, out_path: str, size: str) -> int:
    kiosk = simulator_kiosk(data_dir, size)
    from kiosk.core import routine
    from kiosk_dev.ui_driver import Driver

    seen: dict = {}

    def script(d: Driver):
        app = d.app
        s = lambda: app.controller.state  # noqa: E731

        def chooser_open():
            c = app.pages["sort"].temporary_chooser
            return c is not None and c.parent is not None

        yield 3
        press("ANNA")
        yield lambda: app.sm.current == "home"
        press("1. Sortera")
        yield lambda: app.sm.current == "sort"
        yield 2
        press("Tillfälliga utskick")
        yield chooser_open
        yield 3  # the tap that opened it is hushed: nothing under the finger fires
        seen["after_open"] = {"temporary": len(s().temporary), "count": s().counts["tillfalliga"]}
        for expected in (1, 2):
            press("Priskompensation")
            yield lambda n=expected: len(s().temporary) == n
            yield 3  # a bounce would show as one more
        seen["pris_button"] = app.pages["sort"].temporary_chooser.buttons["Priskompensation"].text
        press("Bristfällig anläggning")
        yield lambda: len(s().temporary) == 3
        yield 2
        seen["banner_after_new_kind"] = app.banner.text
        press("Annat …")
        yield lambda: getattr(app, "text_keyboard", None) is not None and app.text_keyboard.parent is not None
        kb = app.text_keyboard
        for ch in "Nätavgift":
            kb.press(ch, as_typed=True)
        yield 1
        kb.finish()
        yield lambda: len(s().temporary) == 4
        yield 2
        seen["others_line"] = app.pages["sort"].temporary_chooser.others.text
        from kivy.core.window import Window

        seen["screenshot"] = Window.screenshot(name=str(Path(data_dir) / "chooser.png"))  # to look at
        press("Ångra senaste utskick")
        yield lambda: len(s().temporary) == 3
        yield 2
        press("Klar", exact=True)
        yield lambda: not chooser_open()
        yield 2
        seen["tile"] = app.pages["sort"].buttons["tillfalliga"].text
        seen["summary"] = routine.summary(s())

        # A letter for the pile being scanned: sorted into it, its scan follows, no warning.
        press("Dödsbofakturor")
        yield lambda: s().counts["dodsbo"] == 1
        yield from scanning_started(app)
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        press("1. Sortera")
        yield lambda: app.sm.current == "sort"
        yield 2
        press("Dödsbofakturor")
        yield lambda: s().counts["dodsbo"] == 2
        yield 2
        seen["current_pile_banner"] = app.banner.text
        seen["warnings"] = routine.warnings(s())

    return run_script(kiosk, script, seen, out_path)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
