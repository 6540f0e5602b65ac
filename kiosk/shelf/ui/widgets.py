"""The shared building blocks of every screen, sized in millimetres of the physical screen, so a
9 mm target is 9 mm on the 7" 800x480 display and on the 7" Touch Display 2 (720x1280 /
1280x720) alike: colours, Btn, Txt, rows, columns, grids, scrolling, and `Page`, the base of
every screen in `kiosk/shelf/ui/screens/`."""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from typing import Callable

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout
from kivy.properties import ColorProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from ...core import routine

# Colours (r, g, b, a): dark background, high-contrast text, colour only as a second signal.
BG = (0.11, 0.13, 0.16, 1)
PANEL = (0.17, 0.20, 0.24, 1)
TEXT = (1, 1, 1, 1)
MUTED = (0.75, 0.79, 0.84, 1)
BLUE = (0.11, 0.40, 0.80, 1)
GREY = (0.29, 0.33, 0.39, 1)
GREEN = (0.10, 0.52, 0.24, 1)
AMBER = (0.80, 0.52, 0.05, 1)
RED = (0.78, 0.16, 0.16, 1)
# Severity (Result.severity) -> colour: green done, amber warning, red error and TL alert.
SEVERITY_COLOURS = {"ok": GREEN, "warning": AMBER, "error": RED, "alert": RED}
LED_ON = (1.0, 0.85, 0.20, 1)
LED_OFF = (0.25, 0.27, 0.30, 1)

MIN_TARGET_MM = 9.0
EVICT_S = 3.0  # a screen left this long gives up its rendered texts (Page.drop_textures)


class Scale:
    """Pixels per millimetre, from the window size and the panel diagonal (both supported
    panels are 7")."""

    ppm: float = 5.25
    portrait: bool = False

    @classmethod
    def set(cls, width: int, height: int, diagonal_inch: float = 7.0) -> None:
        cls.ppm = math.hypot(width, height) / (diagonal_inch * 25.4)
        cls.portrait = height > width


def mm(value: float) -> float:
    return value * Scale.ppm


# Every font size the UI uses is a rung of one ladder, about 12 % apart. Kivy keeps an open
# SDL_ttf font, with its own glyph cache, per distinct (size, bold) (64 at most, then it closes
# and reopens them): whole pixel sizes gave 40 over a day at 800x480 (every size from 9 to 25,
# regular and bold, as `fit_text` stepped down), the ladder about half that.
FONT_LADDER = tuple(sorted({round(8 * 1.12 ** i) for i in range(40)}))


def ladder(px: float) -> int:
    """The rung nearest to `px` (the lower one when halfway)."""
    return min(FONT_LADDER, key=lambda r: (abs(r - px), r)) if px >= FONT_LADDER[0] else max(1, round(px))


def rung_below(px: float) -> int:
    """The largest rung smaller than `px` (px - 1 below the ladder)."""
    below = [r for r in FONT_LADDER if r < px]
    return below[-1] if below else max(1, int(px) - 1)


def font_px(value_mm: float) -> int:
    """A font size in whole pixels, on the ladder (`FONT_LADDER`)."""
    return ladder(mm(value_mm))


def paint(widget: Widget, rgba) -> None:
    """A flat background behind a layout."""
    with widget.canvas.before:
        color = Color(*rgba)
        rect = Rectangle(pos=widget.pos, size=widget.size)
    widget._bg = (color, rect)
    widget.bind(pos=lambda w, v: setattr(rect, "pos", v), size=lambda w, v: setattr(rect, "size", v))


def set_bg(widget: Widget, rgba) -> None:
    widget._bg[0].rgba = rgba


