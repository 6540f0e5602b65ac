"""Layout audit of the touch UI at a size: for every screen the screenshot script shows, in
every strip state (kiosk_dev/screenshots.STRIPS: TL strip, printer strip, a two-line status
bar, all at once; a result is named "screen@strip"), the
touch targets must not overlap, each must be at least 9 mm, lie wholly inside the window and (at
800x480) outside any scrolled-away part; no text may be cut off or broken inside a word.

    python -m kiosk_dev.layout_audit SIZE OUT.json     (one size; a process per size)

`audit(app)` checks what is on screen now and returns the problems as plain strings.
The test (tests/test_ui_layout.py) runs it at 800x480, 1280x720 and 720x1280 and wants none.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MIN_MM = 9.0


def _rect(w):
    x, y = w.to_window(w.x, w.y)
    return x, y, x + w.width, y + w.height


def _shown(w) -> bool:
    """On screen: attached to the window, not transparent, not of zero size, and every parent
    visible too."""
    node = w
    while node is not None:
        if getattr(node, "opacity", 1) == 0:
            return False
        if node.parent is node:
            break
        node = node.parent
    return w.width > 1 and w.height > 1 and w.get_root_window() is not None


def _roots():
    from kivy.core.window import Window

    children = list(Window.children)
    return children[:1]  # the topmost view: a modal on top of the screen is what can be tapped


def _scroll_clip(w):
    """The visible rect of the innermost ScrollView holding `w`, or None."""
    from kivy.uix.scrollview import ScrollView

    node = w.parent
    while node is not None and node is not node.parent:
        if isinstance(node, ScrollView):
            return _rect(node)
        node = node.parent
    return None


def _words_too_wide(label) -> list[str]:
    """Words wider than the label's wrapping width: Kivy breaks those inside the word."""
    from kivy.core.text import Label as CoreLabel

    width = label.text_size[0] if label.text_size and label.text_size[0] else None
    if not width or not label.text:
        return []
    from kiosk.shelf.ui.widgets import MARKUP_TAG

    text = MARKUP_TAG.sub("", label.text) if label.markup else label.text
    out = []
    for word in set(text.split()):
        core = CoreLabel(text=word, font_size=label.font_size, bold=True, font_name=label.font_name)
        w, _ = core.get_extents(word)
        if w > width + 1:
            out.append(word)
    return out


def audit(app, screen: str) -> list[str]:
    from kivy.core.window import Window
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.label import Label

    from kiosk.shelf.ui.widgets import Scale

    problems: list[str] = []
    targets = []
    for root in _roots():
        for w in root.walk(restrict=True):
            if not isinstance(w, Label) or not _shown(w):
                continue
            name = (w.text or "").replace("\n", " ")[:40]
            if getattr(w, "text_overflow", False):
                problems.append(f"{screen}: text cut off: {name!r}")
            for word in _words_too_wide(w):
                problems.append(f"{screen}: word broken inside: {word!r} in {name!r}")
            if isinstance(w, ButtonBehavior):
                x0, y0, x1, y1 = _rect(w)
                side = min(x1 - x0, y1 - y0) / Scale.ppm
                if side < MIN_MM - 0.05:
                    problems.append(f"{screen}: target {name!r} is {side:.1f} mm (< {MIN_MM} mm)")
                if x0 < -0.5 or y0 < -0.5 or x1 > Window.width + 0.5 or y1 > Window.height + 0.5:
                    problems.append(f"{screen}: target {name!r} outside the window")
                clip = _scroll_clip(w)
                if clip is not None and (y0 < clip[1] - 0.5 or y1 > clip[3] + 0.5):
                    problems.append(f"{screen}: target {name!r} needs scrolling")
                targets.append((name, (x0, y0, x1, y1)))
    for i, (a, ra) in enumerate(targets):
        for b, rb in targets[i + 1:]:
            dx = min(ra[2], rb[2]) - max(ra[0], rb[0])
            dy = min(ra[3], rb[3]) - max(ra[1], rb[1])
            if dx > 0.5 and dy > 0.5:
                problems.append(f"{screen}: targets overlap: {a!r} and {b!r}")
    return problems


def main(size: str, out: str) -> int:
    from . import screenshots

    found: dict[str, list[str]] = {}

    def on_screen(app, name: str) -> None:
        found[name] = audit(app, name)

    rc = screenshots.child(size, None, on_screen=on_screen, strips=screenshots.STRIPS)
    Path(out).write_text(json.dumps(found, ensure_ascii=False, indent=1), encoding="utf-8")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
