"""Logging for every `kiosk` command: under systemd each line carries its journald priority.

When stderr is the journal's stream (systemd sets `JOURNAL_STREAM=<dev>:<inode>` of the stream it
connected), lines are `<N>logger: message` with no timestamp (journald adds its own), N the syslog
priority: 7 debug, 6 info, 4 warning, 3 error, 2 critical. So `journalctl -p warning -u
returpost-kiosk` shows exactly the warnings and errors. Elsewhere the usual
`time LEVEL logger: message`.
"""

from __future__ import annotations

import logging
import os
import sys

PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (levels between the named ones round down)."""
    for level in sorted(PRIORITY, reverse=True):
        if levelno >= level:
            return PRIORITY[level]
    return 7


class JournalFormatter(logging.Formatter):
    """`<N>logger: message`, every line of a multi-line record (a traceback) prefixed alike."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def on_journal(stream=None) -> bool:
    """Whether `stream` (stderr) is the stream systemd connected to the journal."""
    value = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


class _KioskHandler(logging.StreamHandler):
    """The handler `setup` installs (a later `setup` replaces it, and only it)."""


def setup(verbose: bool = False, stream=None) -> logging.Handler | None:
    """Configure the root logger for a command, like logging.basicConfig: when someone else
    already put a handler there (pytest's capture, an embedding program) it is left alone and None
    is returned; a handler of an earlier `setup` is replaced."""
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, _KioskHandler):
            root.removeHandler(old)
    if root.handlers:
        return None
    stream = stream or sys.stderr
    handler = _KioskHandler(stream)
    handler.setFormatter(JournalFormatter() if on_journal(stream) else logging.Formatter(PLAIN_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return handler
