"""Every benchmark command the documentation names runs, on a tiny size, and prints its figures
beside its baseline (the figures are never asserted: only that they are there). A benchmark
documented without a tiny invocation below fails `test_every_documented_benchmark_has_a_tiny_run`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .mqtt_broker import env, needs_mosquitto

ROOT = Path(__file__).resolve().parent.parent
PY = [sys.executable]

# documented command -> (argv on a tiny size, what its output must show). `{dir}`: a temp folder.
TINY: dict[str, tuple[list[str], list[str]] | str] = {
    # `kiosk bench` runs the sync and ui areas through the modules their own commands run (below):
    # here they are named and skipped, each runs once in the suite.
    "kiosk bench": (PY + ["-m", "kiosk", "bench", "--quick", "--skip", "sync,ui", "--dir", "{dir}"],
                    [r"ratio controller/bare", r"^hw: ", r"^watchdog: ", r"^sync: skipped", r"^ui: skipped"]),
    "make bench": "kiosk bench",  # the Makefile target runs `kiosk bench` (checked below)
    "kiosk bench-sync": (PY + ["-m", "kiosk", "bench-sync", "--events", "200", "--repeat", "1", "--flood-messages", "2000",
                                   "--dir", "{dir}"],
                         [r"end-to-end drain / bare paho", r"central ingest / bare insert", r"^flood \(paho",
                          r"central's receive path"]),
    "kiosk bench-ingest": "tests/test_ingest_bench.py",  # run there on a small set
    "kiosk bench-camera": (PY + ["-m", "kiosk", "bench-camera", "--frames", "4"],
                           [r"seconds per frame .* bare Tesseract", r"target pile"]),
    "python -m kiosk_dev.schema_bench": (PY + ["-m", "kiosk_dev.schema_bench", "--events", "200", "--repeat", "1"],
                                         [r"x before", r"beside one durable journal commit"]),
    "python -m kiosk_dev.ui_tap_bench": "kiosk bench",  # `kiosk bench` runs it (its "ui tap" lines above)
    "python -m kiosk_dev.ui_bench": (PY + ["-m", "kiosk_dev.ui_bench", "--quick"],
                                     [r"ui cold start to first screen: .* baseline",
                                      r"ui RSS .* baseline|ui RSS above the baseline",
                                      r"ui tap -> first changed pixel", r"baseline one-label Kivy app"]),
    "python -m kiosk_dev.web_bench": (PY + ["-m", "kiosk_dev.web_bench", "--kiosks", "2", "--days", "3", "--repeat",
                                            "1", "--replay-days", "2", "--no-cache", "--dir", "{dir}"],
                                      [r"baseline|replay"]),
    "python -m kiosk_dev.web_bench_pg": (PY + ["-m", "kiosk_dev.web_bench_pg", "--kiosks", "2", "--days", "3",
                                               "--repeat", "1", "--no-cache", "--dir", "{dir}"], [r"(?i)postgresql"]),
    "python -m kiosk_dev.outbox_trigger_bench": (PY + ["-m", "kiosk_dev.outbox_trigger_bench", "--events", "200",
                                                       "--batch", "50", "--rounds", "1"], [r"(?i)sqlite", r"(?i)postgres"]),
    "python -m kiosk_dev.delivery_bench": (PY + ["-m", "kiosk_dev.delivery_bench", "--alerts", "10", "--dir", "{dir}"],
                                           [r"\d"]),
}

_COMMAND = re.compile(r"make bench\b|kiosk bench(?:-[a-z]+)?\b|python -m kiosk_dev\.[a-z_]*bench[a-z_]*\b")


def documented() -> set[str]:
    """Every benchmark command named in README.md and docs/*.md."""
    found: set[str] = set()
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        found |= set(_COMMAND.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_documented_benchmark_has_a_tiny_run():
    names = documented()
    assert "kiosk bench" in names and "make bench" in names  # the parser still finds the README's
    assert names <= set(TINY), f"documented benchmarks without a tiny run here: {sorted(names - set(TINY))}"
    recipe = (ROOT / "Makefile").read_text().split("bench:", 1)[1].split("\n\n")[0]
    assert "kiosk bench" in recipe
    assert (ROOT / "tests" / "test_ingest_bench.py").exists()


@pytest.mark.slow
@needs_mosquitto
@pytest.mark.parametrize("name", sorted(k for k, v in TINY.items() if isinstance(v, tuple)))
def test_a_documented_benchmark_runs_on_a_tiny_size(name, tmp_path):
    argv, shows = TINY[name]  # type: ignore[misc]
    argv = [a.replace("{dir}", str(tmp_path / "work")) for a in argv]
    done = subprocess.run(argv, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=900)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "failed" not in out.lower(), out[-3000:]
    for pattern in shows:
        assert re.search(pattern, out, re.MULTILINE), (pattern, out[-3000:])
