"""Camera mode on the sorting screen (`[camera] backend` other than "none"): a panel above the pile
buttons shows what the camera read on the marked spot (pile, Leta Kund type, code, return reason)
with the pile's LED lit, or the candidates as big buttons when it is not sure; "Fel" drops the
proposal. The pile buttons below keep working throughout (manual sorting), and so does the
handheld scanner.

`CameraMode` is the shell around `kiosk.shelf.camera.session.CameraSession`: recognition runs off the UI
thread (a live camera's `look` loop, or one read per "Nästa kuvert" with the files backend); its
verdict is handed to the UI thread with `Clock.schedule_once`, and only there does the flow commit
(`app.do`, the controller). A crash in recognition is a Swedish message; nothing committed is
touched."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout
from kivy.utils import escape_markup

from ...camera import flow, rules
from ...camera.camera import FilesCamera
from ...camera.session import CameraSession
from ....core.effects import STEADY, Lights
from ..widgets import AMBER, GREEN, GREY, MUTED, PANEL, RED, Btn, Txt, grid, mm, paint

log = logging.getLogger(__name__)

LOOK_EVERY_S = 0.15  # a live camera is looked at this often (a still picture is read once)


class CameraMode:
    """The camera session of the running app; the panel shows its screen."""

    def __init__(self, app, session: CameraSession | None = None):
        self.app = app
        self.settle_ms = int(app.config.camera.settle_ms)
        self.session = session or CameraSession(app.config, execute=app.do)
        self.files = isinstance(self.session.camera, FilesCamera)
        self.busy = False  # a frame is being read: "Nästa kuvert" waits for it
        self.reads = 0  # verdicts acted on (tests wait for this)
        self.panels: list[CameraPanel] = []
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="camera")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def screen(self) -> flow.Screen:
        return self.session.screen

    # -- the live camera's loop (off the UI thread) ---------------------------------------------
    def start(self) -> None:
        if self.files or self.session.problem is not None or self.session.camera is None:
            return
        self._thread = threading.Thread(target=self._watch, name="camera-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.worker.shutdown(wait=False, cancel_futures=True)

    def _watch(self) -> None:
        while not self._stop.wait(LOOK_EVERY_S):
            try:
                v = self.session.look(int(time.monotonic() * 1000), self.settle_ms)
            except Exception as exc:  # the camera itself failed: say so; nothing committed is touched
                log.warning("camera watch failed: %s", type(exc).__name__)
                v = rules.Verdict(pile=None, problem="error")
            if v is not None:
                Clock.schedule_once(lambda dt, v=v: self._seen(v), 0)

    # -- the files backend: "Nästa kuvert" --------------------------------------------------------
    def next_envelope(self) -> None:
        if self.busy:
            return
        camera = self.session.camera
        if isinstance(camera, FilesCamera) and not camera.advance():
            self.take_away()
            return
        self.busy = True
        self._show()
        self.worker.submit(self._read)

    def _read(self) -> None:
        try:
            v = self.session.read()
        except Exception as exc:
            log.warning("camera read failed: %s", type(exc).__name__)
            v = rules.Verdict(pile=None, problem="error")
        Clock.schedule_once(lambda dt: self._seen(v), 0)

    # -- on the UI thread -------------------------------------------------------------------------
    def _seen(self, v: rules.Verdict) -> None:
        self.busy = False
        self.reads += 1
        self._step(lambda: self.session.seen(v))

    def take_away(self) -> None:
        self._step(self.session.take_away)

    def choose(self, option: flow.Option) -> None:
        self._step(lambda: self.session.choose(option))

    def wrong(self) -> None:
        self._step(self.session.wrong)

    def _step(self, act) -> None:
        try:
            act()
        except Exception:  # a failed command is the controller's to report; the screen says so
            log.exception("camera step failed")
            self.session.screen = flow.Screen(rules.PROBLEMS["error"], manual=True)
        if self.screen.light:  # the proposed pile lights, after any commit's own lights
            try:
                self.app.kiosk.devices.shelf.show(Lights.of(**{self.screen.light: STEADY}))
            except Exception:
                log.exception("shelf light failed")
        self._show()

    def _show(self) -> None:
        for panel in self.panels:
            panel.show(self.screen, self.busy)


class CameraPanel(BoxLayout):
    """What the camera read, above the pile buttons."""

    def __init__(self, mode: CameraMode, **kw):
        super().__init__(orientation="horizontal", spacing=mm(1.2), padding=mm(1), size_hint_y=0.8, **kw)
        paint(self, PANEL)
        self.mode = mode
        left = BoxLayout(orientation="vertical", spacing=mm(1))
        self.message = Txt("", font_mm=3.2, fixed=True, min_ratio=0.6)
        self.read = Txt("", font_mm=3.2, fixed=True, min_ratio=0.7, color=MUTED)
        self.options = grid(3, spacing_mm=1)
        left.add_widget(self.message)
        left.add_widget(self.read)
        left.add_widget(self.options)
        self.left = left
        self.add_widget(left)
        side = BoxLayout(orientation="vertical", spacing=mm(1), size_hint_x=None, width=mm(34))
        self.wrong = Btn("Fel", mode.wrong, color=RED, font_mm=5, guard=True)
        side.add_widget(self.wrong)
        self.next: Btn | None = None
        if mode.files:  # the simulator's camera: a folder of pictures
            self.next = Btn("Nästa kuvert", mode.next_envelope, color=GREEN, font_mm=3.4, guard=True)
            side.add_widget(self.next)
            side.add_widget(Btn("Ta bort kuvertet", mode.take_away, color=GREY, font_mm=3.0, guard=True))
        self.add_widget(side)
        mode.panels.append(self)
        self.show(mode.screen, mode.busy)

    def show(self, screen: flow.Screen, busy: bool = False) -> None:
        text = "Kameran läser kuvertet …" if busy else screen.message
        self.message.text = f"[b]{escape_markup(text)}[/b]"
        self.message.color = AMBER if screen.manual and not busy else (1, 1, 1, 1)
        self.read.text = escape_markup("  ·  ".join(screen.read))
        self.options.clear_widgets()
        for option in screen.options:
            self.options.add_widget(Btn(option.label, lambda o=option: self.mode.choose(o), font_mm=3.2, guard=True))
        self.options.size_hint_y = 1.3 if screen.options else 0.001
        self.read.size_hint_y = 0.7 if screen.read else 0.001
        self.wrong.disabled = busy or (not screen.light and not screen.options)
        if self.next is not None:
            self.next.disabled = busy
