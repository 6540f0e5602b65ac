"""Storage failures of central's collector (disk full, I/O errors, a lost database connection):
retried with capped exponential backoff, logged at most a line every few seconds with counts.

Nothing is lost meanwhile: the batch that failed is not acknowledged, so the broker keeps it and
delivers it again when the collector reconnects after the delay.

    failures = StorageFailures(log)
    delay = failures.failed(exc, messages=len(batch))   # wait this long before the next try
    failures.recovered()                                  # after a commit: one line if it had failed
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from ..wire.mqtt import Backoff

FIRST_S = 0.5  # the first retry's delay ...
CAP_S = 30.0  # ... doubling up to this
LOG_EVERY_S = 5.0  # at most one log line this often while storage keeps failing


class StorageFailures:
    def __init__(self, log: logging.Logger, first_s: float = FIRST_S, cap_s: float = CAP_S,
                 log_every_s: float = LOG_EVERY_S, clock: Callable[[], float] = time.monotonic):
        self.log, self.every, self.clock = log, log_every_s, clock
        self.backoff = Backoff(first_s, cap_s)
        self.since: float | None = None  # when the current run of failures began
        self.total = 0  # failures in the current run
        self._unlogged = 0  # failures and messages since the last line
        self._messages = 0
        self._next_line = 0.0

    @property
    def failing(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException, messages: int = 0) -> float:
        """One failed try; returns the seconds to wait before the next."""
        now = self.clock()
        if self.since is None:
            self.since = now
        self.total += 1
        self._unlogged += 1
        self._messages += messages
        delay = self.backoff.next()
        if now >= self._next_line:
            self.log.warning("central: storage failed %d time%s in the last %.0f s (%d messages not acknowledged; "
                             "the broker delivers them again): %s; next try in %.2f s",
                             self._unlogged, "" if self._unlogged == 1 else "s",
                             max(0.0, now - max(self.since, self._next_line - self.every)),
                             self._messages, exc, delay)
            self._unlogged = self._messages = 0
            self._next_line = now + self.every
        return delay

    def recovered(self) -> None:
        """A commit succeeded: after failures, one line saying so, and the delays start over."""
        if self.since is None:
            return
        self.log.warning("central: storage works again after %d failed tries over %.0f s",
                         self.total, self.clock() - self.since)
        self.since, self.total, self._unlogged, self._messages, self._next_line = None, 0, 0, 0, 0.0
        self.backoff.reset()
