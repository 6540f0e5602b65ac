"""Two roles, two machines: the kiosk role installs and runs without central's packages, the
central role without the kiosk's. The wheel's requirements say so, the imports of each role's entry
points prove it, and each role runs real commands in a fresh venv that holds only its own packages
(made from the distributions of this venv, so no package index is needed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]

# top-level import names and distribution names of each role's own packages
KIOSK_ONLY = {"kivy": "kivy", "evdev": "evdev", "gpiozero": "gpiozero", "escpos": "python-escpos",
              "usb": "pyusb", "serial": "pyserial", "PIL": "pillow"}
CENTRAL_ONLY = {"starlette": "starlette", "jinja2": "jinja2", "uvicorn": "uvicorn", "multipart": "python-multipart",
                "authlib": "authlib", "prometheus_client": "prometheus-client", "argon2": "argon2-cffi", "apprise": "apprise",
                "holidays": "holidays", "psycopg": "psycopg", "psycopg_pool": "psycopg-pool", "openpyxl": "openpyxl"}
BASE = {"sqlite-utils", "paho-mqtt", "tzdata", "msgspec"}

# What a kiosk imports: its config, the controller and journal, the composition root, the UI, the
# shelf hardware, the kiosk's sync, the printouts, doctor.
KIOSK_MODULES = ["kiosk.core.config", "kiosk.shelf.controller", "kiosk.wire.journal", "kiosk.shelf.runtime", "kiosk.shelf.ui.app",
                 "kiosk.shelf.ui.run", "kiosk.shelf.ui.simulator", "kiosk.shelf.hw", "kiosk.shelf.hw.cli", "kiosk.shelf.hw.printer",
                 "kiosk.shelf.publisher", "kiosk.shelf.sync_cli", "kiosk.shelf.preview", "kiosk.core.printouts", "kiosk.core.followup",
                 "kiosk.shelf.simulate", "kiosk.shelf.example", "kiosk.shelf.doctor", "kiosk.shelf.doctor.cli", "kiosk.cli", "kiosk.shelf.watchdog"]
CENTRAL_MODULES = ["kiosk.central.cli", "kiosk.central.collector", "kiosk.central.store", "kiosk.central.report",
                   "kiosk.central.summaries", "kiosk.central.backup",
                   "kiosk.central.web.app", "kiosk.central.web.views", "kiosk.central.web.cli",
                   "kiosk.central.delivery.worker", "kiosk.central.delivery.send", "kiosk.central.delivery.cli",
                   "kiosk.central.delivery.config", "kiosk.central.clock_alerts", "kiosk.central.doctor", "kiosk.cli"]


@pytest.fixture(scope="module")
def wheel_metadata(tmp_path_factory) -> dict[str, list[str]]:
    """{extra or "": [requirement names]} from the METADATA of the wheel built from this checkout."""
    tmp = tmp_path_factory.mktemp("roles-wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "kiosk", src / "kiosk", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp / "dist"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(src)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [whl] = out.glob("*.whl")
    with zipfile.ZipFile(whl) as z:
        [meta_name] = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(z.read(meta_name).decode("utf-8"))
    roles: dict[str, list[str]] = {"": []}
    for extra in meta.get_all("Provides-Extra") or []:
        roles[extra] = []
    for line in meta.get_all("Requires-Dist") or []:
        req = Requirement(line)
        extra = next((e for e in roles if e and req.marker and req.marker.evaluate({"extra": e})
                      and not req.marker.evaluate({"extra": ""})), "")
        roles[extra].append(canonicalize_name(req.name))
    return roles


def test_each_role_requires_its_own_packages_and_none_of_the_others(wheel_metadata):
    base, kiosk_extra, central_extra = wheel_metadata[""], wheel_metadata["kiosk"], wheel_metadata["central"]
    assert set(base) == BASE, base
    assert set(KIOSK_ONLY.values()) <= set(kiosk_extra), kiosk_extra
    assert set(CENTRAL_ONLY.values()) <= set(central_extra), central_extra
    assert not set(kiosk_extra) & set(CENTRAL_ONLY.values())
    assert not set(central_extra) & set(KIOSK_ONLY.values())
    assert "lgpio" in wheel_metadata["pi"]
    # dev (tests, benchmarks) is both roles plus the tools; `test` is its old name
    assert "returpost-kiosk" in wheel_metadata["dev"] and "pytest" in wheel_metadata["dev"]
    assert wheel_metadata["test"] == ["returpost-kiosk"]


def test_paho_is_pinned_exactly_where_the_lean_client_reads_its_internals():
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [paho] = [Requirement(d) for d in deps if d.startswith("paho-mqtt")]
    [spec] = list(paho.specifier)
    assert spec.operator == "==" and spec.version == metadata.version("paho-mqtt")


def _imported(modules: list[str], forbidden: list[str], env: dict | None = None) -> dict:
    code = textwrap.dedent(f"""
        import importlib, json, sys
        for m in {modules!r}:
            importlib.import_module(m)
        from kiosk.core import config
        config.load(None)
        print(json.dumps({{"forbidden": sorted({{n.split(".")[0] for n in sys.modules}} & set({forbidden!r})),
                          "central": sorted(n for n in sys.modules if n.startswith("kiosk.central"))}}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=ROOT,
                          env={**os.environ, "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1", **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_kiosk_loading_its_config_controller_ui_and_sync_imports_nothing_of_central():
    out = _imported(KIOSK_MODULES, list(CENTRAL_ONLY))
    assert out == {"forbidden": [], "central": []}


def test_central_imports_nothing_of_the_kiosk_hardware_or_ui():
    out = _imported(CENTRAL_MODULES, list(KIOSK_ONLY))
    assert out["forbidden"] == []


def test_the_import_check_sees_a_forbidden_import():
    """The check above can fail: the central web app does import Starlette."""
    out = _imported(["kiosk.central.web.app"], list(CENTRAL_ONLY))
    assert "starlette" in out["forbidden"] and "kiosk.central.web.app" in out["central"]


# -- a fresh venv per role ----------------------------------------------------------------------------

def _closure(names: list[str]) -> set[str]:
    """The installed distributions `names` need, transitively (markers for this machine)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.distribution(name).requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def _fresh_venv(path: Path, dists: set[str]) -> Path:
    """A venv without pip holding exactly `dists` (linked from this venv) and this checkout's `kiosk`."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    here = Path(sysconfig.get_paths()["purelib"])
    for name in dists:
        dist = metadata.distribution(name)
        for f in dist.files or []:
            src = Path(dist.locate_file(f)).resolve()
            try:
                rel = src.relative_to(here)
            except ValueError:
                continue  # scripts in bin/, or outside site-packages
            dst = site / rel
            if src.is_file() and not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(src, dst)
    pkg = site / "kiosk"
    os.symlink(ROOT / "kiosk", pkg)
    return python


def _role(extra: str) -> set[str]:
    meta = metadata.metadata("returpost-kiosk")
    reqs = [Requirement(line) for line in meta.get_all("Requires-Dist") or []]
    return _closure([r.name for r in reqs if r.marker is None or r.marker.evaluate({"extra": extra})])


def _run(python: Path, *args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KIOSK_CONFIG")}
    env.update(KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_HOME=str(cwd / "kivy"))
    return subprocess.run([str(python), *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env,
                          input=stdin)


@pytest.mark.slow
def test_each_role_runs_in_a_fresh_venv_without_the_others_packages(tmp_path):
    kiosk_dists, central_dists = _role("kiosk"), _role("central")
    assert not kiosk_dists & {canonicalize_name(d) for d in CENTRAL_ONLY.values()}, kiosk_dists
    assert not central_dists & {canonicalize_name(d) for d in KIOSK_ONLY.values()}, central_dists

    kpy = _fresh_venv(tmp_path / "kiosk-venv", kiosk_dists)
    cpy = _fresh_venv(tmp_path / "central-venv", central_dists)
    probe = "import importlib.util as u; print(u.find_spec('kivy') is not None, u.find_spec('starlette') is not None)"
    assert _run(kpy, "-c", probe, cwd=tmp_path).stdout.split() == ["True", "False"]
    assert _run(cpy, "-c", probe, cwd=tmp_path).stdout.split() == ["False", "True"]

    # the kiosk: the example day through the simulator, a print preview, the screens' modules
    ex = _run(kpy, "-m", "kiosk", "example", "--out", str(tmp_path / "day"), cwd=tmp_path)
    assert ex.returncode == 0 and "Dag " in ex.stdout, ex.stderr[-3000:]
    ui = _run(kpy, "-c", "import kiosk.shelf.ui.app, kiosk.shelf.runtime, kiosk.shelf.hw.printer, kiosk.shelf.publisher", cwd=tmp_path)
    assert ui.returncode == 0, ui.stderr[-3000:]
    journal = tmp_path / "day" / "journal.db"
    assert journal.is_file()

    # central: the kiosk's journal imported, the follow-up sheet, a web user, the web app's module
    db = tmp_path / "central.db"
    imp = _run(cpy, "-m", "kiosk", "central", "import", str(journal), "--db", str(db), cwd=tmp_path)
    assert imp.returncode == 0, imp.stderr[-3000:]
    assert json.loads(imp.stdout)["stored"] > 0
    rep = _run(cpy, "-m", "kiosk", "report", "--central", str(db), "--format", "json", cwd=tmp_path)
    assert rep.returncode == 0 and json.loads(rep.stdout), rep.stderr[-3000:]
    user = _run(cpy, "-m", "kiosk", "web-user", "add", "lisa", "--role", "tl", "--db", str(db), cwd=tmp_path,
                stdin="ett långt lösenord\n")
    assert user.returncode == 0, user.stderr[-3000:]
    assert "lisa" in _run(cpy, "-m", "kiosk", "web-user", "list", "--db", str(db), cwd=tmp_path).stdout
    web = _run(cpy, "-c", "import kiosk.central.web.app, kiosk.central.collector, kiosk.central.delivery.worker",
               cwd=tmp_path)
    assert web.returncode == 0, web.stderr[-3000:]

    # a command of the other role says which role it needs, without a traceback
    web_on_kiosk = _run(kpy, "-m", "kiosk", "web", "--db", str(db), cwd=tmp_path)
    devices_on_central = _run(cpy, "-m", "kiosk", "devices", "--simulator", "--json", cwd=tmp_path)
    for proc, role in ((web_on_kiosk, "central"), (devices_on_central, "kiosk")):
        assert proc.returncode == 2, proc.stdout + proc.stderr[-3000:]
        assert f"needs the {role} role" in proc.stderr and f"returpost-kiosk[{role}]" in proc.stderr
        assert "Traceback" not in proc.stderr