# A button that records something (guard=True) ignores a second activation within
# `Btn.guard_s` (ui.tap_guard_ms; measured from the end of the first one's command, so a tap queued
# while the command ran, or delayed by a busy machine, is ignored too) and while a command is in
# flight. A counting button (guard="bounce": a pile on Sortera, a Leta Kund type) counts one letter
# per tap, so only a second activation within `Btn.bounce_s` (ui.bounce_ms) of its last action is
# ignored: a bouncing contact, not a second letter. Every button, any kind, ignores taps for HUSH_S
# after what is under the finger changed (a new screen, a closed keyboard or preview, a button
# replaced by others: `Btn.hush()`): the second tap of a double tap never lands on what the first
# one brought up. Keypad and keyboard keys and navigation are unguarded.
TAP_GUARD_S = 0.6
BOUNCE_S = 0.1
HUSH_S = 0.45
ACK_S = 0.12  # a tapped button shows it was tapped at least this long


# What a Txt or a Btn costs. Kivy's Label has ~45 text properties (outlines, font features,
# ellipsis options, ...), and Kivy keeps storage and observers for every property of every
# instance; Label.__init__ binds 40 of them to a new render, and Label draws through a kv rule
# whose every expression keeps a handler with its own copy of the rule's names. A TextLabel keeps
# as properties only the text properties the kiosk sets (`LIVE_TEXT_PROPERTIES`, each bound to a
# new render); every other one is fixed at Kivy's default, a plain class attribute that Label's
# code reads as before (`FIXED_TEXT_PROPERTIES`); and it draws its text (a Btn also its
# background) with canvas instructions of its own. Same pixels; tracemalloc, 100 labels each
# way: Txt 40 -> 22 KB, Btn 44 -> 27 KB. tests/test_ui_widgets.py sets each live property on a
# made label and checks the new render, and scans the UI's code for a fixed one being set.
LIVE_TEXT_PROPERTIES = ("text", "font_size", "bold", "color", "disabled_color", "halign", "valign",
                        "text_size", "markup", "padding", "disabled", "font_name", "line_height",
                        "max_lines", "shorten", "shorten_from")


class TextLabel(Label):
    """Kivy's Label with only `LIVE_TEXT_PROPERTIES` as properties (Label.__init__ without its
    other bindings) and without its kv rule: its texture drawn centred in the widget, as the Label
    rule of Kivy's style.kv draws it."""

    def __init__(self, **kwargs):
        self._trigger_texture = Clock.create_trigger(self.texture_update, -1)
        super(Label, self).__init__(**kwargs)  # Widget's __init__: Label's own is replaced here
        update = self._trigger_texture_update
        for name in LIVE_TEXT_PROPERTIES:
            self.fbind(name, update, name)
        self._label = None
        self._create_label()
        with self.canvas:
            Color(1, 1, 1, 1)
            self._text_rect = Rectangle()
        for name in ("pos", "size", "texture", "texture_size"):
            self.fbind(name, self._place_text)
        self._trigger_texture()

    def _place_text(self, *_) -> None:
        rect = self._text_rect
        rect.texture = self.texture
        w, h = self.texture_size
        rect.size = (w, h)
        # from x and width, not center_x: this may run before the cached center_x/center_y have
        # seen a new size (observers of one change run in an order of Kivy's own)
        rect.pos = (int(self.x + self.width / 2.0 - w / 2.0), int(self.y + self.height / 2.0 - h / 2.0))


FIXED_TEXT_PROPERTIES = tuple(name for name in (*Label._font_properties, "padding_x", "padding_y", "refs",
                                                 "anchors", "is_shortened") if name not in LIVE_TEXT_PROPERTIES)
for _name in FIXED_TEXT_PROPERTIES:
    setattr(TextLabel, _name, getattr(Label, _name).defaultvalue)  # no longer a property here

# Kivy's Label rule (style.kv) is not applied to a TextLabel or its subclasses: it draws itself.
Builder.load_string("<-TextLabel>:\n")


