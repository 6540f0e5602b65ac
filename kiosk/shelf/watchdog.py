"""Feed systemd's watchdog from the UI loop (the kiosk unit has Type=notify and WatchdogSec=).

The point of the watchdog is that the pings come from the loop that serves the person at the
shelf: if that loop hangs (a blocking call, a deadlock, an endless loop), the pings stop and
systemd kills and restarts the kiosk. So the feeder must be ticked *by the loop itself*, never by
a helper thread that would keep pinging while the UI is frozen.

    feeder = WatchdogFeeder()            # interval from $WATCHDOG_USEC; a no-op without systemd
    feeder.schedule(Clock)               # Kivy: Clock.schedule_interval(feeder.tick, period)
    feeder.ready("Redo")                 # READY=1 once the first screen is up

`tick()` may also be called every frame; it rate-limits itself. Do not schedule `tick` itself on
a Kivy Clock: it returns False between pings, and Kivy unschedules a callback that returns False;
`schedule()` uses `on_clock`, which returns None. The functions of
`kiosk.shelf.sdnotify` keep working on their own; this class only adds pacing and a health hook.
"""

from __future__ import annotations

import time
from typing import Callable

from . import sdnotify


class WatchdogFeeder:
    """Sends WATCHDOG=1 when ticked, at most once per `interval` seconds.

    interval: seconds between pings; default a quarter of systemd's WatchdogSec (half of
      `sdnotify.watchdog_interval()`), None when systemd asked for no watchdog (then tick() is a
      no-op).
    healthy: optional callable; when it returns False the ping is withheld, so systemd restarts
      a kiosk that is alive but stuck (e.g. the journal cannot be written).
    """

    def __init__(self, interval: float | None = None, healthy: Callable[[], bool] | None = None,
                 notify: Callable[[], bool] = sdnotify.watchdog,
                 monotonic: Callable[[], float] = time.monotonic):
        if interval is None:
            half = sdnotify.watchdog_interval()
            interval = half / 2 if half else None
        self.interval = interval
        self.healthy = healthy
        self._notify = notify
        self._monotonic = monotonic
        self._last: float | None = None
        self.pings = 0

    @property
    def enabled(self) -> bool:
        return self.interval is not None and self.interval > 0

    def tick(self, *_dt) -> bool:
        """Call from the UI loop (accepts Kivy's dt). Returns True when a ping was sent."""
        if not self.enabled:
            return False
        now = self._monotonic()
        if self._last is not None and now - self._last < self.interval:
            return False
        if self.healthy is not None:
            try:
                if not self.healthy():
                    return False
            except Exception:  # a failing health check is an unhealthy kiosk, not a crash
                return False
        self._last = now
        if self._notify():
            self.pings += 1
            return True
        return False

    def period(self) -> float:
        """How often the loop should tick: several times per ping interval, at most once a second."""
        if not self.enabled:
            return 1.0
        return max(0.05, min(1.0, self.interval / 4))

    def schedule(self, clock):
        """Schedule `tick` on a Kivy-style clock (`clock.schedule_interval(callback, period)`).
        Returns the clock event, or None when there is no watchdog to feed."""
        if not self.enabled:
            return None
        return clock.schedule_interval(self.on_clock, self.period())

    def on_clock(self, _dt=None) -> None:
        """The Kivy Clock callback. It returns None on purpose: a Kivy interval callback that
        returns False is unscheduled, and `tick()` returns False between pings."""
        self.tick()

    @staticmethod
    def ready(status: str = "") -> bool:
        return sdnotify.ready(status)
