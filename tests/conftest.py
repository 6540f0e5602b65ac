import datetime as dt
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kiosk.clock import TZ  # noqa: E402


def local(y, m, d, hh=9, mm=0, ss=0) -> dt.datetime:
    """An aware Stockholm local time."""
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=TZ)


@pytest.fixture
def tmp_journal_path(tmp_path):
    return tmp_path / "journal.db"
