"""The installed package is the runtime only: the wheel built from this checkout holds no
development tooling (kiosk_dev/, benchmarks, fakes, the local broker, the X driver), and
`kiosk bench` says clearly when the tooling is absent (an installed kiosk)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import kiosk

ROOT = Path(__file__).resolve().parents[1]

# The ten modules of development tooling (contract: "Destination names of moved tooling"), by
# their old in-package names: none of them may be in the wheel, under the old name or the new.
MOVED = {
    "kiosk/bench.py": "kiosk_dev/bench.py",
    "kiosk/watchdog_bench.py": "kiosk_dev/watchdog_bench.py",
    "kiosk/shelf/hw/bench.py": "kiosk_dev/hw_bench.py",
    "kiosk/shelf/hw/fakeinput.py": "kiosk_dev/fakeinput.py",
    "kiosk/sync/bench.py": "kiosk_dev/sync_bench.py",
    "kiosk/sync/localbroker.py": "kiosk_dev/localbroker.py",
    "kiosk/shelf/ui/bench.py": "kiosk_dev/ui_bench.py",
    "kiosk/shelf/ui/driver.py": "kiosk_dev/ui_driver.py",
    "kiosk/shelf/ui/xvfb.py": "kiosk_dev/xvfb.py",
    "kiosk/shelf/ui/screenshots.py": "kiosk_dev/screenshots.py",
}


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> list[str]:
    """Build the wheel from a copy of the checkout (no build/ or egg-info left in the tree)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pkg in ("kiosk", "kiosk_dev"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=ignore)
    out = tmp / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("returpost_kiosk-*.whl")
    assert wheel.name.startswith(f"returpost_kiosk-{kiosk.__version__}-"), wheel.name
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def test_wheel_holds_the_runtime_and_no_development_tooling(wheel_names):
    # the runtime is there (so an empty or broken wheel cannot pass)
    for needed in ("kiosk/__init__.py", "kiosk/cli.py", "kiosk/core/routine.py", "kiosk/core/default_config.toml",
                   "kiosk/shelf/examples/example-day.jsonl", "kiosk/shelf/hw/__init__.py",
                   "kiosk/central/web/templates/base.html", "kiosk/central/web/static/htmx.min.js"):  # web
        assert needed in wheel_names, needed
    assert not [n for n in wheel_names if n.startswith("kiosk_dev/")]
    assert not [n for n in wheel_names if n.split("/")[0] == "tests"]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_moved_tooling_is_not_in_the_wheel(wheel_names, old):
    assert (ROOT / MOVED[old]).is_file()  # it lives on, in the checkout
    assert old not in wheel_names, f"{old} ships in the wheel: move it to {MOVED[old]}"
    assert MOVED[old] not in wheel_names


def test_wheel_metadata_carries_the_single_sourced_version(wheel_names):
    assert f"returpost_kiosk-{kiosk.__version__}.dist-info/METADATA" in wheel_names


@pytest.mark.parametrize("command, module", [("bench", "bench"), ("screenshots", "screenshots")])
def test_dev_commands_without_development_tools_say_so(tmp_path, command, module):
    """An installed kiosk (kiosk/ outside a checkout, no kiosk_dev): a clear message, exit 2."""
    shutil.copytree(ROOT / "kiosk", tmp_path / "kiosk", ignore=shutil.ignore_patterns("__pycache__"))
    # -S: site-packages without their .pth files (added to the path by hand), so the installed
    # packages are there but neither the editable install nor the checkout's kiosk_dev .pth is
    import sysconfig

    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    code = (f"import sys; sys.path[1:1] = {paths!r}; import kiosk; from kiosk.cli import main; "
            f"print(kiosk.__file__); sys.exit(main([{command!r}]))")
    proc = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout.strip() == str(tmp_path / "kiosk" / "__init__.py"), proc.stderr
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "development tools" in proc.stderr and f"kiosk_dev.{module}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bench_from_a_checkout_finds_the_tools(tmp_path):
    """The venv (an editable install), run outside the checkout, still finds kiosk_dev beside kiosk/."""
    code = "from kiosk.shelf.devtools import dev_module; print(dev_module('bench').__file__)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(ROOT / "kiosk_dev" / "bench.py")


def test_constraints_pin_every_runtime_dependency_as_tested():
    """constraints.txt holds the closure of the runtime dependencies at the versions installed in
    this venv (scripts/setup installs with it): a dependency added without a pin fails here."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/constraints.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    pins = {line.split("==")[0] for line in (ROOT / "constraints.txt").read_text().splitlines()
            if "==" in line and not line.startswith("#")}
    for needed in ("kivy", "evdev", "gpiozero", "python-escpos", "sqlite-utils", "paho-mqtt", "pillow", "lgpio",
                   "starlette", "psycopg", "apprise", "holidays", "pytest-xdist"):
        assert needed in pins, needed