class Btn(ButtonBehavior, TextLabel):
    """A large touch target with wrapped, centred text; fires on release (once per tap). Not a
    Kivy Button: Button's rule (style.kv) draws a flat colour through a BorderImage bound to eight
    properties (state, the four background images, border, ...), none of which a Btn uses, and
    those properties and bindings made each button ~19 KB bigger (measured: 300 buttons each way).

    guard=True: a tap within `guard_s` of the end of this button's last action, or while
    `Btn.in_flight()`, is ignored; guard="bounce": a tap within `bounce_s` of it, or while a
    command is in flight; any button: a tap within HUSH_S of the last `Btn.hush()` is ignored.
    Ignored taps are counted in `ignored`."""

    background_color = ColorProperty(BLUE)  # what the rectangle behind the text is painted in
    in_flight: Callable[[], bool] = staticmethod(lambda: False)  # the app sets this
    quiet_all_until = 0.0
    queued = 0  # guarded taps acknowledged whose command has not run yet (next frame)
    guard_s = TAP_GUARD_S  # the app sets both from the config (ui.tap_guard_ms, ui.bounce_ms)
    bounce_s = BOUNCE_S

    @classmethod
    def configure(cls, ui_config) -> None:
        cls.guard_s = getattr(ui_config, "tap_guard_ms", TAP_GUARD_S * 1000) / 1000
        cls.bounce_s = getattr(ui_config, "bounce_ms", BOUNCE_S * 1000) / 1000

    @classmethod
    def hush(cls) -> None:
        """What is under the finger changed: every button waits HUSH_S."""
        cls.quiet_all_until = time.monotonic() + HUSH_S

    def quiet(self) -> bool:
        now = time.monotonic()
        if now < Btn.quiet_all_until:
            return True
        return bool(self.guard) and (now < self.quiet_until or Btn.in_flight() or Btn.queued > 0)

    def __init__(self, text: str = "", on_tap=None, color=BLUE, font_mm: float = 4.0,
                 min_mm: float = MIN_TARGET_MM, guard: bool | str = False, **kw):
        kw.setdefault("markup", True)
        kw.setdefault("halign", "center")
        super().__init__(text=text, font_size=font_px(font_mm), valign="middle", background_color=color, **kw)
        paint(self, self.background_color)  # a flat rectangle in the background colour, under the text
        self.fbind("background_color", set_bg)
        self.base_color = color
        self.base_font = font_px(font_mm)
        self.min_px = mm(min_mm)
        if self.size_hint_y is None and self.height < self.min_px:
            self.height = self.min_px
        if self.size_hint_x is None and self.width < self.min_px:
            self.width = self.min_px
        self._on_tap = on_tap
        self.guard = guard
        self.quiet_until = 0.0
        self.ignored = 0
        self.rest_pending: float | None = None  # a rest from the next frame's start is scheduled
        self._ack_trigger = None
        self.bind(size=self._fit)

    def _fit(self, *_):
        fit_text(self, self.base_font, 0.6, self.width - mm(2), self.height - mm(1))

    def on_text(self, *_):
        if self.width > 1 and hasattr(self, "base_font"):
            self._fit()

    def on_press(self):
        self.background_color = tuple(c * 0.7 for c in self.base_color[:3]) + (1,)

    def on_release(self):
        self.background_color = self.base_color
        if self._on_tap is None or self.disabled:
            return
        if self.quiet():
            self.ignored += 1
            return
        if not self.guard:  # navigation, keys: at once (what they change is drawn this frame)
            try:
                self._on_tap()
            finally:
                self._acknowledge(ACK_S)
            return
        # A button that records something: the tap is acknowledged in this frame (the button
        # dims under the finger) and its command runs at the start of the next one, its result
        # drawn there: the person sees the tap at once, however long the commit and the screen
        # update take. Until the command has run every guarded button is quiet.
        rest = Btn.bounce_s if self.guard == "bounce" else Btn.guard_s
        self.quiet_until = time.monotonic() + rest
        Btn.queued += 1
        self._acknowledge(max(rest, ACK_S))
        Clock.schedule_once(lambda dt: self._commit(rest), 0)

    def _commit(self, rest: float) -> None:
        Btn.queued -= 1
        try:
            if self._on_tap is not None:
                self._on_tap()
        finally:
            self.quiet_until = time.monotonic() + rest
            # ... and again from the start of the next frame: a second touch that arrived while
            # this frame was busy is handed to the widgets only then, however long the frame took.
            self.rest_pending = rest
            Clock.schedule_once(lambda dt: self._rest(rest), 0)
            self._acknowledge(max(rest, ACK_S))  # the screen's refresh may have re-coloured it

    def _rest(self, seconds: float) -> None:
        """Rest `seconds` from the start of this frame (when the touches it hands on were read)."""
        frame_start = time.monotonic() - max(0.0, Clock.time() - Clock.get_time())
        self.quiet_until = max(self.quiet_until, frame_start + seconds)
        self.rest_pending = None

    def _acknowledge(self, seconds: float) -> None:
        """Every tap that did something changes the button under the finger in the frame of its
        command (press and release of a quick tap fall in one frame, so the pressed look alone
        never shows): it stays dimmed while it rests (a guarded button ignores taps then), at
        least ACK_S."""
        self.background_color = tuple(c * 0.7 for c in self.base_color[:3]) + (1,)
        if self._ack_trigger is None:
            self._ack_trigger = Clock.create_trigger(self._acknowledged, seconds)
        self._ack_trigger.timeout = seconds
        self._ack_trigger.cancel()
        self._ack_trigger()

    def _acknowledged(self, *_) -> None:
        self.background_color = GREY if self.disabled else self.base_color

    def set_color(self, color) -> None:
        self.base_color = color
        self.background_color = color

    def on_disabled(self, inst, value):
        self.disabled_color = (1, 1, 1, 0.45)
        self.background_color = GREY if value else self.base_color


