"""`kiosk bench-ingest` runs end to end on a small set and prints every figure (slow: it starts
mosquitto and central consumers). Its figures are never asserted, only that they are there."""

from __future__ import annotations

import re
import subprocess

import pytest

from .mqtt_broker import env, kiosk_cmd, needs_mosquitto

pytestmark = [needs_mosquitto, pytest.mark.slow]


def test_bench_ingest_prints_every_run_beside_the_bare_baselines(tmp_path):
    done = subprocess.run(kiosk_cmd("bench-ingest", "--events", "300", "--kiosks", "3", "--consumers", "2",
                                    "--dir", str(tmp_path)), env=env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    rate = r"\s+\d+ events/s"
    assert re.search(r"bare psycopg copy .*" + rate, out) and re.search(r"bare psycopg executemany .*" + rate, out)
    assert re.search(r"PostgreSQL 2 consumers .*" + rate + r" .*x of bare COPY", out), out
    assert re.search(r"SQLite     1 consumer .*" + rate, out), out
