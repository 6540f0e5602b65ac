"""Write constraints.txt: every dependency of the project (the closure of pyproject's
`dependencies` and of every extra: the roles `kiosk` and `central`, `pi`, `dev`; markers honoured)
pinned to the version installed in this venv, so each role installs the versions the tests ran with.

    .venv/bin/python scripts/constraints.py          # rewrite constraints.txt
    .venv/bin/python scripts/constraints.py --check  # exit 1 when it is missing a dependency or stale

scripts/setup and the installer install with `-c constraints.txt`, so every kiosk gets the
versions the tests ran with. After adding a dependency to pyproject: install it, run this.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "constraints.txt"
# Every extra is pinned beside the base (an extra naming the project itself, `dev` = both roles and
# the test tools, is followed into the extras it names). Packages that are not installed here
# (lgpio only builds on a Pi) are kept at the version already in constraints.txt.
PROJECT = "returpost-kiosk"
NOT_PINNED = {"pip"}  # the installer's tool, upgraded on its own


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        reqs += [r for r in map(Requirement, extra) if canonicalize_name(r.name) != PROJECT]
    return reqs


def closure() -> tuple[dict[str, str], list[str]]:
    """({name: installed version}, [names required but not installed here])."""
    pinned: dict[str, str] = {}
    absent: list[str] = []
    todo = list(runtime_requirements())
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name in pinned or name in absent:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            absent.append(name)
            continue
        pinned[name] = dist.version
        for sub in dist.requires or []:
            r = Requirement(sub)
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                todo.append(Requirement(str(r).split(";")[0]))
    return pinned, absent


def existing() -> dict[str, str]:
    out = {}
    if OUT.exists():
        for line in OUT.read_text().splitlines():
            line = line.split("#")[0].strip()
            if "==" in line:
                name, version = line.split("==", 1)
                out[canonicalize_name(name)] = version.strip()
    return out


def render() -> str:
    pinned, absent = closure()
    old = existing()
    lines = ["# Every runtime dependency pinned (scripts/constraints.py writes this from the tested venv).",
             "# Used by scripts/setup and provisioning/install.sh: pip install -c constraints.txt ..."]
    for name in sorted(pinned):
        if name not in NOT_PINNED:
            lines.append(f"{name}=={pinned[name]}")
    for name in sorted(absent):
        if name in old:
            lines.append(f"{name}=={old[name]}  # not installable here (Pi only): kept")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            print("constraints.txt is stale: run .venv/bin/python scripts/constraints.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
