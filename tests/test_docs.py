"""The documentation as a reader meets it: README.md is a front door, every link in it and in
docs/ leads to a file of the repository, nothing sends a reader outside the repository to
`shared/`, and no issue numbers stand in code or docs."""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
COPIES = {"design.md"}  # kept in step with where it came from, word for word
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)|src=\"([^\"]+)\"")


def tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / line for line in out.splitlines() if (ROOT / line).is_file()]


def test_readme_is_a_front_door_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    assert "scripts/run " in text and "scripts/test " in text
    for doc in ("install.md", "operator-guide.sv.md", "tl-guide.sv.md", "architecture.md", "sync.md",
                "central-operations.md", "benchmarks.md", "design.md", "routine-returpost.sv.txt"):
        assert f"(docs/{doc})" in text, doc


def test_every_relative_link_leads_to_a_file():
    broken = []
    for page in [ROOT / "README.md", *DOCS]:
        for m in LINK.finditer(page.read_text(encoding="utf-8")):
            target = m.group(1) or m.group(2)
            if re.match(r"[a-z]+:", target):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken


def test_nothing_sends_a_reader_to_shared_or_cites_an_issue_number():
    found = []
    issue = re.compile(r"\bissues? #?\d+", re.I)
    for path in tracked():
        if path.suffix not in {".py", ".md", ".toml", ".sh", ".txt", ".service", ".cfg", ".conf", ""}:
            continue
        if path.name in COPIES or path.name == "routine-returpost.sv.txt" or path == Path(__file__):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if "shared/DESIGN" in line or "shared/routine" in line or issue.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert not found, found
