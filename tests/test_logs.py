"""Log lines carry journald priorities under systemd: with stderr the stream systemd connected to
the journal (JOURNAL_STREAM = its device:inode), each line is `<N>logger: message` without a
timestamp, so `journalctl -p warning` finds the warnings and errors. The tests hand the kiosk a
real file as stderr and set JOURNAL_STREAM to that file, as systemd does with its socket."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_kiosk(tmp_path: Path, argv: list[str], journal: bool, code: str | None = None) -> list[str]:
    err = tmp_path / "stderr"
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "KIOSK_CONFIG")}
    env["PYTHONPATH"] = str(ROOT)
    with open(err, "wb") as fh:
        st = os.fstat(fh.fileno())
        if journal:
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        else:  # systemd's variable for another stream (e.g. the parent's): not ours
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino + 1}"
        cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "kiosk", *argv]
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=fh, env=env, cwd=tmp_path, timeout=120)
    return err.read_text().splitlines()


@pytest.fixture
def printer_offline(tmp_path: Path) -> Path:
    """A kiosk whose network printer refuses connections: `kiosk print-test` logs a warning."""
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\ndata_dir = "{tmp_path}/data"\nhardware = "simulator"\n'
                   '[printer]\nbackend = "network"\nhost = "127.0.0.1"\nport = 9\ntimeout_s = 0.5\n')
    return cfg


def test_a_kiosk_warning_reaches_the_journal_at_priority_4(tmp_path, printer_offline):
    lines = run_kiosk(tmp_path, ["--config", str(printer_offline), "print-test"], journal=True)
    warnings = [line for line in lines if "printing test failed" in line]
    assert warnings and warnings[0].startswith("<4>kiosk.shelf.hw.printer: printing test failed"), lines
    assert all(re.match(r"<[0-7]>", line) for line in lines), lines  # continuation lines too
    assert not any(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", line) for line in lines)  # journald stamps


def test_levels_map_to_syslog_priorities_and_tracebacks_keep_theirs(tmp_path):
    code = ("import logging, sys; from kiosk.cli import main; from kiosk.core import logs; logs.setup(); "
            "log = logging.getLogger('kiosk.shelf.controller'); log.debug('hidden'); log.info('i'); log.warning('w'); "
            "log.error('e'); log.critical('c')\n"
            "try:\n    1 / 0\nexcept ZeroDivisionError:\n    log.exception('broke')\n")
    lines = run_kiosk(tmp_path, [], journal=True, code=code)
    assert lines[:4] == ["<6>kiosk.shelf.controller: i", "<4>kiosk.shelf.controller: w", "<3>kiosk.shelf.controller: e",
                         "<2>kiosk.shelf.controller: c"], lines
    assert lines[4] == "<3>kiosk.shelf.controller: broke"
    assert lines[-1] == "<3>ZeroDivisionError: division by zero" and all(x.startswith("<3>") for x in lines[4:])


def test_outside_the_journal_lines_keep_the_usual_format(tmp_path, printer_offline):
    lines = run_kiosk(tmp_path, ["--config", str(printer_offline), "print-test"], journal=False)
    warning = next(line for line in lines if "printing test failed" in line)
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ WARNING kiosk.shelf.hw.printer: printing test failed", warning)
    assert not any(line.startswith("<") for line in lines)
