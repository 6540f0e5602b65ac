import datetime as dt
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kiosk.core.clock import TZ  # noqa: E402


def local(y, m, d, hh=9, mm=0, ss=0) -> dt.datetime:
    """An aware Stockholm local time."""
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=TZ)


@pytest.fixture
def tmp_journal_path(tmp_path):
    return tmp_path / "journal.db"


def wait_for(predicate, timeout=5.0) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass; the last answer is returned."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture(params=["sqlite", "postgresql"])
def central_db(request, tmp_path):
    """Central's database, once as a SQLite file and once as a fresh PostgreSQL database (created
    and dropped by kiosk_dev.pgtest): a path or a postgresql:// URL, whatever `--db` accepts."""
    if request.param == "sqlite":
        yield str(tmp_path / "central.db")
        return
    from kiosk_dev.pgtest import temp_database

    with temp_database() as url:
        yield url


# Under pytest-xdist (scripts/test runs the suite on every core) tests run in parallel: each starts
# its own brokers on ports of its worker's block (kiosk_dev.localbroker.free_port), its own Xvfb
# (-displayfd), its own PostgreSQL databases (random names) and works in its own tmp_path. The
# tests that drive a real app with real X input and measure taps in milliseconds share one worker
# (`--dist loadgroup`), so two of them never compete for the cores at once.
SERIAL_GROUPS = {"x-input": ("test_ui.py", "test_ui_truth.py", "test_ui_contract.py", "test_ui_layout.py")}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for group, files in SERIAL_GROUPS.items():
            if item.path.name in files:
                item.add_marker(pytest.mark.xdist_group(group))
