"""The journal's open errors, apart from `journal` so that the CLI can name them without
importing SQLite tooling (an installed kiosk's `kiosk --help` stays light)."""

from __future__ import annotations

import os
from pathlib import Path


class JournalError(ValueError):
    """The journal cannot be opened. `str(exc)`: English, for the CLI and the log, naming the
    file and what to do; `screen`: Swedish, for the kiosk's screen. Nothing was written."""

    def __init__(self, message: str, screen: str):
        super().__init__(message)
        self.screen = screen

    @classmethod
    def from_exception(cls, path: Path, exc: BaseException) -> "JournalError":
        text = str(exc)
        low = text.lower()
        call = "Kontakta tekniker."
        if (isinstance(exc, PermissionError) or "readonly" in low or "read-only" in low or "permission" in low
                or ("unable to open" in low and not _writable(path))):
            return cls(f"journal {path}: cannot write there ({text}); the data folder must be writable "
                       "by the kiosk user (kiosk.data_dir)",
                       f"Journalen kan inte sparas: lagringen är skrivskyddad. Inget kan registreras. {call}")
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return cls(f"journal {path} is damaged or not a kiosk journal ({text}); it was not changed: "
                       "move it aside (keep it for recovery) and start again",
                       f"Journalen är skadad och kan inte öppnas. Inget har ändrats i den. {call}")
        if "full" in low or getattr(exc, "errno", None) == 28:
            return cls(f"journal {path}: the disk is full ({text})",
                       f"Journalen kan inte sparas: lagringen är full. {call}")
        return cls(f"journal {path} cannot be opened: {text}",
                   f"Journalen kan inte öppnas. Inget kan registreras. {call}")


def _writable(path: Path) -> bool:
    """Can this process create files next to the journal (its -wal and -shm too)?"""
    probe = Path(path).parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return os.access(probe, os.W_OK) and (not Path(path).exists() or os.access(path, os.W_OK))
