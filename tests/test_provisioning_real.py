"""The installer's real mode (no --root), run in a private mount namespace.

/etc is a copy (so useradd, usermod and chown act for real on the copy's passwd and group
files), /opt, /var/lib and /boot are empty folders, all bind-mounted in a namespace that ends
with the test: the machine itself is not touched. What is faked: systemctl and udevadm (no
systemd runs here; the fakes record their calls and keep the enabled state), apt (skipped with
--no-packages) and the venv's pip (a stub python records the pip calls: pip needs the network
and minutes). Root and `unshare` are needed; elsewhere the test is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "provisioning" / "install.sh"

SCRIPT = r'''
set -euo pipefail
T=$1; shift
mount --make-rprivate /
cp -a /etc "$T/etc"
mkdir -p "$T/opt" "$T/varlib" "$T/boot/firmware" "$T/bin" "$T/enabled"
mount --bind "$T/etc" /etc
mount --bind "$T/opt" /opt
mount --bind "$T/varlib" /var/lib
mount --bind "$T/boot" /boot
printf '[all]\ndtoverlay=vc4-kms-v3d\n' > /boot/firmware/config.txt
echo "console=tty1 root=PARTUUID=1-02 rootwait" > /boot/firmware/cmdline.txt
touch "$T/enabled/getty@tty1.service"
groupadd -f input; groupadd -f gpio

cat > "$T/bin/systemctl" <<EOF
#!/bin/bash
echo "systemctl \$*" >> "$T/systemctl.log"
args=(); for a in "\$@"; do [ "\$a" = --quiet ] || args+=("\$a"); done
case "\${args[0]}" in
    is-enabled) [ -e "$T/enabled/\${args[1]}" ] ;;
    enable) touch "$T/enabled/\${args[1]}" ;;
    disable) rm -f "$T/enabled/\${args[1]}" ;;
    is-active) exit 3 ;;
    *) exit 0 ;;
esac
EOF
cat > "$T/bin/udevadm" <<EOF
#!/bin/bash
echo "udevadm \$*" >> "$T/udevadm.log"
EOF
cat > "$T/venv-python" <<EOF
#!/bin/bash
if [ "\$1 \$2" = "-m pip" ]; then echo "pip \$*" >> "$T/pip.log"; exit 0; fi
exec "$PYTHON" "\$@"
EOF
cat > "$T/bin/python3" <<EOF
#!/bin/bash
if [ "\$1 \$2" = "-m venv" ]; then
    mkdir -p "\$3/bin"
    cp "$T/venv-python" "\$3/bin/python"
    chmod +x "\$3/bin/python"
    exit 0
fi
exec "$PYTHON" "\$@"
EOF
chmod +x "$T/bin/"*
export PATH="$T/bin:$PATH"
USER_NAME=$1; shift
for run in 1 2; do
    bash "$INSTALL" "$@" > "$T/run$run.out" 2>&1
done
{
    getent passwd "$USER_NAME"
    id -nG "$USER_NAME"
    # shellcheck disable=SC2086
    stat -c '%U:%G %a %n' $FACTS
} > "$T/facts.txt"
'''


def _can_unshare() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


def run_in_namespace(tmp_path: Path, user: str, facts: list[str], *args: str) -> tuple[str, str]:
    python = sys.executable  # stands in for the kiosk's venv python (it has the project's packages)
    env = {**os.environ, "PYTHON": python, "INSTALL": str(INSTALL), "FACTS": " ".join(facts)}
    done = subprocess.run(["unshare", "-m", "bash", "-c", SCRIPT, "script", str(tmp_path), user, *args],
                          capture_output=True, text=True, env=env, timeout=180)
    out1 = (tmp_path / "run1.out").read_text() if (tmp_path / "run1.out").exists() else ""
    out2 = (tmp_path / "run2.out").read_text() if (tmp_path / "run2.out").exists() else ""
    assert done.returncode == 0, done.stderr + out1 + out2
    return out1, out2


needs_namespace = pytest.mark.skipif(not _can_unshare(), reason="needs root and mount namespaces")


@needs_namespace
def test_real_mode_kiosk_in_a_private_namespace(tmp_path):
    out1, out2 = run_in_namespace(
        tmp_path, "kiosk",
        ["/etc/returpost-kiosk", "/etc/returpost-kiosk/config.toml", "/etc/returpost-kiosk/install.conf",
         "/var/lib/returpost-kiosk", "/etc/systemd/system/returpost-kiosk.service",
         "/opt/returpost-kiosk/venv/.installed"],
        "kiosk", "--no-packages", "--site", "sthlm", "--kiosk-id", "k1", "--broker-host", "b.example",
        "--scanner", "05e0:1200", "--printer", "usb:0416:5011", "--display", "td2")

    # first run: the user, the files with their owners, the units enabled after a reload
    assert "install: created user kiosk" in out1
    assert "done: 0 changes" not in out1
    facts = (tmp_path / "facts.txt").read_text().splitlines()
    assert facts[0].startswith("kiosk:x:") and facts[0].endswith(":/var/lib/returpost-kiosk:/usr/sbin/nologin")
    groups = set(facts[1].split())
    assert {"kiosk", "input", "gpio"} <= groups
    for g in ("video", "lp", "dialout", "render"):
        exists = subprocess.run(["getent", "group", g], capture_output=True).returncode == 0
        assert (g in groups) == exists, (g, groups)
    stats = {line.split()[2]: line.split()[:2] for line in facts[2:]}
    assert stats["/etc/returpost-kiosk"] == ["root:kiosk", "750"]
    assert stats["/etc/returpost-kiosk/config.toml"] == ["root:kiosk", "640"]
    config = (tmp_path / "etc/returpost-kiosk/config.toml").read_text()  # validated by the venv's python
    assert 'site = "sthlm"' in config and 'host = "b.example"' in config
    assert stats["/etc/returpost-kiosk/install.conf"] == ["root:kiosk", "640"]
    assert stats["/var/lib/returpost-kiosk"] == ["kiosk:kiosk", "750"]
    assert stats["/etc/systemd/system/returpost-kiosk.service"] == ["root:root", "644"]
    calls = (tmp_path / "systemctl.log").read_text().splitlines()
    first = calls[: next(i for i, c in enumerate(calls) if "getty" in c and "disable" in c) + 1]
    assert first.index("systemctl daemon-reload") < first.index("systemctl enable --quiet returpost-kiosk.service")
    assert "systemctl disable --quiet getty@tty1.service" in calls
    pip = (tmp_path / "pip.log").read_text().splitlines()
    assert any("install -q -c /opt/returpost-kiosk/src/constraints.txt /opt/returpost-kiosk/src[kiosk,pi]" in p for p in pip)
    assert (tmp_path / "udevadm.log").read_text().startswith("udevadm control --reload")
    assert "reboot" in out1                          # the boot config changed

    # second run: nothing to do, nothing reinstalled, nothing re-enabled
    assert out2.rstrip().endswith("install: done: 0 changes"), out2
    assert calls.count("systemctl enable --quiet returpost-kiosk.service") == 1
    assert calls.count("systemctl daemon-reload") == 1
    assert len([p for p in pip if "src[kiosk,pi]" in p]) == 1
    # the machine's own files were not touched
    assert subprocess.run(["getent", "passwd", "kiosk"], capture_output=True).returncode != 0
    assert not Path("/etc/returpost-kiosk").exists() and not Path("/opt/returpost-kiosk").exists()


@needs_namespace
@pytest.mark.skipif(subprocess.run(["getent", "passwd", "mosquitto"], capture_output=True).returncode != 0,
                    reason="needs the mosquitto user (Debian package mosquitto)")
def test_real_mode_central_in_a_private_namespace(tmp_path):
    out1, out2 = run_in_namespace(
        tmp_path, "returpost",
        ["/etc/returpost-kiosk/config.toml", "/etc/returpost-kiosk/central/users.txt",
         "/etc/mosquitto/returpost/passwd", "/etc/mosquitto/returpost/acl",
         "/etc/mosquitto/returpost/certs/server.key", "/etc/mosquitto/returpost/certs/ca.crt",
         "/var/lib/returpost-central"],
        "central", "--no-packages", "--broker-name", "broker.example", "--kiosk", "sthlm/k1")
    facts = (tmp_path / "facts.txt").read_text().splitlines()
    assert facts[0].startswith("returpost:x:") and "/usr/sbin/nologin" in facts[0]
    stats = {line.split()[2]: line.split()[:2] for line in facts[2:]}
    assert stats["/etc/returpost-kiosk/config.toml"] == ["root:returpost", "640"]
    assert stats["/etc/returpost-kiosk/central/users.txt"] == ["root:root", "600"]
    assert stats["/etc/mosquitto/returpost/passwd"] == ["mosquitto:mosquitto", "640"]
    assert stats["/etc/mosquitto/returpost/acl"] == ["mosquitto:mosquitto", "640"]
    assert stats["/etc/mosquitto/returpost/certs/server.key"] == ["mosquitto:mosquitto", "600"]
    assert stats["/etc/mosquitto/returpost/certs/ca.crt"] == ["root:root", "644"]
    assert stats["/var/lib/returpost-central"] == ["returpost:returpost", "750"]
    calls = (tmp_path / "systemctl.log").read_text().splitlines()
    assert calls.count("systemctl restart mosquitto.service") == 1      # first run only
    assert calls.count("systemctl enable --quiet returpost-central.service") == 1
    assert "restarted mosquitto" in out1
    assert out2.rstrip().endswith("install: done: 0 changes"), out2
    assert not Path("/etc/returpost-kiosk").exists()
