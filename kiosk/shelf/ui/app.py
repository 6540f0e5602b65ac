"""The Kivy app: status bar, message banner, the screens (kiosk/shelf/ui/screens/), the simulator's parts
(kiosk/shelf/ui/simulator.py), printout previews, the controller tick and the systemd watchdog.

Import only after `kivyenv.prepare()`.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.graphics.texture import Texture
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import NoTransition, ScreenManager
from kivy.utils import escape_markup

from .. import preview, sdnotify
from ...core import printouts, routine, truth
from ...core.clock import TZ
from ..controller import Result
from ...core.effects import Print
from ..runtime import Kiosk
from ..watchdog import WatchdogFeeder
from .present import OK, WARNING, IdleClock, banner_text, resume_screen, severity, standing_lights
from .screens import PAGES
from .simulator import KeyboardScanner, ShelfView
from .widgets import (AMBER, BG, GREY, MARKUP_TAG, PANEL, RED, SEVERITY_COLOURS, Btn, Scale, Txt, mm, paint, row,
                      set_bg)

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0
PREVIEW_HIDE_SECONDS = 20  # a preview holding a personnummer closes itself


class PreviewView(ModalView):
    """The printout preview; closes at once (no fade-out), so a preview that arrives right
    after a close always opens."""

    def dismiss(self, *args, **kw):
        kw["animation"] = False
        return super().dismiss(*args, **kw)


class InstantTransition(NoTransition):
    """A screen change completed in the frame of the tap that asked for it. Kivy's NoTransition
    still runs a zero-length animation, which completes on the next clock tick: the frame of the
    tap showed the old screen and the new one came a frame later (under Xvfb the new screen's
    first pixel came with the second frame after the tap, 30-50 ms later)."""

    def start(self, manager):
        self.manager = manager
        screen_in, screen_out = self.screen_in, self.screen_out
        self.add_screen(screen_in)
        screen_in.transition_state, screen_out.transition_state = "in", "out"
        screen_in.transition_progress, screen_out.transition_progress = 1.0, 0.0
        screen_in.dispatch("on_pre_enter")
        screen_out.dispatch("on_pre_leave")
        # then what Kivy does when a transition's animation ends (TransitionBase._on_complete), now:
        # NoTransition.on_complete places both screens and removes the old one
        self.dispatch("on_complete")
        screen_in.dispatch("on_enter")
        screen_out.dispatch("on_leave")


class Pages(dict):
    """The screens by name, each built the first time it is looked up: the first screen comes
    up without building the other ten; after READY the app builds the rest in the background."""

    def __init__(self, app):
        super().__init__()
        self.app = app

    def __missing__(self, name: str):
        page = PAGES[name](self.app, name=name)
        self[name] = page
        self.app.sm.add_widget(page)
        return page


class KioskApp(App):
    title = "Returpost"

    def __init__(self, kiosk: Kiosk, on_ready=None, **kw):
        super().__init__(**kw)
        self.kiosk = kiosk
        self.controller = kiosk.controller
        self.config_ = kiosk.config
        self.simulator = kiosk.simulator
        self.on_ready_hook = on_ready
        self.last_result: Result | None = None
        self.keyboard_scanner: KeyboardScanner | None = None  # the simulator's keyboard as the scanner
        self.preview_view: ModalView | None = None  # the open preview, None when closed
        self.preview_view_: ModalView | None = None  # built on the first preview, then reused
        self._preview_timeout = Clock.create_trigger(lambda dt: self.preview_view and self.preview_view.dismiss(),
                                                     PREVIEW_HIDE_SECONDS)
        self.workers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ui-preview")
        self.ui_thread = threading.get_ident()
        self._ready_sent = False
        self.in_flight = False  # a command is being handled: guarded buttons ignore taps
        Btn.in_flight = staticmethod(lambda: self.in_flight)
        Btn.configure(kiosk.config.ui)
        minutes = getattr(kiosk.config.ui, "idle_logout_minutes", 15)
        self.idle = IdleClock(minutes, warn_s=min(60.0, float(minutes) * 30.0))
        self.idle_time = getattr(kiosk.clock, "monotonic", time.monotonic)  # injectable for tests
        self.idle.touch(self.idle_time())
        self.idle_warning = False
        self.last_shown: Result | None = None  # the last result the screen showed
        self.late_pile: str | None = None  # the sorting screen armed a late letter for this pile
        self._ticks = 0
        self.summaries_printed = 0  # day summaries printed since the start (the close button says so)
        self.pages: Pages = Pages(self)
        self.banner_alert: tuple[str, str, str] | None = None  # (text, severity, alert id): its live line
        self.print_banner = False  # the banner shows a print problem (cleared when the printer took the job)
        self.print_banner_at = 0.0
        self._trim = Clock.create_trigger(lambda dt: trim_memory(), 1.0)

    # The Kivy App has a `config` attribute of its own (ConfigParser); keep ours separate.
    @property
    def config(self):  # type: ignore[override]
        return self.config_

    @config.setter
    def config(self, value):
        pass

    def build_config(self, config):
        pass

    def load_config(self):
        return None

    # -- layout --------------------------------------------------------------------------------
    def build(self):
        Window.clearcolor = BG
        Scale.set(*Window.size)
        root = BoxLayout(orientation="vertical")
        self.root_box = root
        self.status = Txt("", font_mm=2.7, fixed=True, size_hint_y=None, height=mm(10 if Scale.portrait else 6.5),
                          padding=(mm(1.5), 0))
        paint(self.status, PANEL)
        root.add_widget(self.status)
        self.problem = row(0, spacing_mm=1)
        self.problem_text = Txt("", font_mm=3.0, fixed=True, padding=(mm(1.5), 0))
        self.retry_btn = Btn("Försök igen", self._retry_printer, color=GREY, size_hint_x=None, width=mm(28),
                             font_mm=3.2)
        self.problem.add_widget(self.problem_text)
        paint(self.problem, RED)
        root.add_widget(self.problem)
        self.banner = Txt("", font_mm=3.3, fixed=True, size_hint_y=None, height=mm(12 if Scale.portrait else 9),
                          padding=(mm(1.5), 0), min_ratio=0.5)
        paint(self.banner, BG)
        root.add_widget(self.banner)
        self.sm = ScreenManager(transition=InstantTransition())
        root.add_widget(self.sm)
        if self.simulator:
            self.shelf = ShelfView(self.kiosk.devices.shelf.pattern, size_hint_y=None,
                                   height=mm(12 if Scale.portrait else 8))
            root.add_widget(self.shelf)
        else:
            self.shelf = None
        self.camera_mode = None  # camera mode on the sorting screen (kiosk/ui/screens/camera.py)
        if self.config.camera.backend != "none":
            from .screens.camera import CameraMode

            self.camera_mode = CameraMode(self)
        # After a restart the step in progress, not Home (signed out: the sign-in screen).
        self.go(resume_screen(self.controller.state) if self.controller.operator else "signin")
        self.controller.listeners.append(self._listener)
        # Scanner and badge reader threads hand their commands to the UI thread.
        self.kiosk.devices.attach(self.controller, dispatch=lambda fn: Clock.schedule_once(lambda dt: fn(), 0))
        # The scanner's codes go through the UI (on the UI thread): on the sign-in screen a scan
        # signs no one in, on the dödsbo screen it is a personnummer for the keypad's field.
        if self.kiosk.devices.scanner is not None:
            self.kiosk.devices.scanner.on_code = lambda code: Clock.schedule_once(lambda dt: self.scanner_code(code), 0)
        self.kiosk.devices.print_listeners.append(self._print_outcome)
        self.keyboard_scanner = KeyboardScanner(self) if self.simulator else None
        if self.keyboard_scanner is not None:
            self.keyboard_scanner.bind(Window)
        # Bound last, so called first (and passes every event on): any touch or key is activity.
        Window.bind(on_touch_down=self._activity, on_key_down=self._activity)
        Window.bind(on_flip=self._first_flip)
        Clock.schedule_interval(self._every_second, 1.0)
        Clock.schedule_interval(self._tick, TICK_SECONDS)
        # Fed by the UI loop itself, so a hung loop stops the pings. (A callback returning False
        # would be unscheduled by Kivy after one failed send: WatchdogFeeder.schedule avoids that.)
        self.watchdog = WatchdogFeeder()
        self.watchdog.schedule(Clock)
        self._every_second(0)
        return root

    def on_start(self):
        self.kiosk.start()
        self.restore_lights()  # after a restart the shelf shows the rebuilt day at once
        if self.camera_mode is not None:
            self.camera_mode.start()  # a live camera's loop, off the UI thread

    def on_stop(self):
        sdnotify.stopping()
        self.workers.shutdown(wait=False, cancel_futures=True)
        if self.camera_mode is not None:
            self.camera_mode.stop()
        self.kiosk.stop()

    def _first_flip(self, *_):
        if self._ready_sent:
            return
        self._ready_sent = True
        Window.unbind(on_flip=self._first_flip)
        sdnotify.ready("first screen shown")
        if self.on_ready_hook is not None:
            Clock.schedule_once(lambda dt: self.on_ready_hook(self), 0)
        Clock.schedule_once(self._build_next_page, 0.1)  # READY first, then the other screens

    def _build_next_page(self, *_) -> None:
        """The screens not shown yet, one per frame in the background after READY: the first
        visit to a screen shows a built screen instead of building it on the tap."""
        todo = [name for name in PAGES if name not in self.pages]
        if not todo:
            # Everything built so far (imports, screens: ~160k objects) lives as long as the app:
            # out of the garbage collector's full passes, which scanned it all every time
            # (40-50 ms each under load, and one landing on a tap made that tap's frame late).
            gc.collect()
            gc.freeze()
            self.memory_freed()  # building and fitting the screens freed much more than they keep
            return
        page = self.pages[todo[0]]  # builds it and adds it to the screen manager (not shown)
        # Laid out at the size it will be shown at, in this idle frame: its texts are fitted and
        # rendered now, not in the frame of its first visit (a screen not shown keeps Kivy's
        # default 100x100 and every text would be fitted again on the tap that opens it).
        page.pos, page.size = self.sm.pos, self.sm.size
        Clock.schedule_once(self._build_next_page, 0)

    def memory_freed(self) -> None:
        """Much was just freed (a screen's rendered texts, the background build): give the heap
        back to the system a second later, once, however many screens dropped theirs."""
        self._trim()

    # -- commands ------------------------------------------------------------------------------
    def now(self):
        return self.kiosk.clock.now()

    @property
    def state(self):
        return self.controller.state

    def do(self, command: dict) -> Result:
        """Every tap that changes the day: through the controller (a fast local SQLite commit)."""
        self.last_result = None
        self.in_flight = True
        try:
            result = self.controller.handle(command)
        finally:
            self.in_flight = False
        if self.last_result is not result:  # e.g. a storage error never reaches the listeners
            self._show(result)
        return result

    def _listener(self, result: Result) -> None:
        """Controller listener: may run on another thread (the hardware scanner); the UI is
        updated on the UI thread."""
        if threading.get_ident() == self.ui_thread:
            self.last_result = result
            self._show(result)
        else:
            Clock.schedule_once(lambda dt: self._show(result), 0)

    def _show(self, result: Result) -> None:
        if result.code == "idle":
            return
        self.last_shown = result
        types = {e["type"] for e in result.events}
        if "signed_in" in types:
            self.go("home")
        elif "signed_out" in types:
            self.go("signin")
        if result.code == "print_recorded" or result.code == "alert_delivered":
            self.sm.current_screen.refresh()  # a report from the printer or central: counts change
            self._status()
            return
        alert_id = next((e["id"] if e["type"] == "alert_raised" else e["data"].get("alert")
                         for e in result.events if e["type"] in ("alert_raised", "alert_cancelled")), None)
        if alert_id and result.message:
            base = truth.without_claims(banner_text(result))
            self.banner_alert = (base, severity(result), alert_id)
            self._banner_alert()
        else:  # a sentence about an earlier alert is the status bar's to say (live)
            self.say(truth.without_claims(banner_text(result)) if result.message else "", severity(result))
        for job in result.effects.prints:
            self.show_preview(job)
        page = self.sm.current_screen
        page.result_arrived(result)
        page.refresh()
        self._status()

    def say(self, text: str, sev: str = OK) -> None:
        """The banner: one line in words with an icon, coloured by severity (never colour alone)."""
        self.banner_alert = None
        self.print_banner = False
        self.banner.text = escape_markup(text)
        set_bg(self.banner, SEVERITY_COLOURS[sev] if text else BG)

    def _banner_alert(self) -> None:
        """The banner of a command that raised or withdrew a TL alert: its words, then where the
        alert is now (kept true every second)."""
        if self.banner_alert is None:
            return
        base, sev, alert_id = self.banner_alert
        line = self.alert_line(alert_id)
        text = f"{base}  {line[0]}{'' if line[0].endswith('…') else '.'}" if line else base
        if line and line[1] == "error" and sev not in ("error", "alert"):
            sev = "error"  # the operator must act: the banner is red whatever the command's own colour
            text = "⚠ " + text[2:] if text.startswith("✓ ") else text  # and its icon says so
        if escape_markup(text) != self.banner.text or self.banner._bg[0].rgba != list(SEVERITY_COLOURS[sev]):
            self.banner.text = escape_markup(text)
            set_bg(self.banner, SEVERITY_COLOURS[sev])

    # -- what central confirmed (kiosk/core/truth.py) --------------------------------------------------
    def link(self) -> truth.Link:
        """Central reachable now? From the status poller's look at the sync session (kiosk/core/truth.py)."""
        return truth.central_link(self.kiosk.poller.snapshot.get("sync"), self.now(), float(self.config_.mqtt.ack_timeout))

    def alert_state(self, alert: dict) -> truth.AlertState:
        snap = self.kiosk.poller.snapshot
        confirm = dt.timedelta(minutes=float(getattr(self.config_.ui, "alert_confirm_minutes", 5)))
        return truth.alert_state(alert, snap.get("inbox"), self.now(), self.link(), confirm,
                                 withdrawal_stored=alert.get("id") in snap.get("withdrawals_stored", ()))

    def alert_line(self, alert_id: str | None) -> tuple[str, str] | None:
        """(sentence, severity) for one of today's alerts by id, None if the day has no such alert."""
        alert = next((a for a in self.controller.state.alerts if alert_id and a.get("id") == alert_id), None)
        return truth.alert_text(self.alert_state(alert)) if alert else None

    def go(self, name: str) -> None:
        if name != "signin" and not self.controller.operator:
            name = "signin"
        if name == "signin" and getattr(self, "text_keyboard", None) is not None:
            self.text_keyboard.cancel()  # a half-typed text is not left for the next person
        self.pages[name]  # built on first use
        if self.sm.current != name:
            # A new step: the last step's banner and lights go; its buttons cannot catch a
            # second tap meant for the screen that was there.
            self.say("")
            self.idle_warning = False
            Btn.hush()
            self.restore_lights()
        self.sm.current = name

    def restore_lights(self) -> None:
        """The shelf's standing picture from the day's state (after a restart: the current pile
        blinks again); a step's own lights are off once the step is left."""
        try:
            self.kiosk.devices.shelf.show(standing_lights(self.controller.state))
        except Exception:
            log.exception("shelf restore failed")

    def scanner_code(self, code: str) -> None:
        """A code from the (hardware or simulated) scanner, on the UI thread."""
        self._activity()
        current = self.sm.current
        if current == "signin":
            self.say("⚠ Logga in först: tryck på din signatur eller blippa din tagg på kortläsaren. "
                     "Skannern loggar inte in.", WARNING)
            return
        if current == "dodsbo":
            self.pages["dodsbo"].scanned_personnummer(code)  # memory only: never a scan command
            return
        if self.late_pile is not None:  # armed on the sorting screen: a letter for a finished pile
            pile, self.late_pile = self.late_pile, None
            self.do({"cmd": "late", "pile": pile, "code": code})
            return
        if current != "scan" and self.state.phase == routine.SCANNING:
            self.go("scan")
        self.do({"cmd": "scan", "code": code})

    def _activity(self, *args) -> bool:
        self.idle.touch(self.idle_time())
        if self.idle_warning:
            self.idle_warning = False
            self.say("")
        return False  # the touch goes on to the widgets

    def go_home(self) -> None:
        self.go("home")

    def print_summary(self) -> None:
        """Print the day summary without closing the day (changes nothing in the journal)."""
        cfg = self.config_
        layout = printouts.day_summary(self.controller.summary(), cfg.kiosk.site, cfg.kiosk.id, cfg.kiosk.deadline)
        job = Print("day_summary", layout)
        self.summaries_printed += 1
        threading.Thread(target=self._submit, args=(job,), daemon=True).start()
        self.show_preview(job)

    def _submit(self, job: Print) -> None:
        try:
            self.kiosk.devices.printer.submit(job)
        except Exception:
            log.exception("printer submit failed")

    def _print_outcome(self, job: Print, outcome) -> None:
        """After every print attempt (on the UI thread): say so when it did not print; a print
        problem's banner goes once the printer takes the job."""
        if not outcome.ok:
            self.banner_alert = None
            self.banner.text = escape_markup(outcome.message)
            set_bg(self.banner, AMBER if getattr(outcome, "kept", False) else RED)
            self.print_banner = True
            self.print_banner_at = time.monotonic()
        elif self.print_banner:
            self.say("")

    def _retry_printer(self) -> None:
        retry = getattr(self.kiosk.devices.printer, "retry", None)
        if retry:
            threading.Thread(target=retry, daemon=True).start()

    # -- printout previews (rendered off the UI thread, kept in memory only) ------------------
    # One preview view, built once and reused: a day with many labels creates no new widgets,
    # and the texture (the only copy of a dödsbo label's personnummer on screen) is dropped
    # the moment the view closes.
    def show_preview(self, job: Print) -> None:
        def render():
            img = preview.render(job.layout)  # 8-bit grey, the printer's dots
            data, size = img.tobytes(), img.size
            img.close()
            trim_memory()  # the render's large buffers go back to the system, not kept by malloc
            Clock.schedule_once(lambda dt: self._open_preview(job, data, size), 0)

        self.workers.submit(render)

    def _preview_widgets(self) -> ModalView:
        if self.preview_view_ is None:
            view = PreviewView(size_hint=(0.9 if Scale.portrait else 0.6, 0.85), auto_dismiss=True, background="",
                               background_color=(0, 0, 0, 0.6))
            box = BoxLayout(orientation="vertical", padding=mm(1.5), spacing=mm(1.5))
            paint(box, PANEL)
            view.title = Txt("", font_mm=3.6, fixed=True, size_hint_y=None, height=mm(8))
            box.add_widget(view.title)
            view.img = Image(fit_mode="contain")
            box.add_widget(view.img)
            box.add_widget(Btn("Stäng", view.dismiss, color=GREY, size_hint_y=None, height=mm(11)))
            view.add_widget(box)
            view.kind = None
            view.bind(on_dismiss=self._preview_closed)
            self.preview_view_ = view
        return self.preview_view_

    def _open_preview(self, job: Print, data: bytes, size: tuple[int, int]) -> None:
        view = self._preview_widgets()
        self._preview_timeout.cancel()
        texture = Texture.create(size=size, colorfmt="luminance")
        texture.blit_buffer(data, colorfmt="luminance", bufferfmt="ubyte")
        texture.flip_vertical()
        del data
        name = {"cover_slip": "Försättsblad", "dodsbo_label": "Dödsbo-etikett", "day_summary": "Dagssammanställning",
                "test": "Testutskrift"}.get(job.kind, job.kind)
        view.title.text = f"[b]Utskrift: {name}[/b]"
        view.img.texture = texture
        view.kind = job.kind
        if self.preview_view is None:
            self.preview_view = view
            view.open()
        if not job.persist:
            self._preview_timeout()

    def _preview_closed(self, view) -> None:
        self._preview_timeout.cancel()
        view.img.texture = None  # a dödsbo label's personnummer leaves the screen with the preview
        self.preview_view = None

    @property
    def scan_buffer(self) -> str:
        """What the simulator's keyboard scanner has typed so far ("" on real hardware)."""
        return self.keyboard_scanner.buffer if self.keyboard_scanner is not None else ""

    # -- clocks ---------------------------------------------------------------------------------
    def _tick(self, dt) -> None:
        try:
            self.controller.tick()
        except Exception:
            log.exception("controller tick failed")
        self._ticks += 1
        if self._ticks % 12 == 0:  # once a minute
            trim_memory()

    def _every_second(self, dt) -> None:
        self.refresh_live()
        self._check_idle()
        page = self.sm.current_screen
        if page is not None and page.name == "home":
            page.refresh()
        elif page is not None and hasattr(page, "tick"):
            page.tick()

    def refresh_live(self) -> None:
        """Everything that speaks of the TL alerts and the printer, from one look (once a second):
        the status bar, the banner and the shown screen's TL strip never disagree."""
        self._status()
        self._banner_alert()
        note = getattr(self.sm.current_screen, "tl_note", None)
        if note is not None:
            note.update()

    def _check_idle(self) -> None:
        """Sign out automatically after ui.idle_logout_minutes; say so during the last minute."""
        if not self.controller.operator:
            return
        what, left = self.idle.state(self.idle_time())
        if what == "warn":
            self.idle_warning = True
            self.say(f"⚠ Ingen aktivitet: du loggas ut om {int(left) + 1} s. Tryck var som helst för att "
                     "fortsätta.", WARNING)
        elif what == "logout":
            self.idle_warning = False
            self.idle.touch(self.idle_time())
            self.do({"cmd": "logout", "reason": "idle"})

    def _status(self) -> None:
        snap = self.kiosk.poller.snapshot
        sync = snap.get("sync", {})
        pending = sync.get("pending")
        online = sync.get("online")
        parts = []
        sync_txt = "Synk: [color=7ee787]ansluten[/color]" if online else "Synk: [color=ffb86b]inte ansluten[/color]"
        if pending is not None:
            sync_txt += f" ({pending} obekräftade)"  # not yet confirmed stored by central (sent or not)
        parts.append(sync_txt)
        if self.simulator:
            parts.append("Skanner: tangentbord")
        else:
            parts.append("Skanner: " + ("[color=7ee787]ansluten[/color]" if snap.get("scanner")
                                         else "[color=ff7b72]saknas[/color]"))
        printer = snap.get("printer", {})
        ptext, psev = truth.printer_status(printer)
        parts.append(f"Skrivare: [color={MARKUP_COLOURS[psev]}]{ptext}[/color]")
        clock_ok = snap.get("clock_synced")
        parts.append("Klocka: " + ("synkad" if clock_ok else "[color=ffb86b]ej synkad[/color]"
                                   if clock_ok is False else "okänd"))
        tl = self.tl_status()
        if tl:
            parts.append(tl)
        op = self.controller.operator
        parts.append(f"Inloggad: [b]{op}[/b]" if op else "Ej inloggad")
        parts.append(self.now().astimezone(TZ).strftime("%H:%M"))
        text = "   ".join(parts)
        if text != self.status.text:
            self.status.text = text
            self.status.height = status_height(self.status, Window.width)
        self._problems(snap)

    def _make_room(self, problem_strip: bool) -> None:
        """The simulator's on-screen shelf gives its room to the strips: while the device strip
        is up or the status bar takes more than one line it is hidden (the real kiosk has no
        on-screen shelf: the screens are laid out for the room left under every strip)."""
        if self.shelf is None:
            return
        one_line = self.status.height <= mm(10 if Scale.portrait else 6.5) + 0.5
        show = one_line and not problem_strip
        height = mm(12 if Scale.portrait else 8) if show else 0
        if self.shelf.height != height:
            self.shelf.height = height
            self.shelf.opacity = 1 if show else 0

    def _problems(self, snap) -> None:
        """Device problems in plain Swedish with what to do (from the devices' own checks)."""
        problems = list(snap.get("faults") or [])
        printer = snap.get("printer", {})
        if not printer.get("ok", True) and not any("Skrivaren" in p for p in problems):
            problems.append(printer.get("message") or "Skrivaren svarar inte.")
        if printer.get("pending"):
            problems.append(f"{printer['pending']} utskrift(er) väntar på skrivaren.")
        elif self.print_banner and printer.get("ok", True) and snap.get("at", 0) > self.print_banner_at:
            self.say("")  # a fresh look at the printer: ready, nothing waits: the banner's cause is gone
        if snap.get("clock_synced") is False and not self.simulator:
            problems.append("Klockan är inte synkad: tider kan bli fel. Kontakta tekniker om det kvarstår.")
        text = " ".join(problems)
        faulty = bool(snap.get("faults")) or not printer.get("ok", True) or (snap.get("clock_synced") is False
                                                                              and not self.simulator)
        set_bg(self.problem, RED if faulty else AMBER)  # only jobs waiting on a ready printer: amber
        self._make_room(bool(text))
        if text != self.problem_text.text:
            self.problem_text.text = text
            self.problem.height = mm(9) if text else 0
            self.problem.opacity = 1 if text else 0
            has_retry = self.retry_btn.parent is not None
            want_retry = bool(printer.get("pending")) or not printer.get("ok", True)
            if want_retry and not has_retry:
                self.problem.add_widget(self.retry_btn)
            elif has_retry and not want_retry:
                self.problem.remove_widget(self.retry_btn)


    def tl_status(self) -> str:
        """The status area's word on today's alerts: the one that needs the operator most (red
        first, then amber), else the newest; "" on a day without alerts."""
        states = [(a, self.alert_state(a)) for a in self.controller.state.alerts if a.get("id")]
        if not states:
            return ""
        rank = {"error": 0, "warning": 1, "ok": 2}
        alert, state = min(reversed(states), key=lambda x: rank[truth.alert_text(x[1])[1]])
        text, sev = truth.alert_short(state)
        word = "TL-fråga" if alert["kind"] == "tillfalliga" else "TL-larm"
        return f"{word}: [color={MARKUP_COLOURS[sev]}]{escape_markup(text)}[/color]"


_LIBC: list = []


def trim_memory() -> None:
    """Give freed heap back to the system (glibc's malloc_trim; a no-op elsewhere): a day of
    screen updates and printout previews frees much more than it keeps, and glibc holds on to
    freed memory in its arenas, so the kiosk's RSS would grow over the day without it."""
    if not _LIBC:
        import ctypes
        import ctypes.util

        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC.append(libc.malloc_trim)
        except (OSError, AttributeError):
            _LIBC.append(None)
    if _LIBC[0] is not None:
        _LIBC[0](0)


def status_height(label: Txt, width: float) -> float:
    """The status bar's height: one line while its text fits on one line at its size, else two
    (three in portrait), so the whole text stays readable and the screens below give up only
    the room it takes."""
    from kivy.core.text import Label as CoreLabel

    plain = MARKUP_TAG.sub("", label.text)
    text_w = CoreLabel(font_size=label.base_font, font_name=label.font_name).get_extents(plain)[0]
    room = max(1.0, width - label.padding[0] - label.padding[2])
    lines = min(3 if Scale.portrait else 2, max(1, math.ceil(text_w / room)))
    return mm(max(10.0 if Scale.portrait else 6.5, 3.0 + 3.6 * lines))



MARKUP_COLOURS = {"ok": "7ee787", "warning": "ffb86b", "error": "ff7b72", "alert": "ff7b72"}
