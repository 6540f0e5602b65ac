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


# Under pytest-xdist (scripts/test runs the suite on more workers than cores: most of a test's time
# is waiting on subprocesses, brokers and X) tests run in parallel: each starts its own brokers on
# ports of its worker's block (kiosk_dev.localbroker.free_port), its own Xvfb (-displayfd), its own
# PostgreSQL databases (random names) and works in its own tmp_path.
#
# Groups (`--dist loadgroup`): the tests of a group run on one worker, one after another.
# - "x-input": the tests that drive a real app with real X input and measure taps in milliseconds,
#   so two of them never compete with each other.
# - a module whose module-scoped fixture is expensive (a scripted app run, a broker, a wheel build,
#   an installed root) is a group of its own: the fixture is made once, not once per worker.
SERIAL_GROUPS = {
    "x-input": ("test_ui.py", "test_ui_truth.py", "test_ui_contract.py"),
    **{f"module-{name[5:-3]}": (name,) for name in (
        "test_ui_camera.py", "test_ui_sort_chooser.py", "test_doctor.py", "test_provisioning.py",
        "test_packaging.py", "test_roles.py")},
}

# The order tests start in (xdist hands them out in collection order, see pytest_configure): the
# longest first, so none of them starts last and keeps the run waiting. A nodeid prefix each,
# longest first (seconds measured in a whole run on two loaded cores); the rest follow in file order.
LONG_FIRST = (
    "tests/test_ui.py::test_a_whole_day_by_touch",  # the x-input group: ~3-4 min on its worker in all
    "tests/test_ui.py",
    "tests/test_ui_contract.py",
    "tests/test_ui_truth.py",
    "tests/test_durability.py::test_kill_9_at_random_points",  # 110 s
    "tests/test_bench_commands.py::test_a_documented_benchmark_runs_on_a_tiny_size[python -m kiosk_dev.ui_bench]",
    "tests/test_web_core.py::test_incremental_summaries_equal_full_replay[postgresql]",  # 53 s
    "tests/test_migrations.py::test_a_new_database_and_one_upgraded_from_every_earlier_version_have_one_schema[postgresql]",
    "tests/test_central_consumers.py::test_consumers_sigkilled_at_random",  # 46 + 32 s
    "tests/test_ui_camera.py",  # its module's app run (~20 s) and five tests
    "tests/test_central_backup.py::test_after_restoring_an_older_backup",  # 34 s
    "tests/test_sync_campaign.py",  # 33 s
    "tests/test_bench_commands.py::test_a_documented_benchmark_runs_on_a_tiny_size[kiosk bench-sync]",
    "tests/test_central_consumers.py",
    "tests/test_broker2_faults.py",  # 28 + 21 s
    "tests/test_provisioning.py",
    "tests/test_roles.py",
    "tests/test_ui_alert_truth.py",
    "tests/test_delivery.py::test_sigkill_between_send_and_mark",
    "tests/test_central_backup.py",
    "tests/test_inbox.py::test_acknowledgement_answer_and_delivery_outcomes_reach_the_kiosk",
    "tests/test_broker2_nats.py",
    "tests/test_ingest_bench.py",
    "tests/test_web_it.py::test_one_address_guessing",
    "tests/test_web.py::test_card_changes_when_the_kiosks_events_arrive_over_mqtt",
    "tests/test_central_flood.py",
    "tests/test_ui_sort_chooser.py",
    "tests/test_bench_commands.py",
    "tests/test_ui_layout.py",
    "tests/test_doctor.py",
    "tests/test_packaging.py",
)


def pytest_configure(config):
    # Hand out the tests in the order above, not by the size of each group (pytest-xdist's default
    # for --dist loadgroup).
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def _rank(nodeid: str) -> int:
    for i, prefix in enumerate(LONG_FIRST):
        if nodeid.startswith(prefix):
            return i
    return len(LONG_FIRST)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: _rank(item.nodeid))  # stable: the rest keep their order
    for item in items:
        for group, files in SERIAL_GROUPS.items():
            if item.path.name in files:
                item.add_marker(pytest.mark.xdist_group(group))
    if getattr(config.option, "loadgroup", False):  # on an xdist worker, under --dist loadgroup
        for item in items:
            _group_suffix(item)


def _group_suffix(item) -> None:
    """The `@group` suffix --dist loadgroup schedules by. pytest-xdist 3.8 writes it to
    `item._nodeid`, which pytest 9 no longer reads (a node's id is `item._id`), so without this
    every group was spread over the workers."""
    names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                    for m in item.iter_markers("xdist_group")})
    nodeid = item.nodeid
    if not names or nodeid.rfind("@") > nodeid.rfind("]"):
        return  # no group, or pytest-xdist set the suffix itself
    item._id = type(item._id).parse(f"{nodeid}@{'_'.join(names)}")