def release_rendered_surfaces() -> None:
    """Kivy's SDL2 text provider renders a label's text into an SDL surface, copies its pixels
    into the label's texture, and then keeps the surface on the core label until the next render:
    a second, CPU-side copy of every text ever shown (a screen's dropped textures included),
    about 5.6 MB in 678 surfaces after a simulated day at 800x480 (heaptrack: all of it
    SDL_CreateRGBSurface from `_SurfaceContainer`). Nothing reads it after `_render_end`; the next
    render makes a new one (`_render_begin`). Here the surface goes as soon as its pixels are
    copied. Other text providers (pango, PIL) are left as they are."""
    try:
        from kivy.core.text.text_sdl2 import LabelSDL2
    except ImportError:  # another text provider
        return
    keep_surface = LabelSDL2._render_end

    def render_end(self):
        try:
            return keep_surface(self)
        finally:
            self._surface = None

    LabelSDL2._render_end = render_end


release_rendered_surfaces()


class Txt(TextLabel):
    """Wrapped text. fixed=True: fills its box and shrinks its font until the text fits (never
    below `min_ratio` of the base size), so nothing is cut off; otherwise its height follows the
    text."""

    def __init__(self, text: str = "", font_mm: float = 3.6, color=TEXT, halign: str = "left",
                 valign: str = "middle", bold: bool = False, fixed: bool = False, min_ratio: float = 0.6, **kw):
        kw.setdefault("markup", True)
        super().__init__(text=text, font_size=font_px(font_mm), color=color, halign=halign, valign=valign,
                         bold=bold, **kw)
        self.fixed = fixed
        self.base_font = font_px(font_mm)
        self.min_ratio = min_ratio
        if fixed:
            self._fit_trigger = Clock.create_trigger(self._fit, -1)
            self.bind(size=lambda *_: self._fit_trigger(), text=lambda *_: self._fit_trigger())
        else:
            self.size_hint_y = None
            self.bind(width=lambda w, v: setattr(w, "text_size", (max(1, v), None)),
                      texture_size=lambda w, v: setattr(w, "height", v[1]))

    def _fit(self, *_):
        pad_x = self.padding[0] + self.padding[2]
        pad_y = self.padding[1] + self.padding[3]
        fit_text(self, self.base_font, self.min_ratio, self.width - pad_x, self.height - pad_y)


