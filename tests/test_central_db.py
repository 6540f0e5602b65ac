"""kiosk/central/db.py: the one database interface over SQLite and PostgreSQL."""

import threading

import pytest
from hypothesis import given, strategies as st

from kiosk.central import db as dbm


def test_placeholders_become_pyformat_outside_strings():
    assert dbm._to_pyformat("select ? , '?%' , x % 2 from t where a = ?") == \
        "select %s , '?%%' , x %% 2 from t where a = %s"


@given(st.text(alphabet="ab?%' ", max_size=40))
def test_placeholder_translation_keeps_every_other_character(sql):
    out = dbm._to_pyformat(sql)
    assert out.replace("%s", "?").replace("%%", "%") == sql or "'" in sql


def test_display_name_hides_the_password():
    assert dbm.display_name("postgresql://u:secret@h:5433/db") == "postgresql://u:***@h:5433/db"
    assert dbm.display_name("postgresql://u@h/db") == "postgresql://u@h/db"
    assert dbm.display_name("/var/lib/kiosk/central.db") == "/var/lib/kiosk/central.db"


STEPS = [
    dbm.Step(1, "t", "create table t (id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT NOT NULL UNIQUE, n INTEGER, b BLOB)"),
    dbm.Step(2, "t.extra", "alter table t add column extra TEXT"),
]


def test_migrations_apply_once_in_order(central_db):
    with dbm.open_database(central_db) as db:
        assert dbm.migrate(db, "test", STEPS[:1]) == [1]
        assert dbm.migrate(db, "test", STEPS) == [2]
        assert dbm.migrate(db, "test", STEPS) == []
        assert dbm.migrate(db, "other", []) == []
        with db.connection() as conn:
            assert conn.columns("t") == ["id", "k", "n", "b", "extra"]
            assert dbm.applied(conn, "test") == {1, 2}


def test_migrations_refuse_unordered_versions(central_db):
    with dbm.open_database(central_db) as db, pytest.raises(ValueError):
        dbm.migrate(db, "test", [STEPS[1], STEPS[0]])


def migrate_at_once(target, n: int) -> tuple[list, list]:
    """`n` threads open `target` and migrate it at the same moment: what each applied, and what failed."""
    results: list = []
    failures: list = []
    barrier = threading.Barrier(n)

    def start():
        try:
            barrier.wait()
            with dbm.open_database(target) as db:
                results.append(dbm.migrate(db, "test", STEPS))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, failures


def test_concurrent_migrations_apply_once(central_db):
    results, failures = migrate_at_once(central_db, 4)
    assert failures == []
    assert sorted(results) == [[], [], [], [1, 2]]


def test_the_same_sql_on_both_engines(central_db):
    with dbm.open_database(central_db) as db:
        dbm.migrate(db, "test", STEPS)
        with db.transaction() as conn:
            conn.executemany("insert into t(k, n) values (?, ?) on conflict (k) do nothing",
                             [("a", 1), ("b", 2), ("a", 3)])
            row = conn.query_one("insert into t(k, n) values (?, ?) returning id", ("c", 4))
            assert row is not None and row[0] >= 3
        assert db.query("select k, n from t order by k") == [("a", 1), ("b", 2), ("c", 4)]
        assert db.execute("update t set n = n + 1 where n % 2 = ?", (0,)) == 2
        with pytest.raises(dbm.errors("integrity")):
            db.execute("insert into t(k) values (?)", ("a",))
        with pytest.raises(RuntimeError), db.transaction() as conn:
            conn.execute("insert into t(k) values (?)", ("rolled back",))
            raise RuntimeError
        assert db.query_one("select count(*) from t") == (3,)
        assert "t" in db.table_names()
        assert db.dicts("select k, n from t where k = ?", ("b",)) == [{"k": "b", "n": 3}]


def test_many_connections_opening_one_new_sqlite_file_at_once_never_fail(tmp_path):
    """Switching a new file to WAL raises "database is locked" at once, without waiting, when
    another connection is doing the same (two central consumers starting on one new file)."""
    failures = []
    for round_ in range(15):
        failures += migrate_at_once(tmp_path / f"central-{round_}.db", 6)[1]
    assert failures == []
