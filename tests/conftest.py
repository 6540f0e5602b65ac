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