MARKUP_TAG = re.compile(r"\[/?[a-z]+(=[^\]]*)?\]")


def longest_word_px(label: Label, size: float) -> float:
    """The widest word of the label's text at font size `size` (bold, to be safe), in pixels:
    Kivy breaks a word wider than the wrapping width inside the word."""
    from kivy.core.text import Label as CoreLabel

    text = MARKUP_TAG.sub("", label.text) if label.markup else label.text
    words = sorted(set(text.split()), key=len, reverse=True)[:4]
    if not words:
        return 0.0
    widest = 0.0
    for w in words:
        key = (w, size, label.font_name)
        px = _WORD_PX.get(key)
        if px is None:
            if len(_WORD_PX) > 4000:
                _WORD_PX.clear()
            px = _WORD_PX[key] = CoreLabel(font_size=size, bold=True, font_name=label.font_name).get_extents(w)[0]
        widest = max(widest, px)
    return widest


_WORD_PX: dict[tuple, float] = {}  # (word, size, font) -> pixels: the same words come back all day


def fit_text(label: Label, base: float, min_ratio: float, width: float, height: float) -> None:
    """Largest font size from `base` down to base*min_ratio at which the wrapped text fits: in
    height, and with no word wider than the line (no break inside a word)."""
    if width <= 1 or height <= 1:
        return
    label.text_size = (width, None)
    # The sizes tried are the ladder's rungs (never a new font just for one fit), down to the
    # rung at or just under base * min_ratio.
    size = ladder(base)
    floor = min(size, ladder(base * min_ratio))
    if floor > base * min_ratio + 0.5:
        floor = rung_below(floor)
    while True:
        label.font_size = size
        label.texture_update()
        fits_h = label.texture_size[1] <= height + label.padding[1] + label.padding[3] + 1
        if (fits_h and longest_word_px(label, size) <= width) or size <= floor:
            break
        size = max(floor, rung_below(size))
    fits = label.texture_size[1] <= height + label.padding[1] + label.padding[3] + 1
    label.text_overflow = not fits  # the layout audit (kiosk_dev/layout_audit.py) reads this
    if not (fits and label.valign == "middle"):
        label.text_size = (width, height)
    # else: the texture stays as tall as the text (Kivy centres it in the widget, as "middle"
    # would), not as tall as the box: less texture memory and no second render.


def row(height_mm: float, *children, spacing_mm: float = 1.5, **kw) -> BoxLayout:
    box = BoxLayout(orientation="horizontal", size_hint_y=None, height=mm(height_mm),
                    spacing=mm(spacing_mm), **kw)
    for c in children:
        box.add_widget(c)
    return box


def column(*children, spacing_mm: float = 1.5, padding_mm: float = 0, **kw) -> BoxLayout:
    box = BoxLayout(orientation="vertical", spacing=mm(spacing_mm), padding=mm(padding_mm), **kw)
    for c in children:
        box.add_widget(c)
    return box


# ---------------------------------------------------------------------------------------------
# Screens
# ---------------------------------------------------------------------------------------------

WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
          "oktober", "november", "december")


