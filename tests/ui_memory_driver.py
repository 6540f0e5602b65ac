"""Child process of tests/test_ui_memory.py: a screen left for a while gives up its rendered
texts (kiosk/shelf/ui/widgets.py, Page.drop_textures) and shows exactly the same pixels when it is
opened again; Home keeps its texts. Real X taps on the Xvfb display in $DISPLAY.

    python tests/ui_memory_driver.py DATA_DIR OUT.json SIZE
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ui_child import press, run_script, signed_in_at, simulator_kiosk  # noqa: E402  (a child process: ROOT first)


def main(data_dir: str, out_path: str, size: str) -> int:
    kiosk = simulator_kiosk(data_dir, size)
    from kivy.core.window import Window
    from kivy.uix.label import Label

    from kiosk.shelf.ui.widgets import EVICT_S
    from kiosk_dev.ui_driver import wait

    seen: dict = {"shots": {}}

    def shown_texts(page) -> dict:
        """Of the page's labels with a text: how many have a rendered texture, how many not."""
        labels = [w for w in page.walk(restrict=True) if isinstance(w, Label) and w.text]
        return {"labels": len(labels), "rendered": sum(1 for w in labels if w.texture is not None),
                # the SDL surface a text was rendered in, kept beside its texture (widgets.py,
                # release_rendered_surfaces): a second copy of the pixels
                "surfaces": sum(1 for w in labels if getattr(w._label, "_surface", None) is not None)}

    def shot(app, name: str) -> None:
        """The screen manager's area (below the status bar and the banner) as a PNG."""
        path = Window.screenshot(name=str(Path(data_dir) / f"{name}.png"))
        x, y = app.sm.to_window(*app.sm.pos)
        seen["shots"][name] = {"path": path, "box": [int(x), int(Window.height - y - app.sm.height),
                                                     int(x + app.sm.width), int(Window.height - y)]}

    def script(d):
        app = d.app
        yield from signed_in_at(app, "4. Sekretess", "sekretess")
        yield 5
        shot(app, "first")
        seen["first"] = shown_texts(app.pages["sekretess"])
        press("Hem", exact=True)
        yield lambda: app.sm.current == "home"
        yield wait(EVICT_S + 1.5)
        seen["left"] = shown_texts(app.pages["sekretess"])
        seen["home"] = shown_texts(app.pages["home"])
        press("4. Sekretess")
        yield lambda: app.sm.current == "sekretess"
        yield 5
        shot(app, "again")
        seen["again"] = shown_texts(app.pages["sekretess"])

    return run_script(kiosk, script, seen, out_path)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
