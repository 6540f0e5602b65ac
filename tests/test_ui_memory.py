"""A screen left for a while gives up its rendered texts (memory: docs/kiosk-ui.md, "Speed and
memory") and, opened again, shows the same pixels as before; Home keeps its texts; no label
keeps the surface its text was rendered in. Through the
real app with real X taps (tests/ui_memory_driver.py)."""

from __future__ import annotations

from pathlib import Path

from tests.test_ui import needs_x, run_ui_driver, xdisplay  # noqa: F401  (the module's Xvfb fixture)

DRIVER = Path(__file__).resolve().parent / "ui_memory_driver.py"


@needs_x
def test_a_screen_left_drops_its_texts_and_shows_them_again(tmp_path, xdisplay):  # noqa: F811
    from PIL import Image, ImageChops

    seen = run_ui_driver(DRIVER, tmp_path, xdisplay)
    assert seen["done"] and not seen["error"]
    first, left, again = seen["first"], seen["left"], seen["again"]
    assert first["labels"] > 5 and first["rendered"] == first["labels"]
    assert left["rendered"] == 0  # left for longer than EVICT_S: every text given up
    assert seen["home"]["rendered"] == seen["home"]["labels"] > 0  # Home, shown between steps, keeps its own
    assert again == first
    # no label keeps the surface its text was rendered in once the pixels are in its texture
    assert first["surfaces"] == left["surfaces"] == seen["home"]["surfaces"] == 0

    def area(name):
        s = seen["shots"][name]
        return Image.open(s["path"]).convert("RGB").crop(tuple(s["box"]))

    before, after = area("first"), area("again")
    assert before.getbbox() is not None  # something is drawn there
    assert ImageChops.difference(before, after).getbbox() is None, "the screen looks different when opened again"
