"""Txt and Btn keep as properties only the text properties the kiosk sets
(`LIVE_TEXT_PROPERTIES` in kiosk/shelf/ui/widgets.py); every other text property of Kivy's Label
is fixed at Kivy's default (`FIXED_TEXT_PROPERTIES`). Both sides: every live property, set on a
made label, asks for a new render; every fixed one reads as Kivy's default; and no code of the
kiosk's UI sets or passes a fixed one (it would not be drawn, or the label would not be made)."""

from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from kiosk.shelf.ui import kivyenv
kivyenv.prepare(800, 480)
from kivy.uix.label import Label
from kiosk.shelf.ui.widgets import FIXED_TEXT_PROPERTIES, LIVE_TEXT_PROPERTIES, Btn, Txt

NEW = {"text": "Ny text", "font_size": 31, "bold": True, "color": (1, 0, 0, 1),
       "disabled_color": (0, 1, 0, 1), "halign": "right", "valign": "top", "text_size": (120, None),
       "markup": False, "padding": (3, 3, 3, 3), "disabled": True, "font_name": "RobotoMono-Regular",
       "line_height": 1.4, "max_lines": 2, "shorten": True, "shorten_from": "right"}
out = {"font_properties": list(Label._font_properties), "live": list(LIVE_TEXT_PROPERTIES),
       "fixed": list(FIXED_TEXT_PROPERTIES), "untriggered": [], "not_default": []}
for cls in (Txt, Btn):
    plain = Label()
    for name in FIXED_TEXT_PROPERTIES:
        if getattr(cls("Hej"), name) != getattr(plain, name):
            out["not_default"].append(f"{cls.__name__}.{name}")
for make in (lambda: Txt("Hej"), lambda: Btn("Hej")):
    for name in LIVE_TEXT_PROPERTIES:
        w = make()
        w._trigger_texture.cancel()
        setattr(w, name, NEW[name])
        if not w._trigger_texture.is_triggered:
            out["untriggered"].append(f"{type(w).__name__}.{name}")
print(json.dumps(out))
"""


@functools.cache  # one child for both tests: it makes ~130 labels in a fresh Kivy
def _child() -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(ROOT)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_live_text_property_renders_the_text_again_and_the_fixed_ones_are_kivys_defaults():
    seen = _child()
    assert set(seen["live"]) <= set(seen["font_properties"]) | {"disabled"}
    assert set(seen["live"]) | set(seen["fixed"]) >= set(seen["font_properties"])  # each one is either
    assert seen["untriggered"] == []
    assert seen["not_default"] == []


def _set_later(tree: ast.AST) -> set[str]:
    """Attribute names the code assigns (x.name = ..., setattr(x, "name", ...), x.setter("name"))
    or passes as a keyword argument."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store):
                        names.add(sub.attr)
        elif isinstance(node, ast.Call):
            names.update(k.arg for k in node.keywords if k.arg)
            func = node.func
            if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) >= 2:
                if isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
                    names.add(node.args[1].value)
            if isinstance(func, ast.Attribute) and func.attr == "setter" and node.args:
                if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    names.add(node.args[0].value)
    return names


def test_no_fixed_text_property_is_set_or_passed_in_the_ui():
    seen = _child()
    dead = set(seen["fixed"])
    found = {}
    for path in sorted((ROOT / "kiosk" / "shelf" / "ui").rglob("*.py")):
        hit = _set_later(ast.parse(path.read_text(), str(path))) & dead
        if hit:
            found[str(path.relative_to(ROOT))] = sorted(hit)
    assert found == {}, f"set or passed but fixed (not in LIVE_TEXT_PROPERTIES): {found}"
