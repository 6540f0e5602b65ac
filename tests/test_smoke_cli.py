import subprocess
import sys

from kiosk import cli


def test_example_day_runs_through_the_cli(tmp_path, capsys):
    rc = cli.main(["example", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "Dag 2026-11-23" in out
    assert (tmp_path / "journal.db").exists()
    assert list((tmp_path / "prints").glob("*cover_slip.png"))


def test_module_entry_point_prints_help():
    done = subprocess.run([sys.executable, "-m", "kiosk", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "simulate" in done.stdout
