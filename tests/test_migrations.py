"""Frozen migrations: each step's SQL is a literal in its room's module (never built from constants
that live on and change), and a central database made new ends with the same schema as one
upgraded from every earlier version of every room, on SQLite and on PostgreSQL."""

from __future__ import annotations

import ast
import contextlib
from pathlib import Path

import pytest

from kiosk.central import db as dbm
from kiosk.central import shedding, store, summaries
from kiosk.central.delivery import outbox
from kiosk.central.web import schema as web_schema

ROOT = Path(__file__).resolve().parents[1]

# every room in the order central makes them (the store first: the others refer to its tables)
ROOMS = [("store", store.MIGRATIONS), ("summaries", summaries.MIGRATIONS), ("shed", shedding.MIGRATIONS),
         ("delivery", outbox.MIGRATIONS), ("web", web_schema.MIGRATIONS)]


def _literal_strings(tree: ast.Module) -> set[str]:
    """Module-level names bound once to a plain string literal."""
    bound: dict[str, list[ast.expr]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bound.setdefault(target.id, []).append(node.value)
    return {name for name, values in bound.items()
            if len(values) == 1 and isinstance(values[0], ast.Constant) and isinstance(values[0].value, str)}


def step_sql_problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    literals = _literal_strings(tree)
    problems = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and (getattr(node.func, "id", None) == "Step"
                                                or getattr(node.func, "attr", None) == "Step")):
            continue
        sql_args = node.args[2:3] + [k.value for k in node.keywords if k.arg in ("sql", "postgresql", "sqlite")]
        for arg in sql_args:
            ok = (isinstance(arg, ast.Constant) and isinstance(arg.value, str)) or \
                (isinstance(arg, ast.Name) and arg.id in literals)
            if not ok:
                problems.append(f"{path.relative_to(path.parents[2])}:{node.lineno}: {ast.unparse(arg)}")
    return problems


def test_every_steps_sql_is_a_literal_of_its_rooms_module():
    problems = [p for path in sorted((ROOT / "kiosk").rglob("*.py")) for p in step_sql_problems(path)]
    assert not problems, problems


def test_the_literal_check_refuses_sql_built_from_constants(tmp_path):
    mod = tmp_path / "a" / "b" / "room.py"
    mod.parent.mkdir(parents=True)
    mod.write_text('from x import auth\nT = "create table t (a)"\nU = T + ";"\nV = f"{T}"\n'
                   'M = [Step(1, "ok", T), Step(2, "ok", "create index i on t(a)"), dbm.Step(3, "no", U),\n'
                   '     Step(4, "no", sql=auth.SCHEMA), Step(5, "no", postgresql=V, sqlite=T)]\n')
    assert [p.split(": ", 1)[1] for p in step_sql_problems(mod)] == ["U", "auth.SCHEMA", "V"]


# -- new vs upgraded ------------------------------------------------------------------------------

def schema_of(target: str) -> dict:
    """Tables with their columns, indexes and triggers, by name, comparable across databases, and
    the versions applied per room."""
    with dbm.open_database(target) as db, dbm.using(db) as conn:
        versions = conn.query("select room, version from schema_migrations order by room, version")
        if conn.engine == dbm.POSTGRESQL:
            cols = conn.query("select table_name, column_name, data_type, is_nullable, coalesce(column_default, '')"
                              " from information_schema.columns where table_schema = current_schema()"
                              " order by table_name, column_name")
            idx = conn.query("select indexname, indexdef from pg_indexes where schemaname = current_schema()"
                             " order by indexname")
            trg = conn.query("select trigger_name, event_object_table, event_manipulation, action_statement"
                             " from information_schema.triggers where trigger_schema = current_schema()"
                             " order by trigger_name, event_manipulation")
            return {"columns": cols, "indexes": idx, "triggers": trg, "versions": versions}
        tables = [r[0] for r in conn.query("select name from sqlite_master where type = 'table'"
                                           " and name not like 'sqlite_%' order by name")]
        cols = [(t, *c[1:]) for t in tables for c in conn.query(f'pragma table_xinfo("{t}")')]
        idx = []
        for t in tables:
            for _, name, unique, origin, partial in conn.query(f'pragma index_list("{t}")'):
                idx.append((t, name, unique, origin, partial,
                            tuple(r[2] for r in conn.query(f'pragma index_xinfo("{name}")'))))
        trg = conn.query("select name, tbl_name, sql from sqlite_master where type = 'trigger' order by name")
        return {"columns": sorted(cols), "indexes": sorted(idx), "triggers": trg, "versions": versions}


def migrate_all(target: str, stop: dict[str, int] | None = None) -> None:
    """Every room in order; with `stop`, room -> the number of its steps to apply this time."""
    with dbm.open_database(target) as db:
        for room, steps in ROOMS:
            dbm.migrate(db, room, steps[:(stop or {}).get(room, len(steps))])


@contextlib.contextmanager
def databases(engine: str, tmp_path: Path, n: int):
    if engine == "sqlite":
        yield [str(tmp_path / f"central-{i}.db") for i in range(n)]
        return
    from kiosk_dev.pgtest import temp_database

    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(temp_database()) for _ in range(n)]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_new_database_and_one_upgraded_from_every_earlier_version_have_one_schema(engine, tmp_path):
    # each room at each earlier version (0: not made yet), the rooms made after it not made yet (a
    # room's steps may use the tables of the rooms before it, as central makes them in this order)
    earlier = [{room: k, **{later: 0 for later, _ in ROOMS[i + 1:]}}
               for i, (room, steps) in enumerate(ROOMS) for k in range(len(steps))]
    with databases(engine, tmp_path, len(earlier) + 1) as (new, *upgraded):
        migrate_all(new)
        want = schema_of(new)
        assert {t for t, *_ in want["columns"]} >= {"events", "web_days", "web_users", "delivery_queue",
                                                    "shed_senders", "schema_migrations"}
        for target, stop in zip(upgraded, earlier):
            migrate_all(target, stop)
            if any(k < len(dict(ROOMS)[room]) for room, k in stop.items()):
                assert schema_of(target) != want, stop  # really an earlier version
            migrate_all(target)
            assert schema_of(target) == want, stop


def test_the_schema_comparison_sees_a_different_column(tmp_path):
    a, b = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    migrate_all(a)
    migrate_all(b)
    assert schema_of(a) == schema_of(b)
    with dbm.open_database(b) as db, db.transaction() as conn:
        conn.execute("alter table web_users add column email TEXT")
    assert schema_of(a) != schema_of(b)


def test_the_delivery_triggers_queue_exactly_the_event_types_delivery_reads(tmp_path):
    """The frozen triggers name their event types; a type added to outbox.EVENT_TYPES needs a new
    step that replaces them (and this test says so)."""
    target = str(tmp_path / "c.db")
    migrate_all(target)
    with dbm.open_database(target) as db, dbm.using(db) as conn:
        [(sql,)] = conn.query("select sql from sqlite_master where name = 'delivery_queue_events'")
    listed = sql.split("when new.type in (", 1)[1].split(")", 1)[0]
    assert {s.strip().strip("'") for s in listed.split(",")} == set(outbox.EVENT_TYPES)
