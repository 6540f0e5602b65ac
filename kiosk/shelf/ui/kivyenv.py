"""Kivy settings, applied before Kivy is imported. Imports no Kivy at module level.

Input: exactly one touch path. On Linux, SDL2 turns a touchscreen into mouse events (on X11,
Wayland and KMS/DRM alike) and Kivy's SDL2 window ignores SDL finger events, so the `mouse`
provider alone carries every tap. Kivy's default `probesysfs` entry would add a second provider
(mtdev/hidinput) for the same touchscreen and every tap would fire twice: it is removed here, and
`disable_multitouch` stops a right click from leaving a multitouch dot.
"""

from __future__ import annotations

import os
from pathlib import Path

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF")


def prepare(width: int, height: int, fullscreen: bool = False, show_cursor: bool = True, maxfps: int = 30) -> None:
    """Kivy's settings for the kiosk's window, before Kivy is imported; `maxfps` 0: frames as fast
    as they render (Kivy's clock reads it once, when it is made)."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # our argparse owns the command line
    os.environ.setdefault("KIVY_NO_CONFIG", "1")  # never read or write ~/.kivy/config.ini
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")  # Kivy logs through Python logging
    os.environ.setdefault("KIVY_WINDOW", "sdl2")
    from kivy.config import Config

    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "borderless", "1" if fullscreen else "0")
    Config.set("graphics", "position", "custom")
    Config.set("graphics", "left", "0")
    Config.set("graphics", "top", "0")
    Config.set("graphics", "show_cursor", "1" if show_cursor else "0")
    Config.set("graphics", "maxfps", str(maxfps))
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "keyboard_mode", "system")
    for name in list(Config.options("input")):
        Config.remove_option("input", name)
    Config.set("input", "mouse", "mouse,disable_multitouch")


def register_fonts() -> None:
    """DejaVu Sans (å ä ö, ✓ ☐ ▶) as the default font when installed; Kivy's Roboto otherwise."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    for d in FONT_DIRS:
        regular, bold = Path(d, "DejaVuSans.ttf"), Path(d, "DejaVuSans-Bold.ttf")
        if regular.exists() and bold.exists():
            LabelBase.register(DEFAULT_FONT, fn_regular=str(regular), fn_bold=str(bold))
            return


def display_available() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("SDL_VIDEODRIVER") in ("kmsdrm", "wayland", "x11"))


def kms_available() -> bool:
    """A local console with a DRM device (a Pi without a desktop): SDL2 can draw via KMS/DRM."""
    return any(Path("/dev/dri").glob("card*")) if Path("/dev/dri").exists() else False
