"""`kiosk run`: the kiosk itself. Loads the config, opens the journal, builds the controller with
the system clock, the devices (simulator when no Pi hardware is found), the sync publisher and
the touch UI, and runs until the window closes."""

from __future__ import annotations

import logging
import sys

from . import kivyenv

log = logging.getLogger(__name__)

NO_DISPLAY = """kiosk run: no display found (no $DISPLAY or $WAYLAND_DISPLAY).
  On the kiosk: start it from the Pi's desktop session or the systemd unit (which sets DISPLAY),
  or on a Pi without a desktop let SDL draw on the console: SDL_VIDEODRIVER=kmsdrm kiosk run.
  On a machine without a screen: kiosk run --xvfb (needs Xvfb: apt-get install xvfb),
  or run a scripted day headless: kiosk simulate SCRIPT.jsonl / kiosk example."""


NO_KIOSK_DEV = """kiosk run --xvfb: the Xvfb helper (kiosk_dev) is part of a source checkout only, not of an
  installed kiosk. Run it from a checkout (scripts/run --xvfb), or give the kiosk a display."""


def _stop_on_sigterm(app) -> None:
    """systemd stops the kiosk with SIGTERM: close the app cleanly (publisher, devices, journal)."""
    import signal

    from kivy.clock import Clock

    def stop(signum, frame):
        Clock.schedule_once(lambda dt: app.stop(), 0)

    signal.signal(signal.SIGTERM, stop)


def parse_size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def main(args) -> int:
    from ...core.config import load
    from ..runtime import Kiosk, simulator_mode

    cfg = load(args.config)
    width, height = parse_size(args.size or cfg.ui.size)
    simulator = True if args.simulator else simulator_mode(cfg)
    xvfb = None
    if not kivyenv.display_available():
        if args.xvfb:
            import os

            from ..devtools import DevToolsMissing, dev_module

            try:
                Xvfb = dev_module("xvfb").Xvfb
            except DevToolsMissing:
                print(NO_KIOSK_DEV, file=sys.stderr)
                return 3
            xvfb = Xvfb(max(width, 1280), max(height, 1280))
            os.environ["DISPLAY"] = xvfb.start()
            log.info("started Xvfb on %s", os.environ["DISPLAY"])
        else:
            print(NO_DISPLAY, file=sys.stderr)
            return 3
    try:
        kivyenv.prepare(width, height, fullscreen=args.fullscreen or cfg.ui.fullscreen, show_cursor=simulator)
        kivyenv.register_fonts()
        from .app import KioskApp

        kiosk = Kiosk(cfg, simulator=simulator)
        log.info("kiosk %s/%s starting (%s), journal %s", cfg.kiosk.site, cfg.kiosk.id,
                 "simulator" if simulator else "Pi hardware", kiosk.journal.path)
        app = KioskApp(kiosk)
        _stop_on_sigterm(app)
        app.run()
        return 0
    finally:
        if xvfb is not None:
            xvfb.stop()
