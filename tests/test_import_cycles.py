"""No import cycles inside the `kiosk` package, counting the late imports inside functions too (a
late import hides a cycle from Python, not from the reader): each module can be read, tested and
moved with what it imports and nothing that imports it back. And the rooms (DESIGN.md §9): arrows
run from `shelf` and `central` down to `wire` and `core`, from `wire` down to `core`, never between
`shelf` and `central` and never up; only the front door (`kiosk/cli.py`, `kiosk/__main__.py`)
reaches every room."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Cycles left as they are, named here so that no new one joins them: none.
KNOWN: list[set[str]] = []


# Which rooms each room may import (besides the bare `kiosk` package, which holds only the version).
ROOMS = {"core": {"core"}, "wire": {"core", "wire"},
         "shelf": {"core", "wire", "shelf"}, "central": {"core", "wire", "central"}}
DOOR = {"kiosk", "kiosk.cli", "kiosk.__main__"}
# Crossings left as they are, named here so that no new one joins them: none.
KNOWN_CROSSINGS: set[tuple[str, str]] = set()


def room(module: str) -> str | None:
    """`core`, `wire`, `shelf` or `central`; None for the front door and the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ROOMS else None


def crossings(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Every (importer, imported) whose arrow goes between shelf and central, or up a room."""
    out = set()
    for mod, deps in graph.items():
        here = room(mod)
        if mod in DOOR:
            continue
        assert here is not None, f"{mod} is in no room: move it into core, wire, shelf or central"
        for dep in deps:
            if dep != "kiosk" and room(dep) not in ROOMS[here]:
                out.add((mod, dep))
    return out


def _name(path: Path, top: Path) -> str:
    parts = list(path.relative_to(top).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path) -> dict[str, set[str]]:
    """{module: the package's modules it imports anywhere in its body}."""
    modules = {_name(p, package.parent): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in modules.items():
        here = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else (node.module or "")
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    deps.add(sub if sub in modules else base)
        graph[mod] = {d for d in deps if d in modules and d != mod}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_kiosk_package_has_no_import_cycles_but_the_known_ones():
    found = cycles(import_graph(ROOT / "kiosk"))
    new = [sorted(c) for c in found if c not in KNOWN]
    assert not new, f"import cycles: {new}"


def test_the_cycle_check_finds_a_late_import_cycle(tmp_path):
    pkg = tmp_path / "kiosk"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import a  # late\n")
    (pkg / "c.py").write_text("import kiosk.a\n")
    graph = import_graph(pkg)
    assert graph["kiosk.c"] == {"kiosk.a"}
    assert cycles(graph) == [{"kiosk.a", "kiosk.sub.b"}]


def test_arrows_run_from_shelf_and_central_down_to_wire_and_core():
    new = crossings(import_graph(ROOT / "kiosk")) - KNOWN_CROSSINGS
    assert not new, f"imports across the rooms (DESIGN.md §9): {sorted(new)}"


def test_the_rooms_check_finds_every_forbidden_arrow(tmp_path):
    pkg = tmp_path / "kiosk"
    for sub in ("core", "wire", "shelf", "central"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("__version__ = '0'\n")
    (pkg / "cli.py").write_text("from .shelf import a\nfrom .central import b\n")  # the door: fine
    (pkg / "core" / "rules.py").write_text("from .. import __version__\n")  # the package: fine
    (pkg / "core" / "up.py").write_text("def f():\n    from ..wire import topics  # late\n")
    (pkg / "wire" / "topics.py").write_text("from ..core import rules\n")  # down: fine
    (pkg / "wire" / "up.py").write_text("import kiosk.shelf.a\n")
    (pkg / "shelf" / "a.py").write_text("from ..wire import topics\nfrom ..central import b\n")
    (pkg / "central" / "b.py").write_text("from kiosk.core import rules\nfrom kiosk.shelf.a import x\n")
    assert crossings(import_graph(pkg)) == {
        ("kiosk.core.up", "kiosk.wire.topics"), ("kiosk.wire.up", "kiosk.shelf.a"),
        ("kiosk.shelf.a", "kiosk.central.b"), ("kiosk.central.b", "kiosk.shelf.a")}


def test_a_module_outside_the_rooms_is_named(tmp_path):
    pkg = tmp_path / "kiosk"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "stray.py").write_text("")
    try:
        crossings(import_graph(pkg))
    except AssertionError as exc:
        assert "kiosk.stray is in no room" in str(exc)
    else:
        raise AssertionError("a module outside the rooms went unnoticed")
