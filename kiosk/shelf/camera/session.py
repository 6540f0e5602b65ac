"""The imperative shell of camera mode: camera -> recognition -> flow -> controller.

`CameraSession.next_envelope()` (the simulator's "Nästa kuvert" with the files backend) lays the
next frame, `take_away()` empties the spot, `watch()` is a live camera's loop (reads once per still picture). Each returns the `flow.Screen` to show and the controller results of what was committed.
A crash in recognition is a Swedish message and manual sorting; it never touches what was
committed. Frames and what is read in them are dropped after each step; nothing is logged but the
kind of failure.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from . import flow, rules
from .camera import CameraUnavailable, FilesCamera, open_camera
from .still import Still, thumbnail

log = logging.getLogger(__name__)


class CameraSession:
    def __init__(self, config, execute: Callable[[dict], Any], reader=None, camera=None):
        """`execute(command)` runs a command through the controller (committing it)."""
        self.execute = execute
        self.spot = flow.Spot()
        self.screen = flow.screen(self.spot)
        self.camera = camera
        self.reader = reader
        self.problem: str | None = None
        self.still = Still()
        if self.camera is None:
            try:
                self.camera = open_camera(config)
            except CameraUnavailable as exc:
                self.problem = str(exc)
        if self.camera is not None and getattr(self.camera, "backend", "") == "none":
            self.problem = rules.PROBLEMS["no_camera"]
        if self.problem is not None:
            self.screen = flow.Screen(self.problem, manual=True)

    def _reader(self):
        if self.reader is None:
            from .vision import Reader

            self.reader = Reader()
        return self.reader

    def _verdict(self, img=None) -> rules.Verdict:
        if self.camera is None:
            return rules.Verdict(pile=None, problem="no_camera")
        try:
            img = img if img is not None else self.camera.grab()
            if img is None:
                return rules.Verdict(pile=None, problem="empty")
            return rules.classify(self._reader().read(img))
        except Exception as exc:  # recognition failed: say so, sort by hand, lose nothing
            log.warning("camera recognition failed: %s", type(exc).__name__)
            return rules.Verdict(pile=None, problem="error")

    def _apply(self, step: tuple[flow.Spot, list[dict], flow.Screen]) -> list:
        self.spot, cmds, self.screen = step
        results = [self.execute(cmd) for cmd in cmds]
        for result in results:  # the controller's own answer (a duplicate, a refused code) is shown
            if getattr(result, "status", "ok") != "ok":
                self.screen = flow.Screen(f"{result.message}", light=None, read=self.screen.read,
                                          options=self.screen.options, manual=True)
        return results

    def watch(self, now_ms: int, settle_ms: int) -> list:
        """A live camera's loop, several times a second: reads the spot once per still picture."""
        v = self.look(now_ms, settle_ms)
        return self.seen(v) if v is not None else []

    def look(self, now_ms: int, settle_ms: int) -> rules.Verdict | None:
        """The reading half of `watch` (safe off the UI thread: commits nothing): the verdict on
        the spot once the picture is still, else None."""
        if self.camera is None:
            return None
        img = self.camera.grab()
        if img is None:
            return None
        self.still, go = self.still.feed(thumbnail(img), now_ms, settle_ms)
        return self._verdict(img) if go else None

    def read(self) -> rules.Verdict:
        """The verdict on the spot now (safe off the UI thread: commits nothing)."""
        return self._verdict()

    def seen(self, v: rules.Verdict) -> list:
        """Act on a verdict (on the thread that may commit): the flow's step and its commands."""
        if v.problem == "empty":
            return self._apply(flow.removed(self.spot))
        return self._apply(flow.laid(self.spot, v))

    def frame(self, img=None) -> list:
        """Look at the spot now and act on it."""
        return self.seen(self._verdict(img))

    def next_envelope(self) -> list:
        """The files backend: the next envelope replaces the one on the spot."""
        if isinstance(self.camera, FilesCamera) and not self.camera.advance():
            return self.take_away()
        return self.frame()

    def take_away(self) -> list:
        if isinstance(self.camera, FilesCamera):
            self.camera.clear()
        return self._apply(flow.removed(self.spot))

    def choose(self, option: flow.Option) -> list:
        return self._apply(flow.choose(self.spot, option))

    def wrong(self) -> list:
        return self._apply(flow.wrong(self.spot))