def in_words(day: dt.date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def scroll(child: Widget) -> ScrollView:
    sv = ScrollView(do_scroll_x=False, bar_width=mm(1.5), scroll_type=["bars", "content"])
    child.size_hint_y = None
    child.bind(minimum_height=child.setter("height"))
    sv.add_widget(child)
    return sv


def grid(cols: int, spacing_mm: float = 1.5, **kw) -> GridLayout:
    return GridLayout(cols=cols, spacing=mm(spacing_mm), **kw)


def panel(*children, color=PANEL, padding_mm: float = 2, spacing_mm: float = 1.2, **kw) -> BoxLayout:
    box = column(*children, padding_mm=padding_mm, spacing_mm=spacing_mm, **kw)
    paint(box, color)
    return box


class Page(Screen):
    """A screen with a header row (Hem + title) and a body."""

    title = ""
    home_button = True

    def __init__(self, app, **kw):
        super().__init__(**kw)
        self.app = app
        self.evicted: list = []  # labels whose textures drop_textures dropped
        self._evict = Clock.create_trigger(lambda dt: self.drop_textures(), EVICT_S)
        outer = BoxLayout(orientation="vertical", padding=mm(1.5), spacing=mm(1.5))
        head = row(10)
        if self.home_button:
            head.add_widget(Btn("Hem", self.app.go_home, color=GREY, size_hint_x=None, width=mm(22),
                                font_mm=3.8))
        self.title_label = Txt(f"[b]{self.title}[/b]", font_mm=4.6, fixed=True, min_ratio=0.55)
        head.add_widget(self.title_label)
        self.head = head
        outer.add_widget(head)
        self.body = BoxLayout(orientation="vertical", spacing=mm(1.5))
        outer.add_widget(self.body)
        self.add_widget(outer)
        self.footer = row(11)
        self.build()
        if self.footer.children:
            self.body.add_widget(self.footer)

    def record_tick(self, item: str, on: bool) -> bool:
        """Record a checklist item ticked (`on`) or unticked, as the journal keeps it; True when
        the controller took it (the screen then shows the tick, else it keeps what it had)."""
        return self.app.do({"cmd": "checklist", "item": item, **({} if on else {"done": False})}).ok

    def header_button(self, text: str, on_tap, width_mm: float = 34, guard: bool = True) -> "Btn":
        """A button at the right end of the header row (e.g. the step's undo); in portrait, where
        the header is narrow, in a row at the bottom of the screen instead."""
        if Scale.portrait:
            b = Btn(text, on_tap, color=GREY, font_mm=3.2, guard=guard)
            self.footer.add_widget(b)
        else:
            b = Btn(text, on_tap, color=GREY, size_hint_x=None, width=mm(width_mm), font_mm=3.0, guard=guard)
            self.head.add_widget(b)
        return b

    @property
    def state(self) -> routine.DayState:
        return self.app.controller.state

    def build(self) -> None:  # pragma: no cover - overridden
        pass

    def refresh(self) -> None:
        pass

    def on_pre_enter(self, *args):
        self.pending = {}
        self._evict.cancel()
        self.refresh()
        self.restore_textures()

    def on_leave(self, *args):
        self.pending = {}
        if not self.keep_textures:
            self._evict()

    # -- the rendered texts of a screen not shown ----------------------------------------------
    # A screen left for EVICT_S gives up its labels' textures (a screen's texts are most of
    # what it holds: ~6 MB for the ten screens after a day at 800x480 under Xvfb); its next
    # visit renders them again at the sizes they had (no fitting) before that frame is drawn.
    # A screen warmed in the background and never shown keeps them, so first visits stay
    # rendered; Home, shown between every step, keeps them too.
    keep_textures = False

    def drop_textures(self) -> None:
        if self.manager is not None and self.manager.current_screen is self:
            return
        dropped = []
        for w in self.walk(restrict=True):
            if isinstance(w, Label) and w.texture is not None:
                w.texture = None
                w._label.texture = None
                dropped.append(w)
        self.evicted.extend(dropped)
        if dropped:
            self.app.memory_freed()  # the heap they leave is handed back to the system

    def restore_textures(self) -> None:
        """Render again (before the next frame is drawn, once per label) what `drop_textures`
        dropped, whether the label is on the screen now or comes back later."""
        evicted, self.evicted = self.evicted, []
        for w in evicted:
            if w.texture is None and w.text:
                w._trigger_texture()

    def on_result(self, result) -> None:
        """A command result arrived while this page is shown."""

    # -- confirming second taps (the controller's "confirm_needed") ---------------------------
    pending: dict = {}

    def confirmable(self, btn: "Btn", make_command) -> Callable[[], None]:
        """The tap handler of a button whose command may answer `confirm_needed`: the first tap
        sends the command; on confirm_needed the button turns amber and says "Tryck igen"; the
        next tap on it (after the double-tap window) sends it again with "confirm": true. Any
        other result, or leaving the screen, drops the pending confirmation."""

        def tap():
            pending = self.pending.pop(btn, None)
            command = dict(pending, confirm=True) if pending else make_command()
            if command is None:
                return
            result = self.app.do(command)
            if result.code == "confirm_needed" and not pending:
                self.pending = {btn: command}
            self.refresh()

        return tap

    def result_arrived(self, result) -> None:
        if result.code != "confirm_needed":
            self.pending = {}
        self.on_result(result)

    def confirm_look(self, btn: "Btn", text: str, color, confirm_text: str) -> None:
        """A confirmable button's face: amber "Tryck igen ..." while a confirmation is pending."""
        if btn in self.pending:
            btn.text = confirm_text
            btn.set_color(AMBER)
        else:
            btn.text = text
            btn.set_color(color)

# ---------------------------------------------------------------------------------------------
# What central says about an alert (kiosk/wire/inbox.py)
# ---------------------------------------------------------------------------------------------

SEVERITY_COLORS = {"ok": GREEN, "warning": AMBER, "error": RED, "alert": RED}


class TLNote(Txt):
    """One alert the operator just raised (or withdrew): where it is, as kiosk/core/truth.py says from
    central's inbox, the connection and the time (`app.alert_line`), and (with `answers`) the TLs'
    answers to today's temporary mailings. Updated once a second; hidden while it has nothing to
    say."""

    def __init__(self, app, answers: bool = False, home=None, **kw):
        kw.setdefault("font_mm", 3.2)
        super().__init__("", fixed=True, size_hint_y=None, height=0, padding=(mm(1.5), mm(0.5)),
                         min_ratio=0.5, **kw)
        paint(self, BG)
        self.app = app
        self.answers = answers
        self.alert_id: str | None = None
        self.opacity = 0
        self.home = home  # the layout it joins only while shown (no spacing taken while hidden)
        # updated by the app once a second with the status bar and the banner (app.refresh_live)

    def track(self, alert_id: str | None) -> None:
        self.alert_id = alert_id
        self.update()

    def update(self) -> None:
        from kivy.utils import escape_markup

        from ...wire import inbox

        doc = (getattr(getattr(self.app, "kiosk", None), "poller", None) or _NoPoller).snapshot.get("inbox")
        lines, severity = [], "ok"
        line = self.app.alert_line(self.alert_id) if self.alert_id else None
        if line is not None:
            text, severity = line
            lines.append(f"[b]{escape_markup(text)}[/b]")
        if self.answers:
            lines += [escape_markup(a) for a in inbox.answers(doc)]
        text = "\n".join(lines)
        if text == self.text:
            return
        self.text = text
        set_bg(self, SEVERITY_COLORS.get(severity, AMBER) if text else BG)
        self.height = mm(7.5 + 5 * (len(lines) - 1)) if text else 0
        self.opacity = 1 if text else 0
        if self.home is not None:
            if text and self.parent is None:
                self.home.add_widget(self)
            elif not text and self.parent is not None:
                self.parent.remove_widget(self)


class _NoPoller:
    snapshot: dict = {}


def raised_alert(result) -> str | None:
    """The id of the TL alert a command result raised (its alert_raised event), or None."""
    return next((e["id"] for e in getattr(result, "events", ()) if e.get("type") == "alert_raised"), None)
