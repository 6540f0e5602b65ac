"""The layout audit (kiosk_dev/layout_audit.py) over every screen of the demo day at the three
panel sizes, each with no strip, the TL strip, the printer strip, a two-line status bar and all
of them at once: no overlapping touch targets, every target >= 9 mm and inside the window, nothing
cut off or broken inside a word, nothing that needs scrolling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk_dev.screenshots import SHOTS, STRIPS
from tests.test_ui import child_env, needs_x, xdisplay  # noqa: F401  (the module's Xvfb fixture)


@needs_x
@pytest.mark.parametrize("size", ["800x480", pytest.param("1280x720", marks=pytest.mark.slow),
                                  pytest.param("720x1280", marks=pytest.mark.slow)])
def test_layout_audit(tmp_path, xdisplay, size):  # noqa: F811
    out = tmp_path / "audit.json"
    proc = subprocess.run([sys.executable, "-m", "kiosk_dev.layout_audit", size, str(out)],
                          env=child_env(xdisplay), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(out.read_text())
    # every screen was audited in every strip state
    assert sorted(found) == sorted(f"{shot}@{strip}" if strip else shot for shot in SHOTS for strip in STRIPS)
    problems = [p for screen in found.values() for p in screen]
    assert problems == []


def test_the_audit_finds_what_it_looks_for(tmp_path, xdisplay):  # noqa: F811
    """The audit itself: a screen built to fail (overlap, a 6 mm target, a word too wide, text
    cut off) gives each problem."""
    script = tmp_path / "bad.py"
    script.write_text(BAD_SCREEN)
    proc = subprocess.run([sys.executable, str(script)], env=child_env(xdisplay), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    problems = json.loads(proc.stdout.strip().splitlines()[-1])
    text = "\n".join(problems)
    assert "targets overlap" in text
    assert "is 6.0 mm" in text
    assert "word broken inside" in text
    assert "text cut off" in text


BAD_SCREEN = r'''
import json, sys
sys.path.insert(0, %r)
from kiosk.shelf.ui import kivyenv
kivyenv.prepare(800, 480)
kivyenv.register_fonts()
from kivy.app import App
from kivy.clock import Clock
from kivy.uix.floatlayout import FloatLayout
from kiosk.shelf.ui.widgets import Btn, Scale, Txt, mm
from kiosk_dev.layout_audit import audit

class Bad(App):
    def build(self):
        Scale.set(800, 480)
        root = FloatLayout()
        root.add_widget(Btn("A", size_hint=(None, None), size=(mm(20), mm(12)), pos=(10, 10)))
        root.add_widget(Btn("B", size_hint=(None, None), size=(mm(20), mm(12)), pos=(30, 20)))
        root.add_widget(Btn("C", size_hint=(None, None), size=(mm(20), mm(6)), pos=(400, 10), min_mm=0))
        root.add_widget(Btn("Dödsbofakturorpåminnelseblankett", size_hint=(None, None), size=(mm(12), mm(12)),
                            pos=(600, 10), min_mm=0))
        root.add_widget(Txt("många rader text " * 40, fixed=True, min_ratio=1.0, size_hint=(None, None),
                            size=(mm(30), mm(8)), pos=(200, 300)))
        # as a layout does: sizes arrive after the widgets are built, and the text is fitted then;
        # the audit is scheduled from there, so it runs frames after the fitting however late the
        # first frame comes on a loaded machine
        def resized(dt):
            for w in root.children:
                w.width += 1
            Clock.schedule_once(lambda dt: (print(json.dumps(audit(self, "bad"))), self.stop()), 0.5)
        Clock.schedule_once(resized, 0.1)
        return root

Bad().run()
''' % str(Path(__file__).resolve().parent.parent)
